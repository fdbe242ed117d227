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
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/plugins"
	"github.com/urfave/cli/v2"

	// Built-in towers, heads and domains register themselves.
	_ "github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/domains/glyphs"
	_ "github.com/siamesenet/siamese/domains/omniglot"
	_ "github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/domains/signature"
	_ "github.com/siamesenet/siamese/domains/tracking"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	_ "github.com/siamesenet/siamese/heads/xcorr"
	_ "github.com/siamesenet/siamese/towers/cnn"
	_ "github.com/siamesenet/siamese/towers/fconv"
	_ "github.com/siamesenet/siamese/towers/mlp"
	_ "github.com/siamesenet/siamese/towers/resnet"
	_ "github.com/siamesenet/siamese/towers/text"
)

func main() { os.Exit(realMain()) }

func realMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// End every plugin process on the way out: on success, error or Ctrl-C.
	defer plugin.CleanupClients()
	app := newApp()
	err := app.RunContext(ctx, os.Args)
	if err != nil {
		reportError(app, os.Args, err)
		if errors.Is(err, train.ErrInterrupted) {
			return 130
		}
		return 1
	}
	return 0
}

// reportError prints a failed command's error: one line on stderr, and,
// when the command was asked for JSON, {"error": "..."} on stdout too, so
// that a script reading stdout always gets JSON.
func reportError(app *cli.App, args []string, err error) {
	fmt.Fprintln(app.ErrWriter, "siamese:", err)
	if wantsJSON(args) {
		writeJSON(app.Writer, map[string]string{"error": err.Error()})
	}
}

// wantsJSON reports whether the command line asks for --json.
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "-json" || a == "--json=true" || a == "-json=true" {
			return true
		}
	}
	return false
}

// quietUsage makes a usage error (an unknown flag, a bad value) one line
// returned to reportError instead of help text on stdout, for cmd and its
// subcommands.
func quietUsage(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return err }
		quietUsage(c.Subcommands)
	}
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "siamese",
		Usage: "one-shot similarity learning with Siamese networks",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log debug messages"},
			&cli.DurationFlag{Name: "plugin-timeout", Value: plugins.DefaultTimeout, Usage: "longest wait for one answer of a plugin before it is called hung (100ms to 1h)", Action: durationIn("plugin-timeout", 100*time.Millisecond, time.Hour)},
			&cli.StringFlag{Name: "plugin-dir", EnvVars: []string{plugins.EnvDir}, Usage: "folder of domain plugins (siamese-domain-NAME); also searched: $" + plugins.EnvDir + " and the user config folder"},
		},
		Before: func(c *cli.Context) error {
			level := slog.LevelInfo
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})))
			return nil
		},
		Commands: []*cli.Command{
			demoCommand(), trainCommand(), evalCommand(), embedCommand(), compareCommand(), infoCommand(), faceCommand(),
			domainCommand(signature.Name, "signature", "signature verification: train, evaluate, enroll a writer's references, verify genuine or forged"),
			questionsCommand(), trackCommand(), pluginsCommand(), serveCommand(), attendanceCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints the one-line error
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return err },
	}
	quietUsage(app.Commands)
	return app
}
