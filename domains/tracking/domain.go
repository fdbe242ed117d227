package tracking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
)

// Name is the registered name of the domain.
const Name = "tracking"

// DefaultTest is the sequence kept out of training unless option test says
// otherwise (the OTB sequence the example evaluates on).
const DefaultTest = "Crossing"

// Spec is the domain's default model: the "small" fully-convolutional
// tower (96×96 RGB search crops, 18×18 maps at a stride of 4) and the
// cross-correlation head over its centre 6×6 (a 48×48 exemplar).
var Spec = core.Spec{
	Tower: "fconv", TowerConfig: json.RawMessage(`{"preset":"small"}`),
	Head: "xcorr", HeadConfig: json.RawMessage(`{"exemplar":6,"radius":2,"normalize":true,"focus":0.3}`),
}

// crop geometry of the default spec: search crops of In pixels cover
// Ratio times the exemplar's context square.
const (
	cropIn    = 96
	cropRatio = 2.0
)

func init() {
	core.RegisterDomain(Name, func(o core.DomainOptions) (core.Domain, error) { return OpenDomain(o) }, Policy)
}

// Policy is the tracking domain's policy: calibration on pairs from the
// held-out end of each sequence, and small batches of crops (24 items, 16
// pairs, validation every 200 steps).
var Policy = core.Policy{DataFolder: "tracking", ValTask: "val", Recipe: core.Recipe{Items: 24, Pairs: 16, ValEvery: 200}}

// Domain serves training pairs of crops from video sequences: an exemplar
// around the target in one frame, and search regions of a frame at most
// Gap frames away, centred on the target (same) or away from it
// (different). Evaluation of whole tracks is Track and Evaluate's job; the
// domain's task "val" scores such pairs from the held-out end of each
// training sequence.
type Domain struct {
	*imageset.Domain
	Videos []*Video
}

// Video is a sequence decoded for training.
type Video struct {
	Name   string
	Frames []*Image
	Boxes  []Box
}

// OpenDomain opens the sequences under o.DataDir (a folder of sequence
// zips or folders). Options: test (the sequence never trained on; default
// Crossing), train (comma-separated names; default all but test), gap
// (largest frame distance within a pair; default 50), val (share of each
// sequence's last frames held out for validation; default 0.2), patches
// (share of training groups cut around random boxes of a frame rather than
// the annotated target; default 0.5).
func OpenDomain(o core.DomainOptions) (*Domain, error) {
	if o.DataDir == "" {
		return nil, errors.New("tracking: no data folder given (set --data or SIAMESE_DATA)")
	}
	gap, err := o.Int("gap", 50)
	if err == nil && gap < 1 {
		err = fmt.Errorf("option gap=%d: want at least 1", gap)
	}
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	val, err := o.Float("val", 0.2)
	if err == nil && (val < 0 || val >= 0.9) {
		err = fmt.Errorf("option val=%g: want a share in [0, 0.9)", val)
	}
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	test := DefaultTest
	if v, ok := o.Extra["test"]; ok {
		test = v
	}
	seqs, closeAll, err := OpenAll(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	defer closeAll()
	var use []*Sequence
	if names, ok := o.Extra["train"]; ok && names != "" {
		for _, n := range strings.Split(names, ",") {
			s, err := Find(seqs, strings.TrimSpace(n))
			if err != nil {
				return nil, fmt.Errorf("tracking: option train: %w", err)
			}
			if strings.EqualFold(s.Name, test) {
				return nil, fmt.Errorf("tracking: sequence %s is both the test and a training sequence", s.Name)
			}
			use = append(use, s)
		}
	} else {
		for _, s := range seqs {
			if !strings.EqualFold(s.Name, test) {
				use = append(use, s)
			}
		}
	}
	if len(use) == 0 {
		return nil, fmt.Errorf("tracking: %s has no training sequence besides the test sequence %s", o.DataDir, test)
	}
	d := &Domain{}
	for _, s := range use {
		frames, err := Images(s)
		if err != nil {
			return nil, fmt.Errorf("tracking: %w", err)
		}
		d.Videos = append(d.Videos, &Video{Name: s.Name, Frames: frames, Boxes: s.Boxes})
	}
	cut := func(v *Video) int { return max(2, int(math.Round(float64(len(v.Frames))*(1-val)))) }
	patches, err := o.Float("patches", 0.5)
	if err == nil && (patches < 0 || patches > 1) {
		err = fmt.Errorf("option patches=%g: want a share in [0,1]", patches)
	}
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	train := &sampler{gap: gap, patches: patches}
	all := &sampler{gap: gap, patches: patches}
	for _, v := range d.Videos {
		train.spans = append(train.spans, span{v, 0, cut(v)})
		all.spans = append(all.spans, span{v, 0, len(v.Frames)})
	}
	d.Domain = &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "1", Policy: Policy, InputKind: "video",
			Input:      core.InputSpec{Kind: core.Dense, Shape: []int{3, cropIn, cropIn}},
			Spec:       Spec,
			Preprocess: core.Preprocess{Kind: "image", Width: cropIn, Height: cropIn, Channels: 3},
		},
		Splits: map[string]imageset.Batcher{"train": train, "trainval": all},
		Tasks:  map[string]func(context.Context) ([]core.Episode, error){},
	}
	if val > 0 {
		var held []span
		for _, v := range d.Videos {
			if c := cut(v); len(v.Frames)-c >= 2 {
				held = append(held, span{v, c, len(v.Frames)})
			}
		}
		if len(held) > 0 {
			d.Tasks["val"] = func(context.Context) ([]core.Episode, error) { return episodes(held, gap, 40), nil }
		}
	}
	return d, nil
}

