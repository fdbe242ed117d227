package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/urfave/cli/v2"
)

// withDomain returns cmd with its --domain flag defaulting to name.
func withDomain(cmd *cli.Command, name string) *cli.Command {
	for _, f := range cmd.Flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "domain" {
			sf.Value = name
		}
	}
	return cmd
}

func galleryFlag() cli.Flag {
	return &cli.StringFlag{Name: "gallery", Aliases: []string{"g"}, Value: "faces.gallery", Usage: "gallery file"}
}

func thresholdFlag() cli.Flag {
	return &cli.Float64Flag{Name: "threshold", Value: math.NaN(), DefaultText: "the model's", Usage: "decision threshold"}
}

func loadModel(c *cli.Context) (*core.Model, error) {
	m, err := core.Load(c.String("model"))
	if err != nil {
		return nil, err
	}
	if t := c.Float64("threshold"); !math.IsNaN(t) {
		m.Threshold = t
	}
	return m, nil
}

// embedFiles reads and embeds image files (folders are expanded).
func embedFiles(c *cli.Context, m *core.Model, args []string) ([]string, [][]float32, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && imageset.IsImage(e.Name()) {
				files = append(files, filepath.Join(a, e.Name()))
			}
		}
	}
	sort.Strings(files)
	items := make([]core.Item, len(files))
	for i, f := range files {
		it, err := readItem(m, f)
		if err != nil {
			return nil, nil, err
		}
		items[i] = it
	}
	embs, err := m.Embed(c.Context, items, 0)
	return files, embs, err
}

func faceCommand() *cli.Command {
	return &cli.Command{
		Name:  "face",
		Usage: "face recognition: train, evaluate, enroll people from 1–5 photos, identify and verify",
		Subcommands: []*cli.Command{
			withDomain(trainCommand(), "face"),
			withDomain(evalCommand(), "face"),
			{
				Name:      "enroll",
				Usage:     "enroll a person from 1 to 5 photos (no retraining)",
				ArgsUsage: "PHOTO...",
				Flags: []cli.Flag{modelFlag(), galleryFlag(), &cli.StringFlag{Name: "name", Required: true, Usage: "the person's name"},
					&cli.BoolFlag{Name: "replace", Usage: "replace a person already enrolled"}, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					m, err := loadModel(c)
					if err != nil {
						return err
					}
					if c.NArg() < 1 || c.NArg() > core.MaxEnroll {
						return fmt.Errorf("enroll: give 1 to %d photos, got %d", core.MaxEnroll, c.NArg())
					}
					_, embs, err := embedFiles(c, m, c.Args().Slice())
					if err != nil {
						return err
					}
					g, err := core.UpdateGallery(c.String("gallery"), m, func(g *core.Gallery) error {
						return g.Enroll(c.String("name"), embs, c.Bool("replace"))
					})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(map[string]any{"enrolled": c.String("name"), "images": len(embs), "people": len(g.People)})
					}
					fmt.Printf("enrolled %s from %d photo(s); %d people in %s\n", c.String("name"), len(embs), len(g.People), c.String("gallery"))
					return nil
				},
			},
			{
				Name:      "identify",
				Usage:     "name the person in each photo, or say unknown",
				ArgsUsage: "PHOTO|FOLDER...",
				Flags:     []cli.Flag{modelFlag(), galleryFlag(), thresholdFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					m, err := loadModel(c)
					if err != nil {
						return err
					}
					g, err := core.LoadGallery(c.String("gallery"), m)
					if err != nil {
						return err
					}
					if len(g.People) == 0 {
						return fmt.Errorf("gallery %s: %w", c.String("gallery"), core.ErrEmptyGallery)
					}
					files, embs, err := embedFiles(c, m, c.Args().Slice())
					if err != nil {
						return err
					}
					type row struct {
						File string `json:"file"`
						core.Match
					}
					var rows []row
					for i, e := range embs {
						match, err := g.Identify(m.Head, e, m.Threshold)
						if err != nil {
							return err
						}
						rows = append(rows, row{files[i], match})
					}
					if c.Bool("json") {
						return printJSON(rows)
					}
					for _, r := range rows {
						name := r.Name
						if !r.Known {
							name = "unknown (closest: " + r.Name + ")"
						}
						fmt.Printf("%s\t%s\t%.4f\n", r.File, name, r.Score)
					}
					return nil
				},
			},
			{
				Name:      "verify",
				Usage:     "say whether a photo shows an enrolled person",
				ArgsUsage: "PHOTO",
				Flags: []cli.Flag{modelFlag(), galleryFlag(), thresholdFlag(), &cli.StringFlag{Name: "name", Required: true, Usage: "who the photo claims to show"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					m, err := loadModel(c)
					if err != nil {
						return err
					}
					if c.NArg() != 1 {
						return fmt.Errorf("verify: give one photo")
					}
					g, err := core.LoadGallery(c.String("gallery"), m)
					if err != nil {
						return err
					}
					_, embs, err := embedFiles(c, m, c.Args().Slice())
					if err != nil {
						return err
					}
					match, err := g.Verify(m.Head, c.String("name"), embs[0], m.Threshold)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(map[string]any{"name": c.String("name"), "score": match.Score, "threshold": m.Threshold, "match": match.Known})
					}
					verdict := "no match"
					if match.Known {
						verdict = "match"
					}
					fmt.Printf("%s: %s (score %.4f, threshold %.4f)\n", c.String("name"), verdict, match.Score, m.Threshold)
					return nil
				},
			},
			{
				Name:  "gallery",
				Usage: "list or remove enrolled people",
				Subcommands: []*cli.Command{
					{
						Name:  "list",
						Flags: []cli.Flag{galleryFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
						Action: func(c *cli.Context) error {
							g, err := core.ReadGallery(c.String("gallery"))
							if err != nil {
								return err
							}
							if c.Bool("json") {
								return printJSON(g)
							}
							fmt.Printf("%d people (model %s)\n", len(g.People), g.ModelID)
							for _, p := range g.People {
								fmt.Printf("%s\t%d photo(s)\tenrolled %s\n", p.Name, p.Images, p.Added.Format("2006-01-02 15:04"))
							}
							return nil
						},
					},
					{
						Name:      "remove",
						ArgsUsage: "NAME",
						Flags:     []cli.Flag{modelFlag(), galleryFlag()},
						Action: func(c *cli.Context) error {
							if c.NArg() != 1 {
								return fmt.Errorf("gallery remove: give one name")
							}
							m, err := core.Load(c.String("model"))
							if err != nil {
								return err
							}
							_, err = core.UpdateGallery(c.String("gallery"), m, func(g *core.Gallery) error { return g.Remove(c.Args().First()) })
							if err == nil {
								fmt.Printf("removed %s\n", c.Args().First())
							}
							return err
						},
					},
				},
			},
		},
	}
}
