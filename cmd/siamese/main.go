// Command siamese trains, evaluates and uses Siamese networks for one-shot
// similarity learning.
//
//	siamese demo                       # train on built-in glyphs, no data needed
//	siamese train --domain omniglot --data ../shared/data/omniglot -o om.model
//	siamese eval --model om.model --domain omniglot --data ... --task lake20
//	siamese compare --model om.model a.png b.png
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/siamesenet/siamese/core"
	"github.com/urfave/cli/v2"

	// Built-in towers, heads and domains register themselves.
	_ "github.com/siamesenet/siamese/domains/glyphs"
	_ "github.com/siamesenet/siamese/domains/omniglot"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	_ "github.com/siamesenet/siamese/towers/cnn"
	_ "github.com/siamesenet/siamese/towers/mlp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newApp().RunContext(ctx, os.Args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "siamese:", err)
		if errors.Is(err, core.ErrInterrupted) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "siamese",
		Usage: "one-shot similarity learning with Siamese networks",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log debug messages"},
		},
		Before: func(c *cli.Context) error {
			level := slog.LevelWarn
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
			return nil
		},
		Commands: []*cli.Command{
			demoCommand(), trainCommand(), evalCommand(), embedCommand(), compareCommand(), infoCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints the one-line error
	}
}
