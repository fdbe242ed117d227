// Package signature is the offline signature verification domain: writers
// with genuine signatures and skilled forgeries, SigNet's preprocessing
// (Otsu background removal, ink bright, cropped to the ink and scaled
// keeping the aspect ratio), pairs genuine–genuine (same) and
// genuine–forgery of one writer (different), several sets pooled by
// writer (Pool: listed and exact duplicate scans dropped), and
// writer-disjoint splits in proportion to each set (or one whole set as
// the test).
//
// Layouts, in a folder or a zip: SigComp/Kaggle (NNN/ genuine, NNN_forg/
// forged), CEDAR (full_org/original_W_N.png, full_forg/forgeries_W_N.png)
// and a generic WRITER/genuine/ and WRITER/forged/ tree. The label comes
// from the folder, never from the file name.
//
// It registers itself as "signature"; import it for its side effect.
package signature

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
)

// Name is the registered domain name.
const Name = "signature"

// InputKind is the domain's own input kind: a scan fitted by its ink
// (PrepareInk), whatever its colour.
const InputKind = "ink"

func init() {
	imageset.RegisterKind(InputKind, imageset.Kind{Prepare: func(img image.Image, pre core.Preprocess) ([]float32, error) {
		if pre.Channels > 1 {
			return nil, fmt.Errorf("input kind ink needs a grayscale input, not %d channels", pre.Channels)
		}
		return PrepareInk(img, pre)
	}, AnyColor: true})
	core.RegisterDomain(Name, func(o core.DomainOptions) (core.Domain, error) { return Open(o) }, Policy)
}

// Policy is the signature domain's policy: validation and calibration on
// the validation writers (their genuine signatures and skilled forgeries
// against References genuine references each; never the training
// writers), the threshold where 10% of their skilled forgeries pass (a
// forgery accepted costs a bank more than a genuine signature questioned),
// the recipe (800 steps of 8 writers' 64 signatures, every genuine and
// skilled pair of them and random forgeries to 320 pairs, augmented, on a
// cosine schedule, the best weights on validation kept), and references of
// 2 to 20 genuine signatures a writer, verified by the domain's Rule.
var Policy = core.Policy{
	DataFolder: "signatures",
	ValTask:    "val",
	FAR:        0.1,
	Recipe:     core.Recipe{Steps: 800, Items: 64, Pairs: 320, Schedule: "cosine", Augment: true, ValEvery: 150},
	Enrolment: &core.Enrolment{Noun: "writer", Key: "writer", Item: "signature", Gallery: "signatures.gallery", List: "references",
		Min: 2, Max: 20, Accept: "genuine", Reject: "forged", Aggregate: true},
}

// DefaultInput is the model input [C,H,W]: SigNet's 155×220 scaled for a CPU.
var DefaultInput = []int{1, 64, 128}

// References is how many genuine signatures of a writer are enrolled as
// references in the evaluation tasks; the writer's other genuine
// signatures and all forgeries are questioned.
const References = 5

// Preprocess is the preprocessing of signature scans for an input [C,H,W].
func Preprocess(input []int) core.Preprocess {
	return core.Preprocess{Kind: InputKind, Channels: 1, Height: input[1], Width: input[2], Mean: 0.1, Std: 0.25}
}

// Spec is the default signature network for an input: Tower and the
// cosine head, whose loss weighs every pair of a batch (it won on faces
// and, measured on the validation writers, here: docs/results.md).
func Spec(input []int) core.Spec {
	return core.Spec{Tower: "cnn", TowerConfig: Tower(input), Head: "cosine"}
}

// Tower is the default signature tower for an input: TowerConfig with
// batch norm.
func Tower(input []int) json.RawMessage { return TowerConfig(input, true) }

// TowerConfig is the signature CNN for an input: three convolution
// blocks (32, 64, 64 filters) and a 128-d embedding, with or without batch
// norm.
func TowerConfig(input []int, batchNorm bool) json.RawMessage {
	tc, _ := json.Marshal(map[string]any{"input": input, "blocks": []map[string]int{
		{"filters": 32, "kernel": 5, "pool": 2}, {"filters": 64, "kernel": 3, "pool": 2}, {"filters": 64, "kernel": 3, "pool": 2}},
		"batch_norm": batchNorm, "embed": 128, "activation": "none"})
	return tc
}

