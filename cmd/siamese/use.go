package main

import (
	"log/slog"

	"fmt"
	"github.com/siamesenet/siamese/towers/text"
	"os"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/urfave/cli/v2"
)

// readItem decodes a user's file with the model's preprocessing.
func readItem(m *core.Model, path string) (core.Item, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return core.Item{}, err
	}
	switch m.Preprocess.Kind {
	case "image":
		img, err := imageset.Decode(raw)
		if err != nil {
			return core.Item{}, fmt.Errorf("%s: %w", path, err)
		}
		if err := imageset.CheckFits(img, m.Preprocess); err != nil {
			return core.Item{}, fmt.Errorf("%s: %w", path, err)
		}
		x, err := imageset.Prepare(img, m.Preprocess)
		if err != nil {
			return core.Item{}, fmt.Errorf("%s: %w", path, err)
		}
		return core.Item{Dense: x}, nil
	case "text":
		feat, err := text.FeaturizerOf(m.Preprocess)
		if err != nil {
			return core.Item{}, err
		}
		bag, truncated, err := feat.Features(string(raw))
		if err != nil {
			return core.Item{}, fmt.Errorf("%s: %w", path, err)
		}
		if truncated {
			slog.Warn("text truncated", "file", path, "bytes", len(raw), "kept", text.MaxBytes)
		}
		return core.Item{Bag: bag}, nil
	}
	return core.Item{}, fmt.Errorf("%s: this build cannot decode inputs of kind %q", path, m.Preprocess.Kind)
}

func modelFlag() cli.Flag {
	return &cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: true, Usage: "model file"}
}

func embedCommand() *cli.Command {
	return &cli.Command{
		Name:      "embed",
		Usage:     "print the embedding of each file",
		ArgsUsage: "FILE...",
		Flags:     []cli.Flag{modelFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return fmt.Errorf("embed: give at least one file")
			}
			m, err := core.Load(c.String("model"))
			if err != nil {
				return err
			}
			defer m.Close()
			var items []core.Item
			for _, f := range c.Args().Slice() {
				it, err := readItem(m, f)
				if err != nil {
					return err
				}
				items = append(items, it)
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
				return printJSON(rows)
			}
			for i, f := range c.Args().Slice() {
				var sb strings.Builder
				for j, v := range emb[i] {
					if j > 0 {
						sb.WriteByte(' ')
					}
					fmt.Fprintf(&sb, "%.6g", v)
				}
				fmt.Printf("%s\t%s\n", f, sb.String())
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
		Flags:     []cli.Flag{modelFlag(), thresholdFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("compare: give exactly two files, got %d", c.NArg())
			}
			m, err := loadModel(c)
			if err != nil {
				return err
			}
			defer m.Close()
			a, err := readItem(m, c.Args().Get(0))
			if err != nil {
				return err
			}
			b, err := readItem(m, c.Args().Get(1))
			if err != nil {
				return err
			}
			s, err := m.Compare(c.Context, a, b)
			if err != nil {
				return err
			}
			verdict := "different"
			if m.Same(s) {
				verdict = "same"
			}
			if c.Bool("json") {
				return printJSON(map[string]any{"a": c.Args().Get(0), "b": c.Args().Get(1), "score": s, "threshold": m.Threshold, "verdict": verdict})
			}
			fmt.Printf("score %.4f (threshold %.4f): %s\n", s, m.Threshold, verdict)
			return nil
		},
	}
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "describe a model file",
		ArgsUsage: "MODEL",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("info: give one model file")
			}
			m, err := core.Load(c.Args().First())
			if err != nil {
				return err
			}
			n := core.CountParams(m.Params())
			if c.Bool("json") {
				return printJSON(map[string]any{"spec": m.Spec, "input": m.Tower.Input(), "output": m.Tower.Output(),
					"params": n, "preprocess": m.Preprocess, "threshold": m.Threshold, "info": m.Info, "format_version": core.FormatVersion})
			}
			fmt.Printf("tower      %s %s\n", m.Spec.Tower, string(m.Spec.TowerConfig))
			fmt.Printf("head       %s %s\n", m.Spec.Head, string(m.Spec.HeadConfig))
			fmt.Printf("input      %s %v → embedding %v\n", m.Tower.Input().Kind, m.Tower.Input().Shape, m.Tower.Output())
			fmt.Printf("params     %d\n", n)
			fmt.Printf("preprocess %+v\n", m.Preprocess)
			fmt.Printf("threshold  %.4f\n", m.Threshold)
			fmt.Printf("trained    domain %s, %d steps, %d pairs, %.0f s, seed %d, loss %.4f\n", m.Info.Domain, m.Info.Steps, m.Info.Pairs, m.Info.Seconds, m.Info.Seed, m.Info.LastLoss)
			for k, v := range m.Info.Metrics {
				fmt.Printf("metric     %s = %.4f\n", k, v)
			}
			return nil
		},
	}
}
