package tracking

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/heads/xcorr"
	"github.com/siamesenet/siamese/internal/ops"
	"github.com/siamesenet/siamese/towers/fconv"
)

// Params are the tracker's settings (SiamFC's defaults, Bertinetto et al.
// 2016).
type Params struct {
	Scales          int     `json:"scales"`           // search scales per frame (odd; default 3)
	ScaleStep       float64 `json:"scale_step"`       // ratio between scales (default 1.0375)
	ScalePenalty    float64 `json:"scale_penalty"`    // multiplies the peak of a changed scale (default 0.9745)
	ScaleLR         float64 `json:"scale_lr"`         // damping of the size update (default 0.59)
	WindowInfluence float64 `json:"window_influence"` // weight of the cosine window (default 0.176)
	Upsample        int     `json:"upsample"`         // response upsampling factor (default: the tower's stride)
	// NoFocus turns off the weighting of the exemplar's features by a
	// Gaussian the shape of the target's box (σ = half its width and
	// height), which keeps the context around a small target from
	// outweighing it.
	NoFocus bool `json:"no_focus,omitempty"`
	// Focus is σ of that Gaussian as a share of the box's width and
	// height (default 0.5).
	Focus float64 `json:"focus,omitempty"`
	// Raw keeps a head's plain cross-correlation instead of normalising
	// it at each position into a cosine (the norms of the exemplar and of
	// the search features under the weighted window), which keeps bright
	// or busy background from outscoring the target.
	Raw bool `json:"raw,omitempty"`
}

func (p Params) withDefaults(stride int) Params {
	if p.Scales == 0 {
		p.Scales = 3
	}
	if p.ScaleStep == 0 {
		p.ScaleStep = 1.0375
	}
	if p.ScalePenalty == 0 {
		p.ScalePenalty = 0.9745
	}
	if p.ScaleLR == 0 {
		p.ScaleLR = 0.59
	}
	if p.WindowInfluence == 0 {
		p.WindowInfluence = 0.176
	}
	if p.Upsample == 0 {
		p.Upsample = stride
	}
	if p.Focus == 0 {
		p.Focus = 0.5
	}
	return p
}

// Geometry is how a model's crops relate to boxes: a search crop of In×In
// pixels covers Ratio times the exemplar's context square, and one response
// cell is Stride crop pixels.
type Geometry struct {
	In     int
	Stride int
	Ratio  float64
	Head   *xcorr.Head
}

// GeometryOf checks that m is a tracking model (a fully-convolutional
// tower with 3-channel square input and the cross-correlation head) and
// returns its geometry.
func GeometryOf(m *core.Model) (Geometry, error) {
	tw, ok := m.Tower.(*fconv.Tower)
	h, ok2 := m.Head.(*xcorr.Head)
	if !ok || !ok2 {
		return Geometry{}, fmt.Errorf("not a tracking model: tower %s and head %s, want fconv and xcorr", m.Spec.Tower, m.Spec.Head)
	}
	c := tw.Config()
	if c.Input[0] != 3 || c.Input[1] != c.Input[2] {
		return Geometry{}, fmt.Errorf("tracking model input %v: want a square RGB crop", c.Input)
	}
	return Geometry{In: c.Input[1], Stride: c.Stride(), Ratio: float64(c.Input[1]) / float64(c.ExemplarPixels(h.Config().Exemplar)), Head: h}, nil
}

// Tracker follows one target with a SiamFC model: the exemplar's features
// are computed once from the first frame; each later frame is searched at
// a few scales around the last position.
type Tracker struct {
	m    *core.Model
	geo  Geometry
	p    Params
	z    []float32
	cx   float64
	cy   float64
	w, h float64
	sx   float64 // search square side in frame pixels (scale 1)
	minS float64
	maxS float64

	items  []core.Item
	mask   []float64 // per exemplar cell: its focus weight (nil: none)
	win2   []float64 // mask squared: the window weights of the search norm
	window []float64
	resp   []float32
	up     []float64
	peak   float64 // the last Update's best response
}

// NewTracker makes a tracker for model m.
func NewTracker(m *core.Model, p Params) (*Tracker, error) {
	geo, err := GeometryOf(m)
	if err != nil {
		return nil, err
	}
	p = p.withDefaults(geo.Stride)
	if p.Scales < 1 || p.Scales%2 == 0 || p.ScaleStep < 1 || p.Upsample < 1 {
		return nil, fmt.Errorf("tracker: scales must be odd and positive, scale step ≥ 1, upsampling ≥ 1 (got %d, %g, %d)", p.Scales, p.ScaleStep, p.Upsample)
	}

	t := &Tracker{m: m, geo: geo, p: p}
	ho, wo := geo.Head.MapSize()
	uh, uw := (ho-1)*p.Upsample+1, (wo-1)*p.Upsample+1
	t.window = hann(uh, uw)
	t.items = make([]core.Item, p.Scales)
	for i := range t.items {
		t.items[i].Dense = make([]float32, 3*geo.In*geo.In)
	}
	return t, nil
}