// Rule is how a questioned signature is scored against a writer's
// references: the mean score, normalised by the references' scores among
// themselves (writers vary in how consistently they sign).
var Rule = core.ScoreRule{Aggregate: core.MeanScore, Normalize: true}

// Augment distorts signatures slightly: a small rotation, scale and shift.
var Augment = imageset.Affine{Rotate: 4, ScaleLo: 0.9, ScaleHi: 1.1, Translate: 3}

// Writer holds one writer's preprocessed signatures.
type Writer struct {
	Set     string // the data set it comes from: its folder's (or zip's) name
	Name    string
	Genuine [][]float32
	Forged  [][]float32
	// where each signature was read from, for messages
	genuineAt, forgedAt []string
}

// ID names a writer uniquely across the sets: "set/name".
func (w *Writer) ID() string { return w.Set + "/" + w.Name }

// Domain is the signature domain with its writer-disjoint split.
type Domain struct {
	*imageset.Domain
	Writers          []*Writer
	Test, Val, Train []int // writer indices
}

var (
	cedarOrg  = regexp.MustCompile(`(?i)^original_(\d+)_\d+\.`)
	cedarForg = regexp.MustCompile(`(?i)^forger(?:y|ies)_(\d+)_\d+\.`)
	forgDir   = regexp.MustCompile(`(?i)^(.+)_forg$`)
)

// classify returns the writer and label of a file from its folders.
func classify(p string) (writer string, forged bool) {
	dir, file := path.Dir(p), path.Base(p)
	base := path.Base(dir)
	lower := strings.ToLower(base)
	switch {
	case lower == "full_org" && cedarOrg.MatchString(file):
		return cedarOrg.FindStringSubmatch(file)[1], false
	case lower == "full_forg" && cedarForg.MatchString(file):
		return cedarForg.FindStringSubmatch(file)[1], true
	case forgDir.MatchString(base):
		return forgDir.FindStringSubmatch(base)[1], true
	case lower == "genuine" || lower == "real" || lower == "original":
		return path.Base(path.Dir(dir)), false
	case lower == "forged" || lower == "forgery" || lower == "forgeries" || lower == "fake":
		return path.Base(path.Dir(dir)), true
	}
	return base, false
}

// DuplicatesFile is the file at the root of a set that lists scans which
// are the same scans as others of the set (CSV, header file,same_scan_as;
// paths inside the set). A listed scan is dropped, and its writer, being
// the same person as the other scan's, is merged into that writer, so that
// the two never sit on both sides of a split.
const DuplicatesFile = "duplicate_genuine.csv"

// Load reads the writers of one set, a folder or zip in any of the
// layouts. Scans are decoded and reduced a few at a time (one per core), so
// memory stays bounded however large they are. The set is named after p's
// base name without its extension.
func Load(p string, pre core.Preprocess) ([]*Writer, error) {
	return load(p, setName(p), pre)
}

// setName is a set's name from its folder or zip: its base name without
// the extension.
func setName(p string) string {
	b := filepath.Base(filepath.Clean(p))
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func load(p, set string, pre core.Preprocess) ([]*Writer, error) {
	src, err := imageset.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open signatures: %w", err)
	}
	defer src.Close()
	type file struct {
		path   string
		writer string
		forged bool
	}
	dups, err := readDuplicates(src)
	if err != nil {
		return nil, err
	}
	var files []file
	writerOf := map[string]string{}
	err = fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !imageset.IsImage(p) || strings.HasPrefix(path.Base(p), ".") || strings.HasPrefix(p, "__MACOSX") {
			return nil
		}
		w, f := classify(p)
		writerOf[p] = w
		if _, dup := dups[p]; !dup {
			files = append(files, file{p, w, f})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no signature images found", p)
	}
	// Writers whose scans are listed as another writer's are that writer.
	same := map[string]string{}
	for dup, of := range dups {
		a, okA := writerOf[dup]
		b, okB := writerOf[of]
		if !okA || !okB {
			return nil, fmt.Errorf("%s: %s lists %s as the same scan as %s, and one of them is not in the set", src.Where(DuplicatesFile), DuplicatesFile, dup, of)
		}
		if a != b {
			same[a] = b
		}
	}
	sort.Slice(files, func(a, b int) bool { return files[a].path < files[b].path })
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = f.path
	}
	items, err := src.ReadImages(paths, pre)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Writer{}
	var writers []*Writer
	for i, f := range files {
		name := f.writer
		for n := 0; same[name] != "" && n < len(same); n++ {
			name = same[name]
		}
		w := byName[name]
		if w == nil {
			w = &Writer{Set: set, Name: name}
			byName[name] = w
			writers = append(writers, w)
		}
		if f.forged {
			w.Forged, w.forgedAt = append(w.Forged, items[i]), append(w.forgedAt, src.Where(f.path))
		} else {
			w.Genuine, w.genuineAt = append(w.Genuine, items[i]), append(w.genuineAt, src.Where(f.path))
		}
	}
	sort.Slice(writers, func(a, b int) bool { return writers[a].Name < writers[b].Name })
	return writers, checkWriters(p, writers)
}