// Decode implements core.Domain: an image becomes a search crop of the
// whole frame (its longer side).
func (d *Domain) Decode(raw []byte) (core.Item, error) {
	img, err := imageset.Decode(raw)
	if err != nil {
		return core.Item{}, err
	}
	im := NewImage(img)
	x := make([]float32, 3*cropIn*cropIn)
	im.Crop(float64(im.W)/2, float64(im.H)/2, float64(max(im.W, im.H)), cropIn, x)
	Standardize(x, cropIn*cropIn)
	return core.Item{Dense: x}, nil
}

// span is the frames [lo, hi) of a video that a sampler may use.
type span struct {
	v      *Video
	lo, hi int
}

// sampler makes batches of groups (exemplar, search centred on the
// target, search away from it): pairs alternate same and different.
type sampler struct {
	spans   []span
	gap     int
	patches float64 // share of groups made of random patches of one frame
}

// Batch implements imageset.Batcher.
func (s *sampler) Batch(req core.PairRequest, step int) (*core.Batch, error) {
	if req.Items < 3 {
		return nil, fmt.Errorf("tracking batches need at least 3 items (exemplar, target, background), got %d", req.Items)
	}
	rng := imageset.StepRand(req.Seed, step)
	k := req.Items / 3
	bt := &core.Batch{}
	total := 0
	for _, sp := range s.spans {
		total += sp.hi - sp.lo
	}
	for g := 0; g < k; g++ {
		r := rng.IntN(total)
		sp := s.spans[0]
		for _, c := range s.spans {
			if r < c.hi-c.lo {
				sp = c
				break
			}
			r -= c.hi - c.lo
		}
		i := sp.lo + r
		j := max(sp.lo, min(sp.hi-1, i+rng.IntN(2*s.gap+1)-s.gap))
		var ex, pos, neg []float32
		if rng.Float64() < s.patches {
			ex, pos, neg = patchCrops(sp.v.Frames[i], req.Augment, rng)
		} else {
			ex, pos, neg = groupCrops(sp.v, i, j, req.Augment, rng)
		}
		bt.Items = append(bt.Items, core.Item{Dense: ex}, core.Item{Dense: pos}, core.Item{Dense: neg})
	}
	for p := 0; p < req.Pairs; p++ {
		g := (p / 2) % k
		bt.A = append(bt.A, 3*g)
		if p%2 == 0 {
			bt.B = append(bt.B, 3*g+1)
			bt.Y = append(bt.Y, 1)
		} else {
			bt.B = append(bt.B, 3*g+2)
			bt.Y = append(bt.Y, 0)
		}
	}
	return bt, nil
}

