package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/serve"
	"github.com/siamesenet/siamese/serve/store"
	"github.com/urfave/cli/v2"
)

// storeFlags name the service's store: --db or --gallery.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", EnvVars: []string{"SIAMESE_DB"}, Usage: "PostgreSQL URL (postgres://user@host/db): galleries, attendance, keys and audit shared by replicas"},
		&cli.StringFlag{Name: "gallery", Aliases: []string{"g"}, Value: "faces.gallery", Usage: "without --db: the default gallery's file NAME.gallery; the service's other galleries, logs and keys live beside it (one process)"},
	}
}

func openStore(c *cli.Context) (store.Store, string, error) {
	return serve.OpenStore(c.Context, c.String("db"), c.String("gallery"))
}

// galleryFor is --gallery, or when it is not given the gallery file of
// the model's domain (signatures.gallery for a signature model).
func galleryFor(c *cli.Context, pol core.Policy) string {
	if !c.IsSet("gallery") && pol.Enrolment != nil && filestoreName(pol.Enrolment.Gallery) {
		return pol.Enrolment.Gallery
	}
	return c.String("gallery")
}

func filestoreName(file string) bool {
	return strings.HasSuffix(file, ".gallery") && serveGalleryName(file) != ""
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a model over HTTP: enrol, identify, verify, attendance, a web page, /metrics",
		Description: "Every request needs an API key: make one with 'siamese serve keys add --scope admin' (kiosk: check-in and identify; read: reports).\n" +
			"Without --db the galleries are files (one process); with --db PostgreSQL, shared by any number of replicas.",
		Flags: append(storeFlags(), &cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "model file (required)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on (\":8080\" for every interface)"},
			&cli.StringFlag{Name: "default-gallery", Usage: "the gallery check-ins and the page use (default: the --gallery file's name, or the domain's)"},
			&cli.BoolFlag{Name: "once-per-day", Value: true, Usage: "record one check-in per person per day (later ones are answered, not recorded)"},
			&cli.StringFlag{Name: "timezone", Value: "Local", Usage: "time zone of attendance days (an IANA name such as Europe/Paris, UTC or Local)"},
			intFlag("max-upload-mb", serve.DefaultMaxUpload>>20, 1, 1024, "largest request body in MiB"),
			detectFlag(), jsonFlag()),
		Subcommands: []*cli.Command{keysCommand()},
		Action: func(c *cli.Context) error {
			if c.String("model") == "" {
				return fmt.Errorf("serve: give --model")
			}
			m, err := core.Load(c.String("model"))
			if err != nil {
				return err
			}
			defer m.Close()
			withDetect(c, m)
			dec, err := decoderOf(c, m)
			if err != nil {
				return err
			}
			loc, err := location(c)
			if err != nil {
				return err
			}
			pol, _ := core.DomainPolicy(m.Info.Domain)
			galleryFile := galleryFor(c, pol)
			st, fileGallery, err := serve.OpenStore(c.Context, c.String("db"), galleryFile)
			if err != nil {
				return err
			}
			defer st.Close()
			def := c.String("default-gallery")
			if def == "" {
				def = fileGallery
			}
			if def == "" {
				def = "default"
				if e := pol.Enrolment; e != nil {
					if n := serveGalleryName(e.Gallery); n != "" {
						def = n
					}
				}
			}
			log := slog.New(slog.NewJSONHandler(c.App.ErrWriter, nil))
			cfg := serve.Config{Model: m, Decoder: dec, Store: st, Enrolment: pol.Enrolment, Attendance: pol.Enrolment != nil && pol.Enrolment.Detect,
				DefaultGallery: def, OncePerDay: c.Bool("once-per-day"), Location: loc, MaxUpload: int64(c.Int("max-upload-mb")) << 20, Logger: log}
			if ps := questions.PairScore(m); ps != nil { // a questions model's lexical fusion
				cfg.PairScore = ps
				cfg.Scorer = func(g *gallery.Gallery) (serve.GalleryScorer, error) { return questions.NewIndex(g, m) }
			}
			srv, err := serve.New(cfg)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				storeKind := "files beside " + galleryFile
				if c.String("db") != "" {
					storeKind = "postgresql"
				}
				if err := printJSON(c, map[string]any{"listen": c.String("listen"), "model": c.String("model"), "model_id": m.ID(), "domain": m.Info.Domain,
					"threshold": m.Threshold, "store": storeKind, "default_gallery": def, "attendance": cfg.Attendance, "once_per_day": cfg.OncePerDay,
					"timezone": loc.String(), "max_upload": cfg.MaxUpload}); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			if err := srv.Start(ctx); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", c.String("listen"))
			if err != nil {
				return err
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
			log.Info("serving", "addr", ln.Addr().String(), "model_id", m.ID(), "default_gallery", def)
			done := make(chan error, 1)
			go func() { done <- hs.Serve(ln) }()
			select {
			case err := <-done:
				return err
			case <-c.Context.Done():
			}
			// SIGTERM or Ctrl-C: stop taking connections, let in-flight
			// requests finish, then end (main ends the plugins).
			log.Info("shutting down: finishing in-flight requests")
			sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer scancel()
			if err := hs.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
}

// serveGalleryName is the gallery name of a policy's default gallery file
// ("" if its base name is not a valid gallery name).
func serveGalleryName(file string) string {
	name := strings.TrimSuffix(file, filepath.Ext(file))
	if store.CheckGalleryName(name) != nil {
		return ""
	}
	return name
}

// location is --timezone's time zone.
func location(c *cli.Context) (*time.Location, error) {
	loc, err := time.LoadLocation(c.String("timezone"))
	if err != nil {
		return nil, fmt.Errorf("--timezone %q: %w", c.String("timezone"), err)
	}
	return loc, nil
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "make API keys for the service",
		Subcommands: []*cli.Command{{
			Name:  "add",
			Usage: "make a key of a scope and print it once (only its hash is stored)",
			Flags: append(storeFlags(),
				&cli.StringFlag{Name: "scope", Required: true, Usage: "admin (enrol, delete, keys, everything), kiosk (check-in, identify, verify, embed, compare) or read (galleries, attendance)"},
				&cli.StringFlag{Name: "name", Usage: "what the key is for (a door, a person)"}, jsonFlag()),
			Action: func(c *cli.Context) error {
				scope, err := store.ParseScope(c.String("scope"))
				if err != nil {
					return fmt.Errorf("--scope: %w", err)
				}
				st, _, err := openStore(c)
				if err != nil {
					return err
				}
				defer st.Close()
				secret, k, err := store.NewKey(scope, c.String("name"))
				if err != nil {
					return err
				}
				if err := st.AddKey(c.Context, k); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"id": k.ID, "scope": k.Scope, "key": secret})
				}
				fmt.Fprintf(c.App.ErrWriter, "key %s (%s): shown once, keep it now\n", k.ID, k.Scope)
				fmt.Fprintln(c.App.Writer, secret)
				return nil
			},
		}},
	}
}

