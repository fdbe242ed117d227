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
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/internal/datadir"
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

// Policy is the tracking domain's policy: its recipe (1,000 steps of 24
// crops and 16 pairs, cosine schedule, augmented; the tracker validated on
// the validation sequences every 250 steps, best weights kept) and
// calibration on pairs of crops from the validation sequences.
var Policy = core.Policy{DataFolder: "tracking", ValTask: "val", Recipe: core.Recipe{Items: 24, Pairs: 16, Steps: 1000, Schedule: "cosine", Augment: true, ValEvery: 250}}

// DefaultValidation are the sequences held out for validation when
// present: VOT2015 bag (the tracking folder's other sequence) and five of
// tracking_train from all four of its sources (DAVIS, VOT, UAV123, OTB),
// chosen by name before any model was trained. Early
// stopping and every tracker setting (siamese track tune) are chosen on
// them; the test sequence is never looked at for a choice.
var DefaultValidation = []string{"vot15_bag", "davis_camel", "davis_soapbox", "vot_book", "uav_person12_1", "otb_couple"}

// TrainFolder is the folder beside the domain's data folder whose
// sequences join training by default (option more).
const TrainFolder = "tracking_train"

// Domain serves training pairs of crops from video sequences: an exemplar
// around the target in one frame, and search regions of a frame at most
// Gap frames away, centred on the target (same) or away from it
// (different). Evaluation of whole tracks is Track and Evaluate's job; the
// domain's task "val" scores such pairs from the validation sequences.
type Domain struct {
	*imageset.Domain
	// Videos are the training sequences, Validation the held-out ones.
	Videos     []*Video
	Validation []*Video
	// Test is the name of the sequence kept out of both.
	Test string
}

// Video is a sequence decoded for training.
type Video struct {
	Name   string
	Frames []*Image
	Boxes  []Box
}

// Options are the tracking domain's options, parsed.
type Options struct {
	Test       string   // the sequence never trained or validated on
	Validation []string // held-out sequences (nil: DefaultValidation, those present)
	Train      []string // training sequences (nil: all the others)
	More       []string // further folders of sequences
	Gap        int      // largest frame distance within a pair
	ValShare   float64  // without validation sequences: share of each sequence's end held out
	Patches    float64  // share of random-box groups
	MinTarget  float64  // frames whose target is narrower or lower (pixels) are not trained on
}

// ParseOptions reads the domain options: test (default Crossing),
// validation (comma-separated names; default DefaultValidation, those
// present; "none" for none), train (comma-separated names; default all
// but the test and validation ones), more (comma-separated folders of
// further sequences; default the folder tracking_train beside the data
// folder when there is one; "none" for none), gap (default 50), val (share
// of each sequence's last frames held out when there is no validation
// sequence; default 0.2), patches (default 0.5), min_target (default 4).
func ParseOptions(o core.DomainOptions) (Options, error) {
	opt := Options{Test: DefaultTest}
	if v, ok := o.Extra["test"]; ok {
		opt.Test = strings.TrimSpace(v)
	}
	opt.Validation, _ = o.List("validation")
	opt.Train, _ = o.List("train")
	if more, ok := o.List("more"); ok {
		opt.More = more
	} else if p := datadir.Beside(o.DataDir, TrainFolder); p != "" {
		opt.More = []string{p}
	}
	var err error
	if opt.Gap, err = o.Int("gap", 50); err == nil && opt.Gap < 1 {
		err = fmt.Errorf("option gap=%d: want at least 1", opt.Gap)
	}
	if err != nil {
		return opt, err
	}
	if opt.ValShare, err = o.Float("val", 0.2); err == nil && (opt.ValShare < 0 || opt.ValShare >= 0.9) {
		err = fmt.Errorf("option val=%g: want a share in [0, 0.9)", opt.ValShare)
	}
	if err != nil {
		return opt, err
	}
	if opt.Patches, err = o.Float("patches", 0.5); err == nil && (opt.Patches < 0 || opt.Patches > 1) {
		err = fmt.Errorf("option patches=%g: want a share in [0,1]", opt.Patches)
	}
	if err != nil {
		return opt, err
	}
	if opt.MinTarget, err = o.Float("min_target", 4); err == nil && (opt.MinTarget < 1 || opt.MinTarget > 1000) {
		err = fmt.Errorf("option min_target=%g: want pixels in [1, 1000]", opt.MinTarget)
	}
	return opt, err
}

// Split is which sequences train, validate and test.
type Split struct {
	Train, Validation []*Sequence
	Test              *Sequence // nil when the test sequence is not there
}

