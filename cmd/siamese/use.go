package main

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/urfave/cli/v2"
)

// decoderOf is how a model's inputs are decoded: by the decoder its input
// kind registered, or else (a plugin's own kind) by its domain's Decode.
func decoderOf(c *cli.Context, m *core.Model) (core.Decoder, error) {
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if !errors.Is(err, core.ErrUnknownKind) || m.Info.Domain == "" {
		return dec, err
	}
	return openModelDomain(c, m)
}

// readItems decodes users' files for a model.
func readItems(c *cli.Context, m *core.Model, files []string) ([]core.Item, error) {
	if len(files) == 0 {
		return nil, nil
	}
	dec, err := decoderOf(c, m)
	if err != nil {
		return nil, err
	}
	items := make([]core.Item, len(files))
	skip := c.Bool("skip-bad")
	for i, f := range files {
		raw, err := os.ReadFile(f) // its error names the file
		if err == nil {
			if items[i], err = dec.Decode(raw); err != nil {
				err = fmt.Errorf("%s: %w", f, err)
			}
		}
		if err != nil && skip {
			slog.Warn("skipped", "error", err)
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return items, nil
}

// dropBad removes the files readItems skipped (their items are empty).
func dropBad(files []string, items []core.Item) ([]string, []core.Item) {
	var fs []string
	var its []core.Item
	for i, it := range items {
		if it.Dense != nil || it.Bag != nil {
			fs, its = append(fs, files[i]), append(its, it)
		}
	}
	return fs, its
}

func modelFlag() cli.Flag {
	return &cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: true, Usage: "model file"}
}

func embedCommand() *cli.Command {
	return &cli.Command{
		Name:      "embed",
		Usage:     "print the embedding of each file",
		ArgsUsage: "FILE...",
		Flags:     []cli.Flag{modelFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("embed: give at least one file")
			}
			m, err := core.Load(c.String("model"))
			if err != nil {
				return err
			}
			defer m.Close()
			items, err := readItems(c, m, c.Args().Slice())
			if err != nil {
				return err
			}
			emb, err := m.Embed(c.Context, items, 0)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				type row struct {
					File      string    `json:"file"`
					Embedding []float32 `json:"embedding"`
				}
				var rows []row
				for i, f := range c.Args().Slice() {
					rows = append(rows, row{f, emb[i]})
				}
				return printJSON(c, rows)
			}
			for i, f := range c.Args().Slice() {
				var sb strings.Builder
				for j, v := range emb[i] {
					if j > 0 {
						sb.WriteByte(' ')
					}
					fmt.Fprintf(&sb, "%.6g", v)
				}
				fmt.Fprintf(c.App.Writer, "%s\t%s\n", f, sb.String())
			}
			return nil
		},
	}
}

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "score two files and say whether they are the same class",
		ArgsUsage: "A B",
		Flags:     []cli.Flag{modelFlag(), thresholdFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("compare: give exactly two files, got %d", c.NArg())
			}
			m, err := loadModel(c)
			if err != nil {
				return err
			}
			defer m.Close()
			items, err := readItems(c, m, c.Args().Slice())
			if err != nil {
				return err
			}
			s, err := m.Compare(c.Context, items[0], items[1])
			if err != nil {
				return err
			}
			verdict := "different"
			if m.Same(s) {
				verdict = "same"
			}
			if c.Bool("json") {
				return printJSON(c, map[string]any{"a": c.Args().Get(0), "b": c.Args().Get(1), "score": s, "threshold": m.Threshold, "verdict": verdict})
			}
			fmt.Fprintf(c.App.Writer, "score %.4f (threshold %.4f): %s\n", s, m.Threshold, verdict)
			return nil
		},
	}
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "describe a model file",
		ArgsUsage: "MODEL",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("info: give one model file")
			}
			m, err := core.Load(c.Args().First())
			if err != nil {
				return err
			}
			n := core.CountParams(m.Params())
			w := c.App.Writer
			if c.Bool("json") {
				return printJSON(c, map[string]any{"calibration": m.Info.Calibration, "spec": m.Spec, "input": m.Tower.Input(), "output": m.Tower.Output(),
					"params": n, "assets": core.CountParams(m.Assets), "preprocess": m.Preprocess, "threshold": m.Threshold, "info": m.Info, "format_version": core.FormatVersion})
			}
			fmt.Fprintf(c.App.Writer, "tower      %s %s\n", m.Spec.Tower, string(m.Spec.TowerConfig))
			fmt.Fprintf(c.App.Writer, "head       %s %s\n", m.Spec.Head, string(m.Spec.HeadConfig))
			fmt.Fprintf(c.App.Writer, "input      %s %v → embedding %v\n", m.Tower.Input().Kind, m.Tower.Input().Shape, m.Tower.Output())
			fmt.Fprintf(c.App.Writer, "params     %d\n", n)
			if len(m.Assets) > 0 {
				fmt.Fprintf(w, "assets     %d tensors, %d values (what the input kind needs: a face detector's weights)\n", len(m.Assets), core.CountParams(m.Assets))
			}
			fmt.Fprintf(c.App.Writer, "preprocess %+v\n", m.Preprocess)
			if cal := m.Info.Calibration; cal != nil {
				fmt.Fprintf(w, "threshold  %.4f (calibrated at the %s on %d pairs of %s)\n", m.Threshold, calText(cal), cal.Pairs, cal.Task)
			} else {
				fmt.Fprintf(w, "threshold  %.4f (not calibrated)\n", m.Threshold)
			}
			fmt.Fprintf(c.App.Writer, "trained    domain %s, %d steps, %d pairs, %.0f s, seed %d, loss %.4f\n", m.Info.Domain, m.Info.Steps, m.Info.Pairs, m.Info.Seconds, m.Info.Seed, m.Info.LastLoss)
			for k, v := range m.Info.Metrics {
				fmt.Fprintf(c.App.Writer, "metric     %s = %.4f\n", k, v)
			}
			return nil
		},
	}
}

