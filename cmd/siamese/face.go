package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/urfave/cli/v2"
)

// faceRecipe is face.TrainConfig as the train command's defaults (the
// split stays "train": the validation subjects calibrate the threshold).
func faceRecipe() map[string]any {
	r := face.TrainConfig(800, 1)
	return map[string]any{"items": r.Items, "pairs": r.Pairs, "steps": r.Steps, "lr": r.LR, "weight-decay": r.WeightDecay,
		"schedule": r.Schedule, "augment": r.Augment}
}

// withDomain returns cmd with its --domain flag defaulting to name.
func withDomain(cmd *cli.Command, name string) *cli.Command {
	for _, f := range cmd.Flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Name == "domain" {
			sf.Value = name
		}
	}
	return cmd
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

// enrolment describes the gallery commands of one domain: what an entry
// is called, its flag, its file and its verdict words.
type enrolment struct {
	noun     string // person, writer
	flag     string // name, writer
	item     string // photo, signature
	file     string // default gallery file
	min, max int    // fewest and most images per entry
	yes, no  string // verify's verdicts
	aggFlag  bool   // verify offers --aggregate (default mean)
	listName string // the list/remove command: gallery, references
}

func (e enrolment) galleryFlag() cli.Flag {
	return &cli.StringFlag{Name: "gallery", Aliases: []string{"g"}, Value: e.file, Usage: "gallery file"}
}

func faceCommand() *cli.Command {
	e := enrolment{noun: "person", flag: "name", item: "photo", file: "faces.gallery", max: core.MaxEnroll, yes: "match", no: "no match", listName: "gallery"}
	return &cli.Command{
		Name:  "face",
		Usage: "face recognition: train, evaluate, enroll people from 1–5 photos, identify and verify",
		Subcommands: []*cli.Command{
			withDefaults(withDomain(trainCommand(), "face"), faceRecipe()),
			withDomain(evalCommand(), "face"),
			e.enroll(), e.identify(), e.verify(), e.list(),
		},
	}
}

// enroll adds an entry from 1 to e.max images.
func (e enrolment) enroll() *cli.Command {
	return &cli.Command{
		Name:      "enroll",
		Usage:     fmt.Sprintf("enroll a %s from 1 to %d %ss (no retraining)", e.noun, e.max, e.item),
		ArgsUsage: strings.ToUpper(e.item) + "...",
		Flags: []cli.Flag{modelFlag(), e.galleryFlag(), &cli.StringFlag{Name: e.flag, Required: true, Usage: "the " + e.noun + "'s name"},
			&cli.BoolFlag{Name: "replace", Usage: "replace a " + e.noun + " already enrolled"}, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			m, err := loadModel(c)
			if err != nil {
				return err
			}
			if c.NArg() < max(1, e.min) || c.NArg() > e.max {
				return fmt.Errorf("enroll: give %d to %d %ss, got %d", max(1, e.min), e.max, e.item, c.NArg())
			}
			_, embs, err := embedFiles(c, m, c.Args().Slice())
			if err != nil {
				return err
			}
			name := c.String(e.flag)
			g, err := core.UpdateGallery(c.String("gallery"), m, func(g *core.Gallery) error {
				if e.max != core.MaxEnroll {
					g.MaxImages = e.max
				}
				return g.Enroll(name, embs, c.Bool("replace"))
			})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(map[string]any{"enrolled": name, "images": len(embs), "entries": len(g.People)})
			}
			fmt.Printf("enrolled %s from %d %s(s); %d in %s\n", name, len(embs), e.item, len(g.People), c.String("gallery"))
			return nil
		},
	}
}

