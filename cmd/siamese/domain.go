package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/urfave/cli/v2"
)

// domainCommand is the command of a built-in domain: train and eval on
// it, the gallery commands its enrolment policy asks for, then extra.
func domainCommand(domain, name, usage string, extra ...*cli.Command) *cli.Command {
	subs := []*cli.Command{withDomain(trainCommand(), domain), withDomain(evalCommand(), domain)}
	commandDomains[domain] = name
	pol, _ := core.DomainPolicy(domain)
	if e := pol.Enrolment; e != nil {
		en := enrolment{e, domain}
		subs = append(subs, en.enroll())
		if e.Identify {
			subs = append(subs, en.identify())
		}
		subs = append(subs, en.verify(), en.list())
	}
	return &cli.Command{Name: name, Usage: usage, Subcommands: append(subs, extra...)}
}

// commandDomains maps the domains that have a command of their own to it.
var commandDomains = map[string]string{}

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
	return &cli.Float64Flag{Name: "threshold", Value: math.NaN(), DefaultText: "the model's", Usage: "decision threshold (a number; Inf rejects everything)",
		Action: func(_ *cli.Context, v float64) error {
			if math.IsNaN(v) {
				return fmt.Errorf("--threshold NaN: want a number")
			}
			return nil
		}}
}

// loadModel loads --model; --threshold, where the command has it, replaces
// the model's threshold.
func loadModel(c *cli.Context) (*core.Model, error) {
	m, err := core.Load(c.String("model"))
	if err != nil {
		return nil, err
	}
	if t := c.Float64("threshold"); c.IsSet("threshold") && !math.IsNaN(t) {
		m.Threshold = t
	}
	return m, nil
}

// listFiles expands folders among args to their images, sorted.
func listFiles(args []string) ([]string, error) { return listEnrolment(args, nil) }