// checkWriters refuses a writer with fewer than 2 genuine signatures.
func checkWriters(p string, writers []*Writer) error {
	for _, w := range writers {
		switch {
		case len(w.Genuine) == 0 && len(w.Forged) > 0:
			return fmt.Errorf("%s: writer %s has %d forged signature(s) but no genuine one: its genuine folder is missing or empty", p, w.Name, len(w.Forged))
		case len(w.Genuine) < 2:
			return fmt.Errorf("%s: writer %s has %d genuine signature(s), at least 2 needed", p, w.Name, len(w.Genuine))
		}
	}
	return nil
}

// readDuplicates reads a set's DuplicatesFile, if it has one: listed scan
// → the scan it duplicates.
func readDuplicates(src *imageset.Source) (map[string]string, error) {
	raw, err := fs.ReadFile(src.FS, DuplicatesFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(DuplicatesFile), err)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = 2
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(DuplicatesFile), err)
	}
	dups := map[string]string{}
	for i, row := range rows {
		if i == 0 && row[0] == "file" {
			continue
		}
		if row[0] == row[1] || dups[row[1]] != "" {
			return nil, fmt.Errorf("%s: line %d: %s and %s cannot be a duplicate pair", src.Where(DuplicatesFile), i+1, row[0], row[1])
		}
		dups[path.Clean(row[0])] = path.Clean(row[1])
	}
	return dups, nil
}

// Pool reads several sets into one writer pool: the writers of each set
// (Load; a folder holding one zip is read from the zip, named after the
// folder), with exact duplicate scans across the pool dropped, each with a
// warning naming both places. Two sets of one name are refused.
func Pool(sets []string, pre core.Preprocess, log *slog.Logger) ([]*Writer, error) {
	if log == nil {
		log = slog.Default()
	}
	var all []*Writer
	names := map[string]string{}
	for _, p := range sets {
		name := setName(p)
		if q, ok := names[name]; ok {
			return nil, fmt.Errorf("signature: two data sets named %s (%s and %s)", name, q, p)
		}
		names[name] = p
		// A set folder holding one zip is read from the zip (the shared
		// layout).
		ws, err := load(datadir.Archive(p, "*.zip"), name, pre)
		if err != nil {
			return nil, err
		}
		all = append(all, ws...)
	}
	seen := map[uint64]string{}
	drop := func(w *Writer, xs [][]float32, at []string) ([][]float32, []string) {
		var keptX [][]float32
		var keptAt []string
		for i, x := range xs {
			h := hashInput(x)
			if first, ok := seen[h]; ok {
				log.Warn("duplicate scan dropped", "scan", at[i], "same_as", first, "writer", w.ID())
				continue
			}
			seen[h] = at[i]
			keptX, keptAt = append(keptX, x), append(keptAt, at[i])
		}
		return keptX, keptAt
	}
	for _, w := range all {
		w.Genuine, w.genuineAt = drop(w, w.Genuine, w.genuineAt)
		w.Forged, w.forgedAt = drop(w, w.Forged, w.forgedAt)
	}
	if err := checkWriters(strings.Join(sets, ", "), all); err != nil {
		return nil, err
	}
	return all, nil
}

