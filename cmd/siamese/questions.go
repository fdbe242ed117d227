package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/towers/text"
	"github.com/urfave/cli/v2"
)

func questionsCommand() *cli.Command {
	skipFlag := &cli.BoolFlag{Name: "skip-bad", Usage: "skip malformed rows and empty or invalid questions (with a warning naming the line) instead of stopping"}
	return domainCommand(questions.Name, "questions", "question retrieval: train, evaluate, index a question base, search it, find duplicates",
		&cli.Command{
			Name:      "index",
			Usage:     "embed a question base (CSV id,text or one question a line) into an index; only new or changed questions are embedded",
			ArgsUsage: "BASE",
			Flags: []cli.Flag{modelFlag(), &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "questions.idx", Usage: "index file (created or updated)"},
				skipFlag, jsonFlag()},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return fmt.Errorf("index: give one question base file")
				}
				m, feat, err := textModel(c)
				if err != nil {
					return err
				}
				base, err := readBase(c, c.Args().First())
				if err != nil {
					return err
				}
				added, kept := 0, 0
				g, err := gallery.Update(c.String("out"), m, 1, func(g *gallery.Gallery) error {
					var fresh []questions.Question
					for _, q := range base {
						if p := g.Find(q.ID); p != nil && p.Note == q.Text {
							kept++
							continue
						}
						fresh = append(fresh, q)
					}
					entries, err := embedQuestions(c, m, feat, fresh)
					if err != nil {
						return err
					}
					added = len(entries)
					if err := g.EnrollAll(entries, true); err != nil {
						return err
					}
					// The base's word statistics, for the lexical part of
					// the score: saved with the embeddings in one write.
					return questions.IndexStats(g)
				})
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c, map[string]any{"index": c.String("out"), "questions": len(g.People), "embedded": added, "unchanged": kept})
				}
				fmt.Fprintf(c.App.Writer, "%s: %d questions (%d embedded now, %d unchanged)\n", c.String("out"), len(g.People), added, kept)
				return nil
			},
		},
		&cli.Command{
			Name:      "search",
			Usage:     "print the questions of an index closest to a question",
			ArgsUsage: "QUESTION",
			Flags: []cli.Flag{modelFlag(), &cli.StringFlag{Name: "index", Aliases: []string{"i"}, Value: "questions.idx", Usage: "index file"},
				intFlag("k", 5, 1, 10000, "how many results"), &cli.BoolFlag{Name: "explain", Usage: "print the learned and lexical parts of each score"}, jsonFlag()},
			Action: func(c *cli.Context) error {
				if c.NArg() < 1 {
					return fmt.Errorf("search: give a question")
				}
				m, feat, err := textModel(c)
				if err != nil {
					return err
				}
				g, err := gallery.Load(c.String("index"), m, 1)
				if err != nil {
					return err
				}
				q := strings.Join(c.Args().Slice(), " ")
				e, err := embedText(c, m, feat, q, "the question")
				if err != nil {
					return err
				}
				if len(g.People) == 0 {
					return fmt.Errorf("index %s: %w", c.String("index"), gallery.ErrEmptyGallery)
				}
				x, err := questions.NewIndex(g, m)
				if err != nil {
					return fmt.Errorf("index %s: %w", c.String("index"), err)
				}
				hits := x.Search(q, e, c.Int("k"))
				type row struct {
					questions.Hit
					Same bool `json:"duplicate"`
				}
				rows := make([]row, len(hits))
				for i, h := range hits {
					rows[i] = row{h, h.Score >= m.Threshold}
				}
				if c.Bool("json") {
					return printJSON(c, rows)
				}
				for _, r := range rows {
					mark := ""
					if r.Same {
						mark = "  (likely duplicate)"
					}
					if c.Bool("explain") {
						fmt.Fprintf(c.App.Writer, "%s\t%.4f\t%s%s\n\tlearned %.4f × %.3f = %+.3f, lexical (tf-idf cosine in this base) %.4f × %.3f = %+.3f, bias %+.3f\n",
							r.ID, r.Score, r.Text, mark, r.Learned, fusionOf(m).Learned, r.FromLearned, r.Lexical, fusionOf(m).Lexical, r.FromLexical, fusionOf(m).Bias)
						continue
					}
					fmt.Fprintf(c.App.Writer, "%s\t%.4f\t%s%s\n", r.ID, r.Score, r.Text, mark)
				}
				return nil
			},
		},
		&cli.Command{
			Name:      "dedupe",
			Usage:     "flag likely duplicates: the pairs of a Quora-style pair CSV, or the closest pairs within a question base",
			ArgsUsage: "FILE",
			Flags:     []cli.Flag{modelFlag(), thresholdFlag(), skipFlag, jsonFlag()},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return fmt.Errorf("dedupe: give one file")
				}
				m, feat, err := textModel(c)
				if err != nil {
					return err
				}
				return dedupe(c, m, feat, c.Args().First())
			},
		},
	)
}

// fusionOf is a model's fusion (zero for a model without one).
func fusionOf(m *core.Model) questions.Fusion {
	if sc, err := questions.ParseScoring(m.Scoring); err == nil && sc != nil {
		return sc.Fusion
	}
	return questions.Fusion{Learned: 1}
}

// textModel loads the --model and its featurizer.
func textModel(c *cli.Context) (*core.Model, text.Featurizer, error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, text.Featurizer{}, err
	}
	feat, err := text.FeaturizerOf(m.Preprocess)
	if err != nil {
		return nil, text.Featurizer{}, fmt.Errorf("model %s: %w", c.String("model"), err)
	}
	return m, feat, nil
}