// listEnrolment is listFiles for enrolment: a folder laid out as an
// entry's (a writer's genuine/ and forged/ folders) gives the images of
// its subfolder named by the policy's accept word, and a folder holding
// only its reject word's is refused.
func listEnrolment(args []string, e *core.Enrolment) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		dir := a
		if e != nil && e.Accept != "" {
			if st, err := os.Stat(filepath.Join(a, e.Accept)); err == nil && st.IsDir() {
				dir = filepath.Join(a, e.Accept)
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range entries {
			if !e.IsDir() && imageset.IsImage(e.Name()) {
				files = append(files, filepath.Join(dir, e.Name()))
				n++
			}
		}
		if n == 0 && e != nil && e.Reject != "" {
			if st, err := os.Stat(filepath.Join(a, e.Reject)); err == nil && st.IsDir() {
				return nil, fmt.Errorf("%s holds %s %ss only (in %s/), no %s ones to enroll", a, e.Reject, e.Item, e.Reject, e.Accept)
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

// embedFiles reads and embeds files (folders are expanded to their images).
func embedFiles(c *cli.Context, m *core.Model, args []string) ([]string, [][]float32, error) {
	files, err := listFiles(args)
	if err != nil {
		return nil, nil, err
	}
	items, err := readItems(c, m, files)
	if err != nil {
		return nil, nil, err
	}
	if c.Bool("skip-bad") {
		files, items = dropBad(files, items)
	}
	embs, err := m.Embed(c.Context, items, 0)
	return files, embs, err
}

// enrolment is the gallery commands of a domain, worded and limited by its
// enrolment policy.
type enrolment struct {
	*core.Enrolment
	domain string
}

// model loads --model for the domain's commands: a model trained on
// another domain that has a command of its own (a signature model for
// face, say) is refused; generic models (glyphs, a plugin's) are not.
func (e enrolment) model(c *cli.Context) (*core.Model, error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, err
	}
	if e.Detect {
		withDetect(c, m)
	}
	if d := m.Info.Domain; d != e.domain && commandDomains[d] != "" {
		return nil, fmt.Errorf("model %s was trained on the %s domain, not %s: use 'siamese %s ...' with it", c.String("model"), d, e.domain, commandDomains[d])
	}
	return m, nil
}

func (e enrolment) galleryFlag() cli.Flag {
	return &cli.StringFlag{Name: "gallery", Aliases: []string{"g"}, Value: e.Gallery, Usage: "gallery file"}
}

// flags are a command's flags with --detect where the policy finds items
// in larger inputs.
func (e enrolment) flags(fs ...cli.Flag) []cli.Flag {
	if e.Detect {
		fs = append(fs, detectFlag())
	}
	return fs
}

// enroll adds an entry from e.Min to e.Max items.
func (e enrolment) enroll() *cli.Command {
	return &cli.Command{
		Name:      "enroll",
		Usage:     fmt.Sprintf("enroll a %s from %d to %d %ss (no retraining)", e.Noun, e.Min, e.Max, e.Item),
		ArgsUsage: strings.ToUpper(e.Item) + "...",
		Flags: e.flags(modelFlag(), e.galleryFlag(), &cli.StringFlag{Name: e.Key, Required: true, Usage: "the " + e.Noun + "'s name"},
			&cli.BoolFlag{Name: "replace", Usage: "replace a " + e.Noun + " already enrolled"}, jsonFlag()),
		Action: func(c *cli.Context) error {
			m, err := e.model(c)
			if err != nil {
				return err
			}
			if err := gallery.CheckName(c.String(e.Key)); err != nil {
				return fmt.Errorf("--%s: %w", e.Key, err)
			}
			files, err := listEnrolment(c.Args().Slice(), e.Enrolment)
			if err != nil {
				return err
			}
			if len(files) < e.Min || len(files) > e.Max {
				return fmt.Errorf("enroll: give %d to %d %ss, got %d", e.Min, e.Max, e.Item, len(files))
			}
			found, err := findFiles(c, m, files)
			if err != nil {
				return err
			}
			var embs [][]float32
			for i, f := range found {
				if i > 0 && f.File == found[i-1].File {
					n := 0
					for _, g := range found {
						if g.File == f.File {
							n++
						}
					}
					return fmt.Errorf("%s: %d faces found: enroll from %ss of the %s alone", f.File, n, e.Item, e.Noun)
				}
				embs = append(embs, f.Emb)
			}
			name := c.String(e.Key)
			// The same image under two entries (one scan filed under two
			// writers) is enrolled, with a warning naming the other entry.
			type duplicate struct {
				File string `json:"file"`
				Also string `json:"also_enrolled_as"`
			}
			var dups []duplicate
			g, err := gallery.Update(c.String("gallery"), m, e.Max, func(g *gallery.Gallery) error {
				dups = nil
				for i, emb := range embs {
					if p := g.Holder(emb, name); p != nil {
						dups = append(dups, duplicate{found[i].File, p.Name})
					}
				}
				return g.Enroll(name, embs, c.Bool("replace"))
			})
			if err != nil {
				return err
			}
			for _, d := range dups {
				slog.Warn(fmt.Sprintf("the same %s is already enrolled under another %s", e.Item, e.Noun), "file", d.File, e.Noun, d.Also)
			}
			if c.Bool("json") {
				return printJSON(c, map[string]any{"enrolled": name, "images": len(embs), "entries": len(g.People), "duplicates": dups})
			}
			fmt.Fprintf(c.App.Writer, "enrolled %s from %d %s(s); %d in %s\n", name, len(embs), e.Item, len(g.People), c.String("gallery"))
			for _, d := range dups {
				fmt.Fprintf(c.App.Writer, "warning: %s is already enrolled as a %s of %s %s\n", d.File, e.Item, e.Noun, d.Also)
			}
			return nil
		},
	}
}

// identify names the best match of each item, or says unknown.
func (e enrolment) identify() *cli.Command {
	return &cli.Command{
		Name:      "identify",
		Usage:     "name the " + e.Noun + " of each " + e.Item + ", or say unknown",
		ArgsUsage: strings.ToUpper(e.Item) + "|FOLDER...",
		Flags: e.flags(modelFlag(), e.galleryFlag(), thresholdFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "skip-bad", Usage: "skip a " + e.Item + " that cannot be read (with a warning naming it) instead of stopping"}),
		Action: func(c *cli.Context) error {
			m, err := e.model(c)
			if err != nil {
				return err
			}
			if c.NArg() == 0 {
				return fmt.Errorf("identify: give %ss or folders of them", e.Item)
			}
			g, err := gallery.Open(c.String("gallery"), m)
			if err != nil {
				return err
			}
			if len(g.People) == 0 {
				return fmt.Errorf("gallery %s: %w", c.String("gallery"), gallery.ErrEmptyGallery)
			}
			files, err := listFiles(c.Args().Slice())
			if err != nil {
				return err
			}
			found, err := findFiles(c, m, files)
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return fmt.Errorf("identify: no %s in %s", e.Item, strings.Join(c.Args().Slice(), ", "))
			}
			type row struct {
				File string   `json:"file"`
				Box  *boxJSON `json:"box,omitempty"`
				gallery.Match
			}
			rows := []row{}
			for _, f := range found {
				match, err := g.Identify(m.Head, f.Emb, m.Threshold)
				if err != nil {
					return err
				}
				rows = append(rows, row{f.File, toBoxJSON(f.Box), match})
			}
			if c.Bool("json") {
				return printJSON(c, rows)
			}
			for _, r := range rows {
				name := r.Name
				if !r.Known {
					name = "unknown (closest: " + r.Name + ")"
				}
				if r.Box != nil {
					fmt.Fprintf(c.App.Writer, "%s\t%d,%d,%d,%d\t%s\t%.4f\n", r.File, r.Box.X, r.Box.Y, r.Box.W, r.Box.H, name, r.Score)
					continue
				}
				fmt.Fprintf(c.App.Writer, "%s\t%s\t%.4f\n", r.File, name, r.Score)
			}
			return nil
		},
	}
}

// verify says whether an item is of an enrolled entry.
func (e enrolment) verify() *cli.Command {
	flags := e.flags(modelFlag(), e.galleryFlag(), thresholdFlag(), &cli.StringFlag{Name: e.Key, Required: true, Usage: "the " + e.Noun + " the " + e.Item + " claims"},
		jsonFlag())
	if e.Aggregate {
		flags = append(flags, &cli.StringFlag{Name: "aggregate", Usage: "score against the references: mean or max (default: the model's rule)"})
	}
	return &cli.Command{
		Name:      "verify",
		Usage:     fmt.Sprintf("say whether a %s is of an enrolled %s (%s or %s)", e.Item, e.Noun, e.Accept, e.Reject),
		ArgsUsage: strings.ToUpper(e.Item),
		Flags:     flags,
		Action: func(c *cli.Context) error {
			m, err := e.model(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return fmt.Errorf("verify: give one %s", e.Item)
			}
			rule, err := scoreRule(c, m)
			if err != nil {
				return err
			}
			if rule == nil {
				rule = &core.ScoreRule{Aggregate: core.Closest}
			}
			g, err := gallery.Open(c.String("gallery"), m)
			if err != nil {
				return err
			}
			name := c.String(e.Key)
			p := g.Find(name)
			if p == nil {
				return fmt.Errorf("verify: no %s named %q in %s", e.Noun, name, c.String("gallery"))
			}
			_, embs, err := embedFiles(c, m, c.Args().Slice())
			if err != nil {
				return err
			}
			if len(embs) != 1 {
				return fmt.Errorf("verify: %s holds %d %ss; give one", c.Args().First(), len(embs), e.Item)
			}
			score, err := g.Score(m.Head, name, embs[0], *rule)
			if err != nil {
				return err
			}
			ok := score >= m.Threshold
			verdict := e.Reject
			if ok {
				verdict = e.Accept
			}
			if c.Bool("json") {
				return printJSON(c, map[string]any{e.Key: name, "score": score, "threshold": m.Threshold, "match": ok, "verdict": verdict, "aggregate": rule.Aggregate, "normalized": rule.Normalize})
			}
			fmt.Fprintf(c.App.Writer, "%s: %s (score %.4f, threshold %.4f)\n", name, verdict, score, m.Threshold)
			return nil
		},
	}
}

// list is the list/remove pair of commands.
func (e enrolment) list() *cli.Command {
	return &cli.Command{
		Name:  e.List,
		Usage: "list or remove enrolled " + e.Noun + "s",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Flags: []cli.Flag{e.galleryFlag(), jsonFlag()},
				Action: func(c *cli.Context) error {
					g, err := gallery.Read(c.String("gallery"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c, g)
					}
					fmt.Fprintf(c.App.Writer, "%d enrolled (model %s)\n", len(g.People), g.ModelID)
					for _, p := range g.People {
						fmt.Fprintf(c.App.Writer, "%s\t%d %s(s)\tenrolled %s\n", gallery.Printable(p.Name), p.Images, e.Item, p.Added.Format("2006-01-02 15:04"))
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
						return fmt.Errorf("%s remove: give one name", e.List)
					}
					m, err := core.Load(c.String("model"))
					if err != nil {
						return err
					}
					err = gallery.Remove(c.String("gallery"), m, c.Args().First())
					if err == nil {
						fmt.Fprintf(c.App.Writer, "removed %s\n", c.Args().First())
					}
					return err
				},
			},
		},
	}
}

var errNoBudget = errors.New("set a budget: --steps N or --duration D")