// hashInput hashes a prepared input: the same scan prepares the same.
func hashInput(x []float32) uint64 {
	h := fnv.New64a()
	var b [4]byte
	for _, v := range x {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return h.Sum64()
}

// Options are the domain's options (core.DomainOptions.Extra).
type Options struct {
	Test, Val int      // writers held out for testing and for validation and calibration
	SplitSeed int      // which writers
	TestSet   string   // all writers of this set are the test (cross-data-set)
	More      []string // further sets joining the pool
	Random    float64  // share of negative pairs of two writers' genuine signatures
}

// MoreFolder is the set beside the data folder that joins the pool by
// default (option more).
const MoreFolder = "signatures_nfi"

// ParseOptions reads the domain options: test and val, the writers held
// out for testing (default 10) and for validation and calibration (default
// 6), drawn from each set in proportion to its size; split_seed (default
// 1); test_set, a set whose writers are all the test writers (none of them
// trains); more (comma-separated folders or zips of further sets; default
// the folder signatures_nfi beside the data folder when there is one;
// "none" for none); random_forgeries, the share of negative pairs that
// pair a genuine signature with another writer's (default 0.2; the rest
// are skilled forgeries).
func ParseOptions(o core.DomainOptions) (Options, error) {
	var opt Options
	var err error
	if opt.Test, err = o.Int("test", 10); err != nil {
		return opt, err
	}
	if opt.Val, err = o.Int("val", 6); err != nil {
		return opt, err
	}
	if opt.SplitSeed, err = o.Int("split_seed", 1); err != nil {
		return opt, err
	}
	if opt.Random, err = o.Float("random_forgeries", 0.2); err == nil && (opt.Random < 0 || opt.Random > 1) {
		err = fmt.Errorf("option random_forgeries=%g: want a share in [0,1]", opt.Random)
	}
	if err != nil {
		return opt, err
	}
	opt.TestSet = strings.TrimSpace(o.Extra["test_set"])
	if more, ok := o.List("more"); ok {
		opt.More = more
	} else if p := datadir.Beside(o.DataDir, MoreFolder); p != "" {
		opt.More = []string{p}
	}
	return opt, nil
}

// Open loads the writers of o.DataDir and of the further sets (option
// more) into one pool and splits it by writer; see ParseOptions.
func Open(o core.DomainOptions) (*Domain, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("signature: no data folder given (set --data or SIAMESE_DATA)")
	}
	input := DefaultInput
	if len(o.Input) == 3 {
		input = o.Input
	}
	opt, err := ParseOptions(o)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	pre := Preprocess(input)
	sets := []string{o.DataDir}
	for _, m := range opt.More {
		if _, err := os.Stat(m); err != nil {
			return nil, fmt.Errorf("signature: option more: %w", err)
		}
		sets = append(sets, m)
	}
	writers, err := Pool(sets, pre, nil)
	if err != nil {
		return nil, err
	}
	test, val, trn, err := split(writers, opt)
	if err != nil {
		return nil, fmt.Errorf("signature: %s: %w", strings.Join(sets, ", "), err)
	}
	d := &Domain{Writers: writers, Test: test, Val: val, Train: trn}
	d.Domain = &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "2", Policy: Policy, InputKind: "image",
			Input:      core.InputSpec{Kind: core.Dense, Shape: input},
			Spec:       Spec(input),
			Preprocess: pre,
			Rule:       &Rule,
		},
		Splits: map[string]imageset.Batcher{
			"train":    &sampler{writers: writers, use: d.Train, random: opt.Random, h: input[1], w: input[2]},
			"trainval": &sampler{writers: writers, use: append(append([]int(nil), d.Train...), d.Val...), random: opt.Random, h: input[1], w: input[2]},
		},
		Tasks: map[string]func(context.Context) ([]core.Episode, error){},
	}
	for name, use := range map[string][]int{"test": d.Test, "val": d.Val} {
		if len(use) > 0 {
			d.Tasks[name] = func(context.Context) ([]core.Episode, error) { return d.VerificationEpisodes(use, References, 1) }
		}
	}
	return d, nil
}

