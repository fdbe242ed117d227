// Package questions is the question-retrieval domain: labelled pairs of
// questions (Quora Question Pairs CSV, SemEval STS TSV), featurized for the
// text tower, batches of duplicate and non-duplicate pairs, and evaluation
// on held-out pairs; plus the retrieval metrics (recall@k, MRR) over a
// question base.
//
// It registers itself as "questions"; import it for its side effect.
package questions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/towers/text"
)

// Name is the registered domain name.
const Name = "questions"

func init() {
	core.RegisterDomain(Name, func(o core.DomainOptions) (core.Domain, error) { return Open(o) }, Policy)
}

// Policy is the question domain's policy: the Quora folder, and
// validation and calibration on held-out Quora pairs.
var Policy = core.Policy{DataFolder: "quora_pairs", ValTask: "val"}

// DefaultTower is the default text tower.
var DefaultTower = text.Config{Bits: 18, MaxFeatures: 256, Dim: 64, Hidden: []int{128}, Embed: 64}

// Domain is the question domain: its pairs by split.
type Domain struct {
	desc  core.Description
	feat  text.Featurizer
	Train []Pair // training pairs
	Val   []Pair // held out from the training source, for calibration
	Test  []Pair // the other Quora subset
	// PANTest are PAN's test pairs (its training pairs train), when the
	// PAN corpus is beside the data: a second, out-of-domain test.
	PANTest []Pair
	cache   map[string][]core.Episode
}

// readFile reads a file of a folder or zip with one of the readers.
func readAll(src *imageset.Source, p string, read func(io.Reader, string, ReadOptions) ([]Pair, error), o ReadOptions) ([]Pair, error) {
	f, err := src.FS.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(p), err)
	}
	defer f.Close()
	return read(f, src.Where(p), o)
}

