package main

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/glyphs"
	"github.com/urfave/cli/v2"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "train on built-in procedural glyphs (no data needed) and show 20-way one-shot accuracy before and after",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "duration", Value: time.Minute, Usage: "training time (1s to 1000h)", Action: durationIn("duration", time.Second, 1000*time.Hour)},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "also save the model here"},
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			quiet := c.Bool("json")
			say := func(format string, a ...any) {
				if !quiet {
					fmt.Fprintf(c.App.Writer, format, a...)
				}
			}
			say("Making the built-in glyph data set (procedural strokes, %d train classes, 100 unseen test classes)...\n", 400)
			dom, err := glyphs.Open(glyphs.Options{Seed: c.Uint64("seed")})
			if err != nil {
				return err
			}
			desc := dom.Describe()
			m, err := core.New(desc.Spec, desc.Preprocess, c.Uint64("seed"))
			if err != nil {
				return err
			}
			m.Info.Domain = desc.Name
			eps, err := dom.Episodes(c.Context, "test20")
			if err != nil {
				return err
			}
			before, err := metrics.Identify(c.Context, m, eps, nil)
			if err != nil {
				return err
			}
			say("Training a %s tower with a %s head for %s on %d cores...\n", desc.Spec.Tower+" (small)", desc.Spec.Head, c.Duration("duration"), runtime.NumCPU())
			tr := &train.Trainer{Model: m, Domain: dom, Log: slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})),
				Config: train.Config{Duration: c.Duration("duration"), Seed: c.Uint64("seed"), Items: 64, Pairs: 128, Augment: true}}
			progress, done := trainBar(c, quiet)
			tr.OnProgress = progress
			res, err := tr.Run(c.Context)
			done()
			if err != nil {
				return err
			}
			if _, err := metrics.Calibrate(c.Context, m, dom, "val20", 0); err != nil {
				return err
			}
			after, v, err := metrics.Evaluate(c.Context, m, eps, nil)
			if err != nil {
				return err
			}
			if out := c.String("out"); out != "" {
				if err := m.Save(out); err != nil {
					return err
				}
			}
			if quiet {
				return printJSON(c, map[string]any{"before": before.Accuracy, "after": after.Accuracy, "chance": after.Chance,
					"trials": after.Trials, "steps": res.Steps, "pairs": res.Pairs, "seconds": res.Seconds, "eer": v.EER, "auc": v.AUC})
			}
			fmt.Fprintf(c.App.Writer, "\n20-way one-shot accuracy on %d unseen glyph classes (%d trials):\n", 100, after.Trials)
			fmt.Fprintf(c.App.Writer, "  chance           %5.1f%%\n", 100*after.Chance)
			fmt.Fprintf(c.App.Writer, "  before training  %5.1f%%\n", 100*before.Accuracy)
			fmt.Fprintf(c.App.Writer, "  after training   %5.1f%%   (%d steps, %d pairs, %.0f s)\n", 100*after.Accuracy, res.Steps, res.Pairs, res.Seconds)
			fmt.Fprintf(c.App.Writer, "Verification of the same pairs: ROC AUC %.3f, EER %.1f%%\n", v.AUC, 100*v.EER)
			return nil
		},
	}
}