// OpenSplit opens every sequence of the data folder and the further
// folders, and splits them: the test sequence, the validation ones, and
// the rest (or the named ones) for training. A sequence name found twice
// is an error, as is a training set left empty. Close the returned closer
// when done.
func OpenSplit(dataDir string, opt Options) (Split, func(), error) {
	var all []*Sequence
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, dir := range append([]string{dataDir}, opt.More...) {
		seqs, c, err := OpenAll(dir)
		if err != nil {
			closeAll()
			return Split{}, nil, err
		}
		closers = append(closers, c)
		all = append(all, seqs...)
	}
	seen := map[string]bool{}
	for _, s := range all {
		k := strings.ToLower(s.Name)
		if seen[k] {
			closeAll()
			return Split{}, nil, fmt.Errorf("two sequences named %s (in %s and elsewhere)", s.Name, s.Source.Name)
		}
		seen[k] = true
	}
	var sp Split
	held := map[string]bool{strings.ToLower(opt.Test): true}
	if s, err := Find(all, opt.Test); err == nil {
		sp.Test = s
	}
	names := opt.Validation
	if names == nil {
		for _, n := range DefaultValidation {
			if _, err := Find(all, n); err == nil {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		s, err := Find(all, n)
		if err == nil && held[strings.ToLower(s.Name)] {
			err = fmt.Errorf("sequence %s is both the test and a validation sequence", s.Name)
			if !strings.EqualFold(s.Name, opt.Test) {
				err = fmt.Errorf("sequence %s is named twice", s.Name)
			}
		}
		if err != nil {
			closeAll()
			return Split{}, nil, fmt.Errorf("option validation: %w", err)
		}
		held[strings.ToLower(s.Name)] = true
		sp.Validation = append(sp.Validation, s)
	}
	if opt.Train != nil {
		trained := map[string]bool{}
		for _, n := range opt.Train {
			s, err := Find(all, n)
			if err == nil && held[strings.ToLower(s.Name)] {
				err = fmt.Errorf("sequence %s is both a training sequence and the test or a validation one", s.Name)
			}
			if err == nil && trained[strings.ToLower(s.Name)] {
				err = fmt.Errorf("sequence %s is named twice", s.Name)
			}
			if err == nil {
				trained[strings.ToLower(s.Name)] = true
			}
			if err != nil {
				closeAll()
				return Split{}, nil, fmt.Errorf("option train: %w", err)
			}
			sp.Train = append(sp.Train, s)
		}
	} else {
		for _, s := range all {
			if !held[strings.ToLower(s.Name)] {
				sp.Train = append(sp.Train, s)
			}
		}
	}
	if len(sp.Train) == 0 {
		closeAll()
		return Split{}, nil, fmt.Errorf("no training sequence left in %s once the test (%s) and %d validation sequences are set aside", strings.Join(append([]string{dataDir}, opt.More...), ", "), opt.Test, len(sp.Validation))
	}
	return sp, closeAll, nil
}

// ValidationVideos decodes the validation sequences the domain would
// declare with options o (the ones a model was trained with, say).
func ValidationVideos(o core.DomainOptions) ([]*Video, error) {
	_, sp, closeAll, err := openSplit(o)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	if len(sp.Validation) == 0 {
		return nil, fmt.Errorf("tracking: no validation sequence in %s (option validation names them; default %s)", o.DataDir, strings.Join(DefaultValidation, ", "))
	}
	v, err := decodeVideos(sp.Validation)
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	return v, nil
}

// openSplit parses the options and opens the split they describe.
func openSplit(o core.DomainOptions) (Options, Split, func(), error) {
	if o.DataDir == "" {
		return Options{}, Split{}, nil, errors.New("tracking: no data folder given (set --data or SIAMESE_DATA)")
	}
	opt, err := ParseOptions(o)
	if err != nil {
		return opt, Split{}, nil, fmt.Errorf("tracking: %w", err)
	}
	sp, closeAll, err := OpenSplit(o.DataDir, opt)
	if err != nil {
		return opt, Split{}, nil, fmt.Errorf("tracking: %w", err)
	}
	return opt, sp, closeAll, nil
}

// decodeVideos decodes sequences for training.
func decodeVideos(seqs []*Sequence) ([]*Video, error) {
	var out []*Video
	for _, s := range seqs {
		frames, err := Images(s)
		if err != nil {
			return nil, err
		}
		out = append(out, &Video{Name: s.Name, Frames: frames, Boxes: s.Boxes})
	}
	return out, nil
}

// OpenDomain opens the sequences under o.DataDir (a folder of sequence
// zips or folders) and the further folders of option more; see
// ParseOptions for the options.
func OpenDomain(o core.DomainOptions) (*Domain, error) {
	opt, sp, closeAll, err := openSplit(o)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	d := &Domain{Test: opt.Test}
	if d.Videos, err = decodeVideos(sp.Train); err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	if d.Validation, err = decodeVideos(sp.Validation); err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	train := &sampler{gap: opt.Gap, patches: opt.Patches}
	all := &sampler{gap: opt.Gap, patches: opt.Patches}
	var held []span
	for _, v := range d.Videos {
		cut := len(v.Frames)
		if len(d.Validation) == 0 {
			cut = max(2, int(math.Round(float64(len(v.Frames))*(1-opt.ValShare))))
		}
		if sp := newSpan(v, 0, cut, opt.MinTarget); sp != nil {
			train.spans = append(train.spans, *sp)
		}
		if sp := newSpan(v, 0, len(v.Frames), opt.MinTarget); sp != nil {
			all.spans = append(all.spans, *sp)
		}
		if sp := newSpan(v, cut, len(v.Frames), opt.MinTarget); sp != nil && len(sp.frames) >= 2 {
			held = append(held, *sp)
		}
	}
	for _, v := range d.Validation {
		if sp := newSpan(v, 0, len(v.Frames), opt.MinTarget); sp != nil && len(sp.frames) >= 2 {
			held = append(held, *sp)
		}
	}
	if len(train.spans) == 0 {
		return nil, fmt.Errorf("tracking: no training frame has a target of at least %g pixels (option min_target)", opt.MinTarget)
	}
	d.Domain = &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "2", Policy: Policy, InputKind: "video",
			Input:      core.InputSpec{Kind: core.Dense, Shape: []int{3, cropIn, cropIn}},
			Spec:       Spec,
			Preprocess: core.Preprocess{Kind: "image", Width: cropIn, Height: cropIn, Channels: 3},
		},
		Splits: map[string]imageset.Batcher{"train": train, "trainval": all},
		Tasks:  map[string]func(context.Context) ([]core.Episode, error){},
	}
	if len(held) > 0 {
		d.Tasks["val"] = func(context.Context) ([]core.Episode, error) { return episodes(held, opt.Gap, 60), nil }
	}
	return d, nil
}