func attendanceCommand() *cli.Command {
	return &cli.Command{
		Name:  "attendance",
		Usage: "attendance recorded by 'siamese serve'",
		Subcommands: []*cli.Command{{
			Name:  "report",
			Usage: "print a day's check-ins as CSV (or --json)",
			Flags: append(storeFlags(),
				&cli.StringFlag{Name: "date", Usage: "the day, YYYY-MM-DD (default: today)"},
				&cli.StringFlag{Name: "timezone", Value: "Local", Usage: "time zone of the times printed and of today"}, jsonFlag()),
			Action: func(c *cli.Context) error {
				loc, err := location(c)
				if err != nil {
					return err
				}
				day := c.String("date")
				if day == "" {
					day = store.Day(time.Now(), loc)
				}
				if err := store.CheckDay(day); err != nil {
					return fmt.Errorf("--date: %w", err)
				}
				if c.String("db") == "" {
					if _, err := os.Stat(c.String("gallery")); err != nil {
						return fmt.Errorf("--gallery %s: %w (give the service's gallery file, or --db)", c.String("gallery"), err)
					}
				}
				st, _, err := openStore(c)
				if err != nil {
					return err
				}
				defer st.Close()
				evs, err := st.Attendance(c.Context, day)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"date": day, "events": evs})
				}
				return serve.WriteCSV(c.App.Writer, evs, loc)
			},
		}},
	}
}