// groupCrops cuts the exemplar from frame i and the two search regions
// from frame j of v; with augment, sides are stretched a little, the
// group may be mirrored and each crop's colours jittered.
func groupCrops(v *Video, i, j int, augment bool, rng *rand.Rand) (ex, pos, neg []float32) {
	stretch := func(amount float64) float64 {
		if !augment {
			return 1
		}
		return 1 + amount*(2*rng.Float64()-1)
	}
	bi, bj := v.Boxes[i], v.Boxes[j]
	ex = make([]float32, 3*cropIn*cropIn)
	pos = make([]float32, 3*cropIn*cropIn)
	neg = make([]float32, 3*cropIn*cropIn)
	cx, cy := bi.Center()
	v.Frames[i].Crop(cx, cy, ContextSide(bi)*cropRatio*stretch(0.025), cropIn, ex)
	side := ContextSide(bj) * cropRatio * stretch(0.05)
	cx, cy = bj.Center()
	v.Frames[j].Crop(cx, cy, side, cropIn, pos)
	nx, ny := awayFrom(bj, side, v.Frames[j].W, v.Frames[j].H, rng)
	v.Frames[j].Crop(nx, ny, side, cropIn, neg)
	finish(ex, pos, neg, augment, rng)
	return ex, pos, neg
}

// finish augments a group (mirrored together, colours jittered one by
// one) and standardises each crop.
func finish(ex, pos, neg []float32, augment bool, rng *rand.Rand) {
	if augment {
		if rng.IntN(2) == 0 {
			for _, x := range [][]float32{ex, pos, neg} {
				mirror(x, cropIn)
			}
		}
		for _, x := range [][]float32{ex, pos, neg} {
			jitter(x, cropIn*cropIn, rng)
		}
	}
	for _, x := range [][]float32{ex, pos, neg} {
		Standardize(x, cropIn*cropIn)
	}
}

// patchCrops makes a group around a random box of a frame: the exemplar
// is the box in its context; the target search region is the box's pixels
// pasted at the centre of a crop of somewhere else, and the background
// search region is the exemplar's own surroundings with another box's
// pixels pasted over the target. Only the box's content tells the two
// apart, so the tower learns to match the object in the middle of the
// exemplar rather than its surroundings (which, for a static camera, stay
// where the target was).
func patchCrops(f *Image, augment bool, rng *rand.Rand) (ex, pos, neg []float32) {
	const n = cropIn
	randomBox := func(w, h float64) Box {
		return Box{X: rng.Float64() * (float64(f.W) - w), Y: rng.Float64() * (float64(f.H) - h), W: w, H: h}
	}
	area := float64(f.W*f.H) * (0.005 + 0.08*rng.Float64())
	aspect := math.Exp((2*rng.Float64() - 1) * math.Log(3))
	w, h := min(math.Sqrt(area*aspect), float64(f.W)-2), min(math.Sqrt(area/aspect), float64(f.H)-2)
	b := randomBox(w, h)
	side := ContextSide(b) * cropRatio
	crop := func(x, y, side float64) []float32 {
		c := make([]float32, 3*n*n)
		f.Crop(x, y, side, n, c)
		return c
	}
	cx, cy := b.Center()
	ex = crop(cx, cy, side)
	stretch := 1.0
	if augment {
		stretch = 1 + 0.05*(2*rng.Float64()-1)
	}
	sSide := side * stretch
	obj := crop(cx, cy, sSide)
	other := randomBox(w, h)
	ox, oy := other.Center()
	distractor := crop(ox, oy, sSide)
	// the box within a search crop, in crop pixels
	bw, bh := int(math.Round(w*n/sSide)), int(math.Round(h*n/sSide))
	paste := func(dst, src []float32) {
		top, left := (n-bh)/2, (n-bw)/2
		for c := 0; c < 3; c++ {
			for i := max(0, top); i < min(n, top+bh); i++ {
				row := (c*n + i) * n
				copy(dst[row+max(0, left):row+min(n, left+bw)], src[row+max(0, left):row+min(n, left+bw)])
			}
		}
	}
	bx, by := awayFrom(b, sSide, f.W, f.H, rng)
	pos = crop(bx, by, sSide)
	paste(pos, obj)
	// The background search region is the exemplar's own surroundings
	// with another box's pixels where the target was: the target has gone
	// and the context has stayed, as with a static camera.
	neg = crop(cx, cy, sSide)
	paste(neg, distractor)
	finish(ex, pos, neg, augment, rng)
	return ex, pos, neg
}