// Init starts tracking the target in box b of the first frame.
func (t *Tracker) Init(ctx context.Context, im *Image, b Box) error {
	if err := CheckInit(b, im.W, im.H); err != nil {
		return err
	}
	t.cx, t.cy = b.Center()
	t.w, t.h = b.W, b.H
	t.sx = ContextSide(b) * t.geo.Ratio
	t.minS, t.maxS = 0.2*t.sx, 5*t.sx
	item := core.Item{Dense: make([]float32, 3*t.geo.In*t.geo.In)}
	im.Crop(t.cx, t.cy, t.sx, t.geo.In, item.Dense)
	Standardize(item.Dense, t.geo.In*t.geo.In)
	e, err := t.m.Embed(ctx, []core.Item{item}, 1)
	if err != nil {
		return fmt.Errorf("exemplar: %w", err)
	}
	t.z = t.geo.Head.Exemplar(e[0])
	t.mask = t.geo.Head.Mask()
	if !t.p.NoFocus {
		t.mask = focus(t.geo, t.p.Focus*b.W*float64(t.geo.In)/t.sx, t.p.Focus*b.H*float64(t.geo.In)/t.sx)
	}
	xcorr.Weigh(t.z, t.mask)
	t.peak = 1
	t.win2 = nil
	if t.mask != nil {
		t.win2 = make([]float64, len(t.mask))
		for i, v := range t.mask {
			t.win2[i] = v * v
		}
	}
	return nil
}

// response computes the response map of the exemplar over search features x.
func (t *Tracker) response(x []float32) {
	h := t.geo.Head
	if t.p.Raw && !h.Config().Normalize {
		t.resp = h.Response(t.z, x, t.resp, nil)
		return
	}
	e := h.Config().Exemplar
	ho, wo := h.MapSize()
	if len(t.resp) != ho*wo {
		t.resp = make([]float32, ho*wo)
	}
	ops.NormXCorrInto(t.z, x, len(t.z)/(e*e), e, e, ho+e-1, wo+e-1, t.win2, t.resp)
}

// focus returns, for each cell of the exemplar window, a Gaussian weight
// centred on the window with σ sw and sh (crop pixels).
func focus(geo Geometry, sw, sh float64) []float64 {
	e := geo.Head.Config().Exemplar
	sw, sh = max(sw, 1), max(sh, 1)
	mask := make([]float64, e*e)
	for i := 0; i < e; i++ {
		dy := (float64(i) - float64(e-1)/2) * float64(geo.Stride)
		for j := 0; j < e; j++ {
			dx := (float64(j) - float64(e-1)/2) * float64(geo.Stride)
			mask[i*e+j] = math.Exp(-0.5 * (dx*dx/(sw*sw) + dy*dy/(sh*sh)))
		}
	}
	return mask
}