func readOptions(c *cli.Context) questions.ReadOptions {
	return questions.ReadOptions{SkipBad: c.Bool("skip-bad"), Log: slog.Default()}
}

func readBase(c *cli.Context, path string) ([]questions.Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	base, err := questions.ReadBase(f, path, readOptions(c))
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		return nil, fmt.Errorf("%s: no question in it (want CSV id,text or one question a line)", path)
	}
	seen := map[string]string{}
	for _, q := range base {
		if at, dup := seen[q.ID]; dup {
			return nil, fmt.Errorf("%s: id %q already used at %s", q.Where, q.ID, at)
		}
		seen[q.ID] = q.Where
	}
	return base, nil
}

// embedText featurizes and embeds one text; a truncated text is warned about.
func embedText(c *cli.Context, m *core.Model, feat text.Featurizer, s, where string) ([]float32, error) {
	bag, truncated, err := feat.Features(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if truncated {
		slog.Warn("text truncated", "where", where, "bytes", len(s), "kept", text.MaxBytes)
	}
	e, err := m.Embed(c.Context, []core.Item{{Bag: bag}}, 1)
	if err != nil {
		return nil, err
	}
	return e[0], nil
}

// embedQuestions embeds questions in batches, with a progress bar.
func embedQuestions(c *cli.Context, m *core.Model, feat text.Featurizer, qs []questions.Question) ([]*gallery.Person, error) {
	items := make([]core.Item, len(qs))
	for i, q := range qs {
		bag, _, err := feat.Features(q.Text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.Where, err)
		}
		items[i] = core.Item{Bag: bag}
	}
	out := make([]*gallery.Person, 0, len(qs))
	const batch = 512
	bar := countBar(c, len(items), "embedding", c.Bool("json"))
	for lo := 0; lo < len(items); lo += batch {
		hi := min(lo+batch, len(items))
		embs, err := m.Embed(c.Context, items[lo:hi], 0)
		if err != nil {
			return nil, err
		}
		for i, e := range embs {
			q := qs[lo+i]
			out = append(out, &gallery.Person{Name: q.ID, Note: q.Text, Embeddings: [][]float32{e}})
		}
		if bar != nil {
			bar(hi, len(items))
		}
	}
	return out, nil
}

// dedupe scores the pairs of a pair CSV, or finds each question's closest
// other question in a base, and prints those at or above the threshold.
func dedupe(c *cli.Context, m *core.Model, feat text.Featurizer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	f.Close()
	type flag struct {
		Where string  `json:"where"`
		A     string  `json:"a"`
		B     string  `json:"b"`
		Score float32 `json:"score"`
	}
	var flags []flag
	total := 0
	if first := strings.SplitN(string(head[:n]), "\n", 2)[0]; strings.Contains(first, "question1") && strings.Contains(first, "question2") {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		pairs, err := questions.ReadQuora(f, path, readOptions(c))
		f.Close()
		if err != nil {
			return err
		}
		total = len(pairs)
		var qs []questions.Question
		for _, p := range pairs {
			qs = append(qs, questions.Question{ID: p.Where + "/1", Text: p.A, Where: p.Where}, questions.Question{ID: p.Where + "/2", Text: p.B, Where: p.Where})
		}
		es, err := embedQuestions(c, m, feat, qs)
		if err != nil {
			return err
		}
		sc, err := questions.ParseScoring(m.Scoring)
		if err != nil {
			return err
		}
		for i, p := range pairs {
			s := sc.PairScore(float64(m.Head.Score(es[2*i].Embeddings[0], es[2*i+1].Embeddings[0])), p.A, p.B)
			if s >= m.Threshold {
				flags = append(flags, flag{p.Where, p.A, p.B, float32(s)})
			}
		}
	} else {
		base, err := readBase(c, path)
		if err != nil {
			return err
		}
		total = len(base)
		es, err := embedQuestions(c, m, feat, base)
		if err != nil {
			return err
		}
		g := &gallery.Gallery{Dim: m.EmbeddingSize()}
		if err := g.EnrollAll(es, false); err != nil {
			return err
		}
		x, err := questions.NewIndex(g, m)
		if err != nil {
			return err
		}
		byID := map[string]questions.Question{}
		for _, q := range base {
			byID[q.ID] = q
		}
		seen := map[[2]string]bool{}
		for _, q := range base {
			for _, h := range x.Search(q.Text, g.Find(q.ID).Embeddings[0], 2) {
				if h.ID == q.ID || h.Score < m.Threshold {
					continue
				}
				key := [2]string{min(q.ID, h.ID), max(q.ID, h.ID)}
				if !seen[key] {
					seen[key] = true
					flags = append(flags, flag{q.Where + " ~ " + byID[h.ID].Where, q.Text, byID[h.ID].Text, float32(h.Score)})
				}
			}
		}
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"checked": total, "threshold": m.Threshold, "duplicates": flags})
	}
	for _, fl := range flags {
		fmt.Fprintf(c.App.Writer, "%s\t%.4f\t%s\t%s\n", fl.Where, fl.Score, oneLine(fl.A), oneLine(fl.B))
	}
	fmt.Fprintf(c.App.ErrWriter, "%d likely duplicate(s) among %d (threshold %.4f)\n", len(flags), total, m.Threshold)
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