// load reads every Quora CSV (*.csv) and, when sts, every STS TSV (*.tsv)
// of a folder or zip, by file.
func load(p string, o ReadOptions) (map[string][]Pair, error) {
	src, err := imageset.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open questions: %w", err)
	}
	defer src.Close()
	out := map[string][]Pair{}
	err = fs.WalkDir(src.FS, ".", func(f string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(f, "__MACOSX") {
			return err
		}
		switch strings.ToLower(path.Ext(f)) {
		case ".csv":
			out[f], err = readAll(src, f, ReadQuora, o)
		case ".tsv":
			out[f], err = readAll(src, f, ReadSTS, o)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no .csv or .tsv pair files found", p)
	}
	return out, nil
}

// Open loads the pairs. o.DataDir holds Quora CSV files (a folder or zip;
// the shared quora_pairs/ has two 1,000-pair subsets). Options (o.Extra):
// "test", a substring of the CSV file held out for testing (default
// "train_sample"; "" holds out 20% of the pairs instead); "sts", a folder
// or zip of SemEval STS TSV files added to training (default
// ../semeval_sts beside the data folder when it exists; "none" for none);
// "pan", a folder or zip of the PAN paraphrase corpus, whose train CSV
// is added to training and whose test CSV is the "pan-test" task (default
// ../pan_paraphrase beside the data folder when it exists; "none");
// "sts_same" and "sts_diff", the STS score bounds (4 and 1); "val", the
// share of training pairs held out for calibration (default 0.1);
// "hard_negatives", how many non-duplicate pairs of many shared words to
// mine with BM25 among the training pairs and add to them (default 0);
// "split_seed"; "skip_bad", skip malformed rows instead of failing.
func Open(o core.DomainOptions) (*Domain, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("questions: no data folder given (set --data or SIAMESE_DATA)")
	}
	ex := o.Extra
	var valShare float64
	var seed int
	ro := ReadOptions{SkipBad: ex["skip_bad"] == "true" || ex["skip_bad"] == "1"}
	var errs [4]error
	ro.STSSame, errs[0] = o.Float("sts_same", 4)
	ro.STSDiff, errs[1] = o.Float("sts_diff", 1)
	valShare, errs[2] = o.Float("val", 0.1)
	seed, errs[3] = o.Int("split_seed", 1)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("questions: %w", err)
	}
	files, err := load(datadir.Archive(o.DataDir, "*.zip"), ro)
	if err != nil {
		return nil, err
	}
	testKey, ok := ex["test"]
	if !ok {
		testKey = "train_sample"
	}
	d := &Domain{feat: DefaultTower.Featurizer(), cache: map[string][]core.Episode{}}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	var pool []Pair
	for _, f := range names {
		if testKey != "" && strings.Contains(f, testKey) {
			d.Test = append(d.Test, files[f]...)
		} else {
			pool = append(pool, files[f]...)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9a))
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	if testKey == "" || len(d.Test) == 0 {
		if testKey != "" {
			return nil, fmt.Errorf("questions: no pair file in %s matches test=%q", o.DataDir, testKey)
		}
		n := len(pool) / 5
		d.Test, pool = pool[:n], pool[n:]
	}
	nVal := int(valShare * float64(len(pool)))
	d.Val, d.Train = pool[:nVal], pool[nVal:]
	stsDir, ok := ex["sts"]
	if !ok {
		def := filepath.Join(filepath.Dir(filepath.Clean(o.DataDir)), "semeval_sts")
		if _, err := os.Stat(def); err == nil {
			stsDir = def
		}
	}
	if stsDir != "" && stsDir != "none" {
		sts, err := load(datadir.Archive(stsDir, "*.zip"), ro)
		if err != nil {
			return nil, err
		}
		for _, f := range sortedKeys(sts) {
			d.Train = append(d.Train, sts[f]...)
		}
	}
	panDir, ok := ex["pan"]
	if !ok {
		def := filepath.Join(filepath.Dir(filepath.Clean(o.DataDir)), "pan_paraphrase")
		if _, err := os.Stat(def); err == nil {
			panDir = def
		}
	}
	if panDir != "" && panDir != "none" {
		pan, err := load(datadir.Archive(panDir, "*.zip"), ro)
		if err != nil {
			return nil, err
		}
		for _, f := range sortedKeys(pan) {
			if strings.Contains(f, "test") {
				d.PANTest = append(d.PANTest, pan[f]...)
			} else {
				d.Train = append(d.Train, pan[f]...)
			}
		}
	}
	hard, err := o.Int("hard_negatives", 0)
	if err != nil {
		return nil, fmt.Errorf("questions: %w", err)
	}
	if hard > 0 {
		d.Train = append(d.Train, HardNegatives(d.Train, hard, rand.New(rand.NewPCG(uint64(seed), 0x4a7d)))...)
	}
	if len(d.Train) < 4 {
		return nil, fmt.Errorf("questions: %d training pairs, at least 4 needed", len(d.Train))
	}
	tc, _ := json.Marshal(DefaultTower)
	d.desc = core.Description{
		Name: Name, Version: "1", Policy: Policy, InputKind: "text",
		Input:      core.InputSpec{Kind: core.Bag, Shape: []int{DefaultTower.MaxFeatures}},
		Spec:       core.Spec{Tower: text.Name, TowerConfig: tc, Head: "contrastive", HeadConfig: json.RawMessage(`{"margin":1.4}`)}, // √2: unrelated questions end up orthogonal
		Preprocess: d.feat.Preprocess(),
		Splits:     []string{"train"},
		Tasks:      []string{"test"},
	}
	if len(d.Val) > 0 {
		d.desc.Tasks = append(d.desc.Tasks, "val")
	}
	if len(d.PANTest) > 0 {
		d.desc.Tasks = append(d.desc.Tasks, "pan-test")
	}
	return d, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Describe implements core.Domain.
func (d *Domain) Describe() core.Description { return d.desc }

// Item featurizes one text.
func (d *Domain) Item(s string) (core.Item, error) {
	f, _, err := d.feat.Features(s)
	if err != nil {
		return core.Item{}, err
	}
	return core.Item{Bag: f}, nil
}

// Decode implements core.Domain: the bytes are the text.
func (d *Domain) Decode(raw []byte) (core.Item, error) { return d.Item(string(raw)) }