// Update finds the target in the next frame and returns its box.
func (t *Tracker) Update(ctx context.Context, im *Image) (Box, error) {
	if t.z == nil {
		return Box{}, errors.New("tracker: Update before Init")
	}
	n := t.p.Scales
	scales := make([]float64, n)
	for i := range scales {
		scales[i] = math.Pow(t.p.ScaleStep, float64(i-n/2))
		im.Crop(t.cx, t.cy, t.sx*scales[i], t.geo.In, t.items[i].Dense)
		Standardize(t.items[i].Dense, t.geo.In*t.geo.In)
	}
	feats, err := t.m.Embed(ctx, t.items, n)
	if err != nil {
		return Box{}, fmt.Errorf("search: %w", err)
	}
	ho, wo := t.geo.Head.MapSize()
	best, bestS := math.Inf(-1), n/2
	var bestMap []float64
	for i := range scales {
		t.response(feats[i])
		t.up = upsample(t.resp, ho, wo, t.p.Upsample, t.up)
		peak := math.Inf(-1)
		for _, v := range t.up {
			peak = max(peak, v)
		}
		if i != n/2 {
			// penalise a change of scale (as SiamFC, on the peak's margin
			// over the map's floor, so the sign of the response is moot)
			lo := math.Inf(1)
			for _, v := range t.up {
				lo = min(lo, v)
			}
			peak = lo + (peak-lo)*t.p.ScalePenalty
		}
		if peak > best {
			best, bestS = peak, i
			bestMap = append(bestMap[:0], t.up...)
		}
	}
	t.peak = math.Inf(-1)
	for _, v := range bestMap {
		t.peak = max(t.peak, v)
	}
	// Normalise the chosen map and blend in the cosine window.
	lo := math.Inf(1)
	for _, v := range bestMap {
		lo = min(lo, v)
	}
	var sum float64
	for i := range bestMap {
		bestMap[i] -= lo
		sum += bestMap[i]
	}
	arg, top := 0, math.Inf(-1)
	for i, v := range bestMap {
		if sum > 0 {
			v /= sum
		}
		v = (1-t.p.WindowInfluence)*v + t.p.WindowInfluence*t.window[i]
		if v > top {
			top, arg = v, i
		}
	}
	uw := (wo-1)*t.p.Upsample + 1
	uh := (ho-1)*t.p.Upsample + 1
	dy := float64(arg/uw) - float64(uh-1)/2
	dx := float64(arg%uw) - float64(uw-1)/2
	// upsampled cells → crop pixels → frame pixels
	s := scales[bestS]
	perPixel := t.sx * s / float64(t.geo.In)
	f := float64(t.geo.Stride) / float64(t.p.Upsample) * perPixel
	t.cx = max(0, min(float64(im.W), t.cx+dx*f))
	t.cy = max(0, min(float64(im.H), t.cy+dy*f))
	lr := t.p.ScaleLR
	k := (1 - lr) + lr*s
	t.sx = max(t.minS, min(t.maxS, t.sx*k))
	t.w, t.h = t.w*k, t.h*k
	return t.Box(), nil
}

// Confidence is the highest response of the last Update's chosen scale,
// before the cosine window: a normalised correlation, about 1 (more with
// the focus weighting) where the target looks as in the first frame and
// lower under occlusion or a change of look. Init sets 1.
func (t *Tracker) Confidence() float64 { return t.peak }

// Box is the current estimate.
func (t *Tracker) Box() Box { return Box{X: t.cx - t.w/2, Y: t.cy - t.h/2, W: t.w, H: t.h} }

// hann is the normalised outer product of two Hann windows.
func hann(h, w int) []float64 {
	win := make([]float64, h*w)
	var sum float64
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			v := hann1(i, h) * hann1(j, w)
			win[i*w+j] = v
			sum += v
		}
	}
	for i := range win {
		win[i] /= sum
	}
	return win
}

func hann1(i, n int) float64 {
	if n == 1 {
		return 1
	}
	return 0.5 - 0.5*math.Cos(2*math.Pi*float64(i+1)/float64(n+1))
}

// upsample resizes an h×w map bilinearly by factor f to ((h−1)f+1)×((w−1)f+1),
// keeping the corner cells aligned.
func upsample(r []float32, h, w, f int, dst []float64) []float64 {
	uh, uw := (h-1)*f+1, (w-1)*f+1
	if len(dst) != uh*uw {
		dst = make([]float64, uh*uw)
	}
	for i := 0; i < uh; i++ {
		y := float64(i) / float64(f)
		y0 := min(int(y), h-1)
		y1 := min(y0+1, h-1)
		fy := y - float64(y0)
		for j := 0; j < uw; j++ {
			x := float64(j) / float64(f)
			x0 := min(int(x), w-1)
			x1 := min(x0+1, w-1)
			fx := x - float64(x0)
			top := float64(r[y0*w+x0])*(1-fx) + float64(r[y0*w+x1])*fx
			bot := float64(r[y1*w+x0])*(1-fx) + float64(r[y1*w+x1])*fx
			dst[i*uw+j] = top*(1-fy) + bot*fy
		}
	}
	return dst
}

// Track runs a tracker over frames from box init in frames[0] and returns
// one box per frame (the first is init).
func Track(ctx context.Context, m *core.Model, p Params, frames []*Image, init Box) ([]Box, error) {
	if len(frames) == 0 {
		return nil, errors.New("no frames")
	}
	t, err := NewTracker(m, p)
	if err != nil {
		return nil, err
	}
	if err := t.Init(ctx, frames[0], init); err != nil {
		return nil, err
	}
	out := []Box{init}
	for i, f := range frames[1:] {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if f.W != frames[0].W || f.H != frames[0].H {
			return nil, fmt.Errorf("frame %d is %d×%d, the first is %d×%d", i+2, f.W, f.H, frames[0].W, frames[0].H)
		}
		b, err := t.Update(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i+2, err)
		}
		out = append(out, b)
	}
	return out, nil
}