// Validate implements core.Validator: the mean success AUC of the
// tracker (default settings) over the validation sequences, the score
// that early stopping and the choice of the best weights follow. Without
// validation sequences it is the val task's pair verification instead.
func (d *Domain) Validate(ctx context.Context, m *core.Model) (float64, error) {
	if len(d.Validation) == 0 {
		if !d.Describe().HasTask("val") {
			return 0, errors.New("tracking: nothing to validate on (no validation sequence, no held-out frames)")
		}
		return metrics.AccuracyOn(d, "val")(ctx, m)
	}
	var sum float64
	for _, v := range d.Validation {
		run, err := RunTracker(ctx, m, Params{}, v.Frames, v.Boxes)
		if err != nil {
			return 0, fmt.Errorf("validate on %s: %w", v.Name, err)
		}
		sum += run.Scores.SuccessAUC
	}
	return sum / float64(len(d.Validation)), nil
}

// TrainingSequences names the sequences the training pairs are drawn from
// (split "train"; "trainval" adds only the held-out end of each of them when
// there are no validation sequences, never a validation sequence).
func (d *Domain) TrainingSequences() []string { return d.Splits["train"].(*sampler).Names() }

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

// span is the frames of a video that a sampler may use: those of [lo, hi)
// whose target is present and at least the minimum size.
type span struct {
	v      *Video
	frames []int
}

func newSpan(v *Video, lo, hi int, minTarget float64) *span {
	sp := &span{v: v}
	for i := lo; i < hi; i++ {
		if b := v.Boxes[i]; !b.Absent() && b.W >= minTarget && b.H >= minTarget {
			sp.frames = append(sp.frames, i)
		}
	}
	if len(sp.frames) == 0 {
		return nil
	}
	return sp
}

// pick draws a pair of usable frames of the span at most gap frames apart.
func (sp *span) pick(gap int, rng *rand.Rand) (i, j int) {
	a := rng.IntN(len(sp.frames))
	i = sp.frames[a]
	lo, hi := a, a
	for lo > 0 && i-sp.frames[lo-1] <= gap {
		lo--
	}
	for hi < len(sp.frames)-1 && sp.frames[hi+1]-i <= gap {
		hi++
	}
	return i, sp.frames[lo+rng.IntN(hi-lo+1)]
}

// sampler makes batches of groups (exemplar, search centred on the
// target, search away from it): pairs alternate same and different. Each
// group draws a sequence first (each as likely as the others), then two
// of its frames at most gap apart.
type sampler struct {
	spans   []span
	gap     int
	patches float64 // share of groups made of random patches of one frame
}

// Names lists the sequences the sampler draws from.
func (s *sampler) Names() []string {
	var out []string
	for _, sp := range s.spans {
		out = append(out, sp.v.Name)
	}
	return out
}

// Batch implements imageset.Batcher.
func (s *sampler) Batch(req core.PairRequest, step int) (*core.Batch, error) {
	if req.Items < 3 {
		return nil, fmt.Errorf("tracking batches need at least 3 items (exemplar, target, background), got %d", req.Items)
	}
	rng := imageset.StepRand(req.Seed, step)
	k := req.Items / 3
	bt := &core.Batch{}
	for g := 0; g < k; g++ {
		sp := &s.spans[rng.IntN(len(s.spans))]
		i, j := sp.pick(s.gap, rng)
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
		sp := &spans[k%len(spans)]
		i, j := sp.pick(gap, rng)
		ex, pos, neg := groupCrops(sp.v, i, j, false, rng)
		eps = append(eps, core.Episode{
			Support: []core.Item{{Dense: ex}}, SupportLabel: []int{0},
			Query: []core.Item{{Dense: pos}, {Dense: neg}}, QueryLabel: []int{0, 1},
		})
	}
	return eps
}