// split holds writers out for testing and validation, from each set in
// proportion to its size (or all of opt.TestSet for testing), by a seeded
// permutation; the rest train.
func split(writers []*Writer, opt Options) (test, val, trn []int, err error) {
	var sets []string
	bySet := map[string][]int{}
	for i, w := range writers {
		if bySet[w.Set] == nil {
			sets = append(sets, w.Set)
		}
		bySet[w.Set] = append(bySet[w.Set], i)
	}
	rng := rand.New(rand.NewPCG(uint64(opt.SplitSeed), 0x5167))
	for _, s := range sets {
		idx := bySet[s]
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
	}
	pool := sets
	if opt.TestSet != "" {
		if bySet[opt.TestSet] == nil {
			return nil, nil, nil, fmt.Errorf("option test_set=%s: no such set (the sets are %s)", opt.TestSet, strings.Join(sets, ", "))
		}
		test = append(test, bySet[opt.TestSet]...)
		pool = slices.DeleteFunc(slices.Clone(sets), func(s string) bool { return s == opt.TestSet })
	}
	sizes := make([]int, len(pool))
	total := 0
	for i, s := range pool {
		sizes[i] = len(bySet[s])
		total += sizes[i]
	}
	nTest := opt.Test
	if opt.TestSet != "" {
		nTest = 0
	}
	if total < nTest+opt.Val+2 {
		return nil, nil, nil, fmt.Errorf("%d writers to split; %d test + %d validation + 2 training needed", total, nTest, opt.Val)
	}
	ts, vs := shares(nTest, sizes), shares(opt.Val, sizes)
	for i, s := range pool {
		idx := bySet[s]
		t, v := min(ts[i], len(idx)), min(vs[i], len(idx)-min(ts[i], len(idx)))
		test = append(test, idx[:t]...)
		val = append(val, idx[t:t+v]...)
		trn = append(trn, idx[t+v:]...)
	}
	if len(trn) < 2 {
		return nil, nil, nil, fmt.Errorf("%d training writers left after %d test and %d validation; at least 2 needed", len(trn), len(test), len(val))
	}
	return test, val, trn, nil
}

// shares divides n among groups in proportion to their sizes (largest
// remainder), never giving a group all its members while another has none
// to spare.
func shares(n int, sizes []int) []int {
	total := 0
	for _, s := range sizes {
		total += s
	}
	out := make([]int, len(sizes))
	if total == 0 || n == 0 {
		return out
	}
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	given := 0
	for i, s := range sizes {
		q := float64(n) * float64(s) / float64(total)
		out[i] = int(q)
		given += out[i]
		rems = append(rems, rem{i, q - float64(out[i])})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; given < n; k++ {
		out[rems[k%len(rems)].i]++
		given++
	}
	return out
}

// Validate implements core.Validator: 1 − the EER of the validation
// writers (skilled forgeries as negatives) scored by the domain's Rule.
func (d *Domain) Validate(ctx context.Context, m *core.Model) (float64, error) {
	eps, err := d.Episodes(ctx, "val")
	if err != nil {
		return 0, err
	}
	rule := Rule
	if m.Rule != nil {
		rule = *m.Rule
	}
	v, err := metrics.VerifyEnrolled(ctx, m, eps, rule)
	if err != nil {
		return 0, err
	}
	return 1 - v.EER, nil
}

// VerificationEpisodes makes episodes of the writers so that every genuine
// signature and every skilled forgery is questioned once against k
// genuine references of its writer (label 0 genuine, 1 forged): a writer's
// genuine signatures are shuffled and taken in turns as the questioned
// ones, each turn against k of the others (fewer when the writer has fewer
// than k+1); the forgeries are questioned in the first. Scoring each
// questioned signature against the references gives the genuine and
// skilled-forgery pairs of the writer-independent protocol.
func (d *Domain) VerificationEpisodes(writers []int, k int, seed uint64) ([]core.Episode, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5e9))
	var eps []core.Episode
	for _, wi := range writers {
		w := d.Writers[wi]
		if len(w.Genuine) < 2 {
			continue
		}
		kk := min(k, len(w.Genuine)-1)
		perm := rng.Perm(len(w.Genuine))
		per := len(w.Genuine) - kk // questioned genuine signatures a turn
		for first := 0; first < len(perm); first += per {
			var ep core.Episode
			q := perm[first:min(first+per, len(perm))]
			for _, p := range q {
				ep.Query = append(ep.Query, core.Item{Dense: w.Genuine[p]})
				ep.QueryLabel = append(ep.QueryLabel, 0)
			}
			// The references: the k signatures after this turn's, cyclically.
			for j := 0; j < kk; j++ {
				p := perm[(first+len(q)+j)%len(perm)]
				ep.Support = append(ep.Support, core.Item{Dense: w.Genuine[p]})
				ep.SupportLabel = append(ep.SupportLabel, 0)
			}
			if first == 0 {
				for _, f := range w.Forged {
					ep.Query = append(ep.Query, core.Item{Dense: f})
					ep.QueryLabel = append(ep.QueryLabel, 1)
				}
			}
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("signature: no writer with 2 genuine signatures to evaluate")
	}
	return eps, nil
}