// identify names the best match of each image, or says unknown.
func (e enrolment) identify() *cli.Command {
	return &cli.Command{
		Name:      "identify",
		Usage:     "name the " + e.noun + " of each " + e.item + ", or say unknown",
		ArgsUsage: strings.ToUpper(e.item) + "|FOLDER...",
		Flags:     []cli.Flag{modelFlag(), e.galleryFlag(), thresholdFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
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
			for i, em := range embs {
				match, err := g.Identify(m.Head, em, m.Threshold)
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
	}
}

// verify says whether an image is of an enrolled entry.
func (e enrolment) verify() *cli.Command {
	flags := []cli.Flag{modelFlag(), e.galleryFlag(), thresholdFlag(), &cli.StringFlag{Name: e.flag, Required: true, Usage: "the " + e.noun + " the " + e.item + " claims"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON"}}
	if e.aggFlag {
		flags = append(flags, &cli.StringFlag{Name: "aggregate", Usage: "score against the references: mean or max (default: the model's rule)"})
	}
	return &cli.Command{
		Name:      "verify",
		Usage:     fmt.Sprintf("say whether a %s is of an enrolled %s (%s or %s)", e.item, e.noun, e.yes, e.no),
		ArgsUsage: strings.ToUpper(e.item),
		Flags:     flags,
		Action: func(c *cli.Context) error {
			m, err := loadModel(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("verify: give one %s", e.item)
			}
			rule, err := scoreRule(c, m)
			if err != nil {
				return err
			}
			if rule == nil {
				rule = &core.ScoreRule{Aggregate: core.Closest}
			}
			g, err := core.LoadGallery(c.String("gallery"), m)
			if err != nil {
				return err
			}
			name := c.String(e.flag)
			p := g.Find(name)
			if p == nil {
				return fmt.Errorf("verify: no %s named %q in %s", e.noun, name, c.String("gallery"))
			}
			if len(p.Embeddings) == 0 {
				return fmt.Errorf("verify: %s %q has no references", e.noun, name)
			}
			_, embs, err := embedFiles(c, m, c.Args().Slice())
			if err != nil {
				return err
			}
			score, err := g.Score(m.Head, name, embs[0], *rule)
			if err != nil {
				return err
			}
			ok := score >= m.Threshold
			verdict := e.no
			if ok {
				verdict = e.yes
			}
			if c.Bool("json") {
				return printJSON(map[string]any{e.flag: name, "score": score, "threshold": m.Threshold, "match": ok, "verdict": verdict, "aggregate": rule.Aggregate, "normalized": rule.Normalize})
			}
			fmt.Printf("%s: %s (score %.4f, threshold %.4f)\n", name, verdict, score, m.Threshold)
			return nil
		},
	}
}

// list is the list/remove pair of commands.
func (e enrolment) list() *cli.Command {
	return &cli.Command{
		Name:  e.listName,
		Usage: "list or remove enrolled " + e.noun + "s",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Flags: []cli.Flag{e.galleryFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
				Action: func(c *cli.Context) error {
					g, err := core.ReadGallery(c.String("gallery"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(g)
					}
					fmt.Printf("%d enrolled (model %s)\n", len(g.People), g.ModelID)
					for _, p := range g.People {
						fmt.Printf("%s\t%d %s(s)\tenrolled %s\n", p.Name, p.Images, e.item, p.Added.Format("2006-01-02 15:04"))
					}
					return nil
				},
			},
			{
				Name:      "remove",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{modelFlag(), e.galleryFlag()},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("%s remove: give one name", e.listName)
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
	}
}

func signatureCommand() *cli.Command {
	e := enrolment{noun: "writer", flag: "writer", item: "signature", file: "signatures.gallery", min: 2, max: 20, yes: "genuine", no: "forged", aggFlag: true, listName: "references"}
	ev := withDomain(evalCommand(), "signature")
	return &cli.Command{
		Name:  "signature",
		Usage: "signature verification: train, evaluate, enroll a writer's references, verify genuine or forged",
		Subcommands: []*cli.Command{
			withDomain(trainCommand(), "signature"),
			ev,
			e.enroll(), e.verify(), e.list(),
		},
	}
}
