// Package signature is the offline signature verification domain: writers
// with genuine signatures and skilled forgeries, SigNet's preprocessing
// (Otsu background removal, ink bright, cropped to the ink and scaled
// keeping the aspect ratio), pairs genuine–genuine (same) and
// genuine–forgery of one writer (different), and writer-disjoint splits.
//
// Layouts, in a folder or a zip: SigComp/Kaggle (NNN/ genuine, NNN_forg/
// forged), CEDAR (full_org/original_W_N.png, full_forg/forgeries_W_N.png)
// and a generic WRITER/genuine/ and WRITER/forged/ tree. The label comes
// from the folder, never from the file name.
//
// It registers itself as "signature"; import it for its side effect.
package signature

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io/fs"
	"math/rand/v2"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/siamesenet/siamese/core"
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
// against References genuine references each), the recipe of the
// published protocol (900 steps with augmentation), and references of 2
// to 20 genuine signatures a writer, verified by the domain's Rule.
var Policy = core.Policy{
	DataFolder: "signatures",
	ValTask:    "val",
	Recipe:     core.Recipe{Steps: 900, Augment: true},
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

// Tower is the default signature tower for an input.
func Tower(input []int) json.RawMessage {
	tc, _ := json.Marshal(map[string]any{"input": input, "blocks": []map[string]int{
		{"filters": 32, "kernel": 5, "pool": 2}, {"filters": 64, "kernel": 3, "pool": 2}, {"filters": 64, "kernel": 3, "pool": 2}},
		"embed": 128, "activation": "none"})
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
	Name    string
	Genuine [][]float32
	Forged  [][]float32
}

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

// Load reads the writers of a folder or zip in any of the layouts. Scans
// are decoded and reduced a few at a time (one per core), so memory stays
// bounded however large they are.
func Load(p string, pre core.Preprocess) ([]*Writer, error) {
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
	var files []file
	err = fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !imageset.IsImage(p) || strings.HasPrefix(path.Base(p), ".") || strings.HasPrefix(p, "__MACOSX") {
			return nil
		}
		w, f := classify(p)
		files = append(files, file{p, w, f})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no signature images found", p)
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
		w := byName[f.writer]
		if w == nil {
			w = &Writer{Name: f.writer}
			byName[f.writer] = w
			writers = append(writers, w)
		}
		if f.forged {
			w.Forged = append(w.Forged, items[i])
		} else {
			w.Genuine = append(w.Genuine, items[i])
		}
	}
	sort.Slice(writers, func(a, b int) bool { return writers[a].Name < writers[b].Name })
	for _, w := range writers {
		if len(w.Genuine) < 2 {
			return nil, fmt.Errorf("%s: writer %s has %d genuine signature(s), at least 2 needed", p, w.Name, len(w.Genuine))
		}
	}
	return writers, nil
}

// Open loads the writers of o.DataDir. Options (o.Extra): "test" and "val",
// the writers held out for testing (default 6) and for calibration
// (default 2); "split_seed" (default 1); "random_forgeries", the share of
// negative pairs that pair a genuine signature with another writer's
// (default 0.2; the rest are skilled forgeries).
func Open(o core.DomainOptions) (*Domain, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("signature: no data folder given (set --data or SIAMESE_DATA)")
	}
	input := DefaultInput
	if len(o.Input) == 3 {
		input = o.Input
	}
	nTest, err := o.Int("test", 6)
	if err != nil {
		return nil, err
	}
	nVal, err := o.Int("val", 2)
	if err != nil {
		return nil, err
	}
	seed, err := o.Int("split_seed", 1)
	if err != nil {
		return nil, err
	}
	randomShare, err := o.Float("random_forgeries", 0.2)
	if err == nil && (randomShare < 0 || randomShare > 1) {
		err = fmt.Errorf("option random_forgeries=%g: want a share in [0,1]", randomShare)
	}
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	pre := Preprocess(input)
	writers, err := Load(datadir.Archive(o.DataDir, "sign_data*.zip"), pre)
	if err != nil {
		return nil, err
	}
	n := len(writers)
	if n < nTest+nVal+2 {
		return nil, fmt.Errorf("signature: %s has %d writers; %d test + %d validation + 2 training needed", o.DataDir, n, nTest, nVal)
	}
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5167)).Perm(n)
	d := &Domain{Writers: writers, Test: perm[:nTest], Val: perm[nTest : nTest+nVal], Train: perm[nTest+nVal:]}
	d.Domain = &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "1", Policy: Policy, InputKind: "image",
			Input:      core.InputSpec{Kind: core.Dense, Shape: input},
			Spec:       core.Spec{Tower: "cnn", TowerConfig: Tower(input), Head: "contrastive", HeadConfig: json.RawMessage(`{"margin":2}`)},
			Preprocess: pre,
			Rule:       &Rule,
		},
		Splits: map[string]imageset.Batcher{
			"train":    &sampler{writers: writers, use: d.Train, random: randomShare, h: input[1], w: input[2]},
			"trainval": &sampler{writers: writers, use: append(append([]int(nil), d.Train...), d.Val...), random: randomShare, h: input[1], w: input[2]},
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

// VerificationEpisodes makes one episode per writer: k genuine
// signatures are the references (label 0); the writer's other genuine
// signatures (label 0) and skilled forgeries (label 1) are questioned.
// Scoring each questioned signature against the references gives the
// genuine and skilled-forgery pairs of the writer-independent protocol.
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
		var ep core.Episode
		for j, p := range perm {
			if j < kk {
				ep.Support = append(ep.Support, core.Item{Dense: w.Genuine[p]})
				ep.SupportLabel = append(ep.SupportLabel, 0)
			} else {
				ep.Query = append(ep.Query, core.Item{Dense: w.Genuine[p]})
				ep.QueryLabel = append(ep.QueryLabel, 0)
			}
		}
		for _, f := range w.Forged {
			ep.Query = append(ep.Query, core.Item{Dense: f})
			ep.QueryLabel = append(ep.QueryLabel, 1)
		}
		eps = append(eps, ep)
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