// Episodes implements core.Domain: one episode per labelled pair, its first
// question the support (label 0) and its second the query, labelled 0 when
// a duplicate and 1 when not, so that metrics.Evaluate scores exactly the
// pairs.
func (d *Domain) Episodes(_ context.Context, task string) ([]core.Episode, error) {
	if eps, ok := d.cache[task]; ok {
		return eps, nil
	}
	pairs, err := d.taskPairs(task)
	if err != nil {
		return nil, err
	}
	eps := make([]core.Episode, 0, len(pairs))
	for _, p := range pairs {
		a, err := d.Item(p.A)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Where, err)
		}
		b, err := d.Item(p.B)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Where, err)
		}
		label := 1
		if p.Same {
			label = 0
		}
		eps = append(eps, core.Episode{Support: []core.Item{a}, SupportLabel: []int{0}, Query: []core.Item{b}, QueryLabel: []int{label}})
	}
	d.cache[task] = eps
	return eps, nil
}

// taskPairs are the labelled pairs of an evaluation task.
func (d *Domain) taskPairs(task string) ([]Pair, error) {
	switch task {
	case "test":
		return d.Test, nil
	case "val":
		return d.Val, nil
	case "pan-test":
		return d.PANTest, nil
	}
	return nil, fmt.Errorf("domain questions has no task %q (has %v)", task, d.desc.Tasks)
}

// Pairs implements core.Domain.
func (d *Domain) Pairs(ctx context.Context, req core.PairRequest) (core.Stream, error) {
	if req.Split != "train" {
		return nil, fmt.Errorf("domain questions has no split %q (has [train])", req.Split)
	}
	if req.Items < 4 || req.Pairs < 2 {
		return nil, fmt.Errorf("a batch needs at least 4 items and 2 pairs")
	}
	s := &sampler{d: d}
	for i, p := range d.Train {
		if p.Same {
			s.pos = append(s.pos, i)
		} else {
			s.neg = append(s.neg, i)
		}
	}
	if len(s.pos) == 0 {
		return nil, fmt.Errorf("questions: no duplicate pair to train on")
	}
	items := make([]core.Item, 0, 2*len(d.Train))
	for _, p := range d.Train {
		a, err := d.Item(p.A)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Where, err)
		}
		b, err := d.Item(p.B)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Where, err)
		}
		items = append(items, a, b)
	}
	s.items = items
	return imageset.Stream(ctx, s, req), nil
}

// sampler draws batches of labelled pairs: half the batch's items come
// from duplicate pairs, half from non-duplicate ones. Positives are the
// duplicate pairs; negatives the non-duplicate pairs plus, to fill, two
// questions of different pairs (in-batch negatives).
type sampler struct {
	d        *Domain
	pos, neg []int
	items    []core.Item // 2 per training pair
}

// Batch implements imageset.Batcher.
func (s *sampler) Batch(req core.PairRequest, step int) (*core.Batch, error) {
	rng := imageset.StepRand(req.Seed, step)
	np := req.Items / 2 // labelled pairs in the batch
	bt := &core.Batch{}
	var posAt, negAt [][2]int
	for i := 0; i < np; i++ {
		var pi int
		same := i%2 == 0 || len(s.neg) == 0
		if same {
			pi = s.pos[rng.IntN(len(s.pos))]
		} else {
			pi = s.neg[rng.IntN(len(s.neg))]
		}
		a, b := len(bt.Items), len(bt.Items)+1
		bt.Items = append(bt.Items, s.items[2*pi], s.items[2*pi+1])
		if same {
			posAt = append(posAt, [2]int{a, b})
		} else {
			negAt = append(negAt, [2]int{a, b})
		}
	}
	for i := 0; i < req.Pairs/2; i++ {
		p := posAt[i%len(posAt)]
		bt.A, bt.B, bt.Y = append(bt.A, p[0]), append(bt.B, p[1]), append(bt.Y, 1)
	}
	for i := 0; len(bt.A) < req.Pairs; i++ {
		var p [2]int
		if i < len(negAt) {
			p = negAt[i]
		} else {
			// Questions of two different labelled pairs.
			a := rng.IntN(np)
			b := (a + 1 + rng.IntN(np-1)) % np
			p = [2]int{2*a + rng.IntN(2), 2*b + rng.IntN(2)}
		}
		bt.A, bt.B, bt.Y = append(bt.A, p[0]), append(bt.B, p[1]), append(bt.Y, 0)
	}
	return bt, nil
}