// sampler draws writer-balanced batches: per writer some genuine
// signatures and some skilled forgeries; positives pair two genuine
// signatures of a writer, negatives a genuine signature with a forgery of
// the same writer (or, for a share, with another writer's genuine one).
type sampler struct {
	writers []*Writer
	use     []int
	random  float64
	h, w    int
}

// Batch implements imageset.Batcher.
func (s *sampler) Batch(req core.PairRequest, step int) (*core.Batch, error) {
	if len(s.use) < 2 {
		return nil, fmt.Errorf("signature pairs need at least 2 writers, the split has %d", len(s.use))
	}
	rng := imageset.StepRand(req.Seed, step)
	const perWriter = 8 // 5 genuine, 3 forged (fewer if the writer has fewer)
	nw := min(max(req.Items/perWriter, 2), len(s.use))
	order := rng.Perm(len(s.use))[:nw]
	bt := &core.Batch{}
	type tag struct {
		writer int
		forged bool
	}
	var tags []tag
	add := func(x []float32, wi int, forged bool) {
		if req.Augment {
			x = Augment.Apply(x, 1, s.h, s.w, rng)
		}
		bt.Items = append(bt.Items, core.Item{Dense: x})
		tags = append(tags, tag{wi, forged})
	}
	for n, o := range order {
		w := s.writers[s.use[o]]
		room := req.Items - len(bt.Items)
		left := nw - n
		quota := room / left
		nf := min(len(w.Forged), quota*3/8)
		ng := min(len(w.Genuine), quota-nf)
		for _, p := range rng.Perm(len(w.Genuine))[:ng] {
			add(w.Genuine[p], o, false)
		}
		if len(w.Forged) > 0 {
			for _, p := range rng.Perm(len(w.Forged))[:nf] {
				add(w.Forged[p], o, true)
			}
		}
	}
	var pos, skilled, other [][2]int
	for a := range tags {
		if tags[a].forged {
			continue
		}
		for b := range tags {
			switch {
			case a == b:
			case tags[b].writer == tags[a].writer && !tags[b].forged && b > a:
				pos = append(pos, [2]int{a, b})
			case tags[b].writer == tags[a].writer && tags[b].forged:
				skilled = append(skilled, [2]int{a, b})
			case tags[b].writer != tags[a].writer && !tags[b].forged && b > a:
				other = append(other, [2]int{a, b})
			}
		}
	}
	if len(pos) == 0 {
		return nil, fmt.Errorf("batch of %d signatures has no genuine pair", len(bt.Items))
	}
	// Asked for more pairs than there are genuine and skilled ones (for a
	// batch-wide loss): every genuine and every skilled pair, then pairs of
	// two writers' genuine signatures (random forgeries) for the rest, and
	// repeats of any if the batch has fewer pairs than asked.
	if req.Pairs >= len(pos)+len(skilled) {
		rng.Shuffle(len(other), func(a, b int) { other[a], other[b] = other[b], other[a] })
		all := append(append(append([][2]int(nil), pos...), skilled...), other...)
		for i := 0; i < req.Pairs; i++ {
			p := all[i%len(all)]
			if i >= len(all) {
				p = all[rng.IntN(len(all))]
			}
			y := float32(0)
			if i < len(pos) {
				y = 1
			} else if i >= len(all) && tags[p[0]].writer == tags[p[1]].writer && !tags[p[1]].forged {
				y = 1
			}
			bt.A, bt.B, bt.Y = append(bt.A, p[0]), append(bt.B, p[1]), append(bt.Y, y)
		}
		return bt, nil
	}
	for i := 0; i < req.Pairs/2; i++ {
		p := pos[rng.IntN(len(pos))]
		bt.A, bt.B, bt.Y = append(bt.A, p[0]), append(bt.B, p[1]), append(bt.Y, 1)
	}
	for len(bt.A) < req.Pairs {
		var p [2]int
		if len(skilled) > 0 && (len(other) == 0 || rng.Float64() >= s.random) {
			p = skilled[rng.IntN(len(skilled))]
		} else {
			p = other[rng.IntN(len(other))]
		}
		bt.A, bt.B, bt.Y = append(bt.A, p[0]), append(bt.B, p[1]), append(bt.Y, 0)
	}
	return bt, nil
}