// awayFrom picks the centre of a square of the given side that does not
// overlap box b, inside the frame when it can.
func awayFrom(b Box, side float64, w, h int, rng *rand.Rand) (float64, float64) {
	tx, ty := b.Center()
	for try := 0; try < 30; try++ {
		x, y := rng.Float64()*float64(w), rng.Float64()*float64(h)
		if math.Abs(x-tx) > (side+b.W)/2 || math.Abs(y-ty) > (side+b.H)/2 {
			return x, y
		}
	}
	// No room in the frame: just beside the target, mostly padding.
	if rng.IntN(2) == 0 {
		return tx + (side+b.W)/2 + 1, ty
	}
	return tx, ty - (side+b.H)/2 - 1
}

func mirror(x []float32, n int) {
	for c := 0; c < 3; c++ {
		for i := 0; i < n; i++ {
			row := x[(c*n+i)*n:][:n]
			for a, b := 0, n-1; a < b; a, b = a+1, b-1 {
				row[a], row[b] = row[b], row[a]
			}
		}
	}
}

// jitter changes brightness, contrast and the balance of the channels of
// a [3,plane] crop, and now and then makes it gray.
func jitter(x []float32, plane int, rng *rand.Rand) {
	bright := float32(0.16 * (rng.Float64() - 0.5))
	contrast := float32(0.85 + 0.3*rng.Float64())
	gray := rng.IntN(10) == 0
	for c := 0; c < 3; c++ {
		gain := float32(0.92 + 0.16*rng.Float64())
		for k, v := range x[c*plane : (c+1)*plane] {
			x[c*plane+k] = max(0, min(1, ((v-0.5)*contrast+0.5+bright)*gain))
		}
	}
	if gray {
		for k := 0; k < plane; k++ {
			m := (x[k] + x[plane+k] + x[2*plane+k]) / 3
			x[k], x[plane+k], x[2*plane+k] = m, m, m
		}
	}
}

// episodes makes up to n verification episodes from the spans: the
// exemplar (label 0) against the search region centred on the target
// (label 0) and one away from it (label 1).
func episodes(spans []span, gap, n int) []core.Episode {
	rng := rand.New(rand.NewPCG(11, 0x7ac))
	var eps []core.Episode
	for k := 0; k < n; k++ {
		sp := spans[k%len(spans)]
		i := sp.lo + rng.IntN(sp.hi-sp.lo)
		j := max(sp.lo, min(sp.hi-1, i+rng.IntN(2*gap+1)-gap))
		ex, pos, neg := groupCrops(sp.v, i, j, false, rng)
		eps = append(eps, core.Episode{
			Support: []core.Item{{Dense: ex}}, SupportLabel: []int{0},
			Query: []core.Item{{Dense: pos}, {Dense: neg}}, QueryLabel: []int{0, 1},
		})
	}
	return eps
}
