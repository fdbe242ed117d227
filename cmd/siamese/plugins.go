package main

import (
	"fmt"
	"path/filepath"

	"github.com/siamesenet/siamese/plugins"
	"github.com/urfave/cli/v2"
)

func pluginsCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugins",
		Usage: "list and pin domain plugins",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "show each plugin's name, version, protocol, path and sha256",
				Flags: []cli.Flag{jsonFlag()},
				Action: func(c *cli.Context) error {
					infos := plugins.List(c.Context, plugins.Dirs(c.String("plugin-dir")), plugins.Options{Timeout: c.Duration("plugin-timeout")})
					if c.Bool("json") {
						return printJSON(c, infos)
					}
					if len(infos) == 0 {
						fmt.Fprintf(c.App.Writer, "no plugins in %v\n", plugins.Dirs(c.String("plugin-dir")))
						return nil
					}
					fmt.Fprintf(c.App.Writer, "%-12s %-8s %-8s %-7s %-64s %s\n", "NAME", "VERSION", "PROTOCOL", "PINNED", "SHA256", "PATH")
					for _, in := range infos {
						fmt.Fprintf(c.App.Writer, "%-12s %-8s %-8d %-7v %-64s %s\n", in.Name, in.Version, in.Protocol, in.Pinned, in.SHA256, in.Path)
						if in.Error != "" {
							fmt.Fprintf(c.App.Writer, "  error: %s\n", in.Error)
						}
					}
					return nil
				},
			},
			{
				Name:      "pin",
				Usage:     "pin a plugin to the sha256 of its current binary; a changed binary is then refused",
				ArgsUsage: "NAME",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return fmt.Errorf("plugins pin: give one plugin name")
					}
					path, _, err := plugins.Find(c.Args().First(), plugins.Dirs(c.String("plugin-dir")))
					if err != nil {
						return err
					}
					sum, err := plugins.Pin(filepath.Dir(path), c.Args().First())
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "pinned %s to sha256 %s\n", path, sum)
					return nil
				},
			},
		},
	}
}