func calText(c *core.Calibration) string {
	if c.At == "far" {
		return fmt.Sprintf("false-accept rate %g", c.FAR)
	}
	return "equal-error rate"
}

// Face is one item found in a file: where it is (nil for a decoder that
// takes the whole file) and its embedding.
type Face struct {
	File  string
	Box   *image.Rectangle
	Score float64
	Emb   []float32
}

// boxJSON is a box as x, y, width, height.
type boxJSON struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

func toBoxJSON(r *image.Rectangle) *boxJSON {
	if r == nil {
		return nil
	}
	return &boxJSON{r.Min.X, r.Min.Y, r.Dx(), r.Dy()}
}

// findFiles embeds every item found in files: each face of a photo for a
// model whose decoder is a core.Finder, else one item per file. A file
// the decoder refuses (no face, not an image) is an error naming it, or
// with --skip-bad a warning.
func findFiles(c *cli.Context, m *core.Model, files []string) ([]Face, error) {
	dec, err := decoderOf(c, m)
	if err != nil {
		return nil, err
	}
	var out []Face
	var items []core.Item
	for _, f := range files {
		raw, err := os.ReadFile(f)
		var found []core.Found
		if err == nil {
			if found, err = core.FindItems(dec, raw); err != nil {
				err = fmt.Errorf("%s: %w", f, err)
			}
		}
		if err != nil && c.Bool("skip-bad") {
			slog.Warn("skipped", "error", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, fd := range found {
			face := Face{File: f, Score: fd.Score}
			if !fd.Whole {
				box := fd.Box
				face.Box = &box
			}
			out = append(out, face)
			items = append(items, fd.Item)
		}
	}
	embs, err := m.Embed(c.Context, items, 0)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Emb = embs[i]
	}
	return out, nil
}

// withDetect applies --detect (auto, on or off) to a model whose items are
// found in larger inputs.
func withDetect(c *cli.Context, m *core.Model) {
	if !c.IsSet("detect") {
		return
	}
	extra := map[string]string{}
	for k, v := range m.Preprocess.Extra {
		extra[k] = v
	}
	extra["detect"] = c.String("detect")
	m.Preprocess.Extra = extra
}

func detectFlag() cli.Flag {
	return &cli.StringFlag{Name: "detect", Value: "auto", Usage: "find faces in each photo: auto (a small photo with none found is taken whole), on, or off (photos are crops)",
		Action: func(_ *cli.Context, v string) error {
			switch v {
			case "auto", "on", "off":
				return nil
			}
			return fmt.Errorf("--detect %q: want auto, on or off", v)
		}}
}
