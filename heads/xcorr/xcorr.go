// Package xcorr is the cross-correlation head of SiamFC (Bertinetto et al.
// 2016) for fully-convolutional towers: the centre of the exemplar's
// feature map is slid over the search region's feature map, giving a
// response map read as scale·r + bias. The loss is the balanced logistic
// loss over the map, with positives within a radius of the centre for a
// pair labelled same and none for a pair labelled different. A pair's
// score is σ(scale·max r + bias). Optionally the correlation is normalised
// at each position into a cosine (Normalize) and the exemplar's window is
// weighted by a Gaussian centred on the target (Focus).
//
// It registers itself as "xcorr"; import it for its side effect.
package xcorr

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this head.
const Name = "xcorr"

// Config is the head's JSON config.
type Config struct {
	// Exemplar is the side, in feature cells, of the centre window of the
	// exemplar's map that is correlated (default: a third of the map).
	Exemplar int `json:"exemplar,omitempty"`
	// Radius, in response cells, within which a positive map is positive
	// (default 2).
	Radius float64 `json:"radius,omitempty"`
	// Scale multiplies the correlation (default 1/(channels·exemplar²), or
	// 10 for a normalised one).
	Scale float64 `json:"scale,omitempty"`
	// Normalize divides the correlation at each position by the norms of
	// the exemplar and of the search features under the window: a cosine.
	Normalize bool `json:"normalize,omitempty"`
	// Focus, if positive, weights the exemplar window's cells by a Gaussian
	// centred on it with σ = Focus × the window's side.
	Focus float64 `json:"focus,omitempty"`
}

func init() {
	core.RegisterHead(Name, core.HeadFactoryOf(Name, func(in []int, c Config, _ *rand.Rand) (*Head, error) { return New(in, c) }))
}

// Head is the cross-correlation head. Its one learnable is the bias.
type Head struct {
	cfg     Config
	c, h, w int       // feature map of one item
	mask    []float64 // focus weight per exemplar cell, nil for none
	bias    *core.Param
}

// New makes a head for feature maps of shape in = [C,H,W].
func New(in []int, c Config) (*Head, error) {
	if len(in) != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return nil, fmt.Errorf("xcorr needs feature maps [channels,height,width], got shape %v", in)
	}
	if c.Exemplar == 0 {
		c.Exemplar = max(1, min(in[1], in[2])/3)
	}
	if c.Exemplar < 1 || c.Exemplar > in[1] || c.Exemplar > in[2] {
		return nil, fmt.Errorf("xcorr exemplar %d does not fit feature maps %v", c.Exemplar, in)
	}
	if c.Radius == 0 {
		c.Radius = 2
	}
	if c.Scale == 0 {
		c.Scale = 1 / float64(in[0]*c.Exemplar*c.Exemplar)
		if c.Normalize {
			c.Scale = 10
		}
	}
	if c.Radius < 0 || c.Scale < 0 || c.Focus < 0 || math.IsNaN(c.Radius+c.Scale+c.Focus) {
		return nil, fmt.Errorf("xcorr radius, scale and focus must be positive, got %v, %v and %v", c.Radius, c.Scale, c.Focus)
	}
	h := &Head{cfg: c, c: in[0], h: in[1], w: in[2], bias: core.NewParam("xcorr.bias", 1)}
	if c.Focus > 0 {
		sd := c.Focus * float64(c.Exemplar)
		h.mask = Gaussian(c.Exemplar, sd, sd)
	}
	return h, nil
}

// Gaussian returns e×e weights exp(−½(dx²/σx² + dy²/σy²)) of the cells of
// a window by their offset (in cells) from its centre.
func Gaussian(e int, sx, sy float64) []float64 {
	m := make([]float64, e*e)
	for i := 0; i < e; i++ {
		dy := float64(i) - float64(e-1)/2
		for j := 0; j < e; j++ {
			dx := float64(j) - float64(e-1)/2
			m[i*e+j] = math.Exp(-0.5 * (dx*dx/(sx*sx) + dy*dy/(sy*sy)))
		}
	}
	return m
}

// Mask is the focus weight of each exemplar cell (nil: none).
func (h *Head) Mask() []float64 { return h.mask }

// Config returns the resolved configuration.
func (h *Head) Config() Config { return h.cfg }

// MapSize is the side of the response map (height, width).
func (h *Head) MapSize() (int, int) { return h.h - h.cfg.Exemplar + 1, h.w - h.cfg.Exemplar + 1 }

// Params implements core.Head.
func (h *Head) Params() []*core.Param { return []*core.Param{h.bias} }

// Build implements core.Head: a holds exemplar maps, c search maps.
func (h *Head) Build(b *core.Builder, a, c, y *G.Node) (score, loss *G.Node, err error) {
	e := h.cfg.Exemplar
	z, err := ops.WeightedCenterCrop(a, e, e, h.mask)
	if err != nil {
		return nil, nil, err
	}
	var r *G.Node
	if h.cfg.Normalize {
		r, err = ops.NormXCorr(z, c, squares(h.mask))
	} else {
		r, err = ops.XCorr(z, c)
	}
	if err != nil {
		return nil, nil, err
	}
	bias := b.Param(h.bias)
	if score, err = ops.MapScore(r, bias, h.cfg.Scale); err != nil || y == nil {
		return score, nil, err
	}
	loss, err = ops.MapLoss(r, bias, y, h.cfg.Scale, h.cfg.Radius)
	return score, loss, err
}

func squares(m []float64) []float64 {
	if m == nil {
		return nil
	}
	out := make([]float64, len(m))
	for i, v := range m {
		out[i] = v * v
	}
	return out
}

// Exemplar returns the centre window of an item's feature map [C,H,W],
// unweighted (Weigh applies a focus mask). A tracker computes it once per
// target.
func (h *Head) Exemplar(a []float32) []float32 {
	e := h.cfg.Exemplar
	top, left := (h.h-e)/2, (h.w-e)/2
	z := make([]float32, 0, h.c*e*e)
	for ch := 0; ch < h.c; ch++ {
		for i := 0; i < e; i++ {
			z = append(z, a[(ch*h.h+top+i)*h.w+left:][:e]...)
		}
	}
	return z
}

// Weigh multiplies exemplar window z by mask (one weight per cell, the
// same for every channel) in place; a nil mask leaves it.
func Weigh(z []float32, mask []float64) {
	if mask == nil {
		return
	}
	for k := range z {
		z[k] *= float32(mask[k%len(mask)])
	}
}

// Response writes into dst (len = MapSize's product; allocated if nil) the
// response scale·(z ⋆ x) + bias of the (weighted) exemplar window z over
// feature map x; with Normalize the correlation is the cosine under window
// weights w (nil: the head's mask squared).
func (h *Head) Response(z, x, dst []float32, w []float64) []float32 {
	e := h.cfg.Exemplar
	ho, wo := h.MapSize()
	if len(dst) != ho*wo {
		dst = make([]float32, ho*wo)
	}
	if h.cfg.Normalize {
		if w == nil {
			w = squares(h.mask)
		}
		ops.NormXCorrInto(z, x, h.c, e, e, h.h, h.w, w, dst)
		s, b := float32(h.cfg.Scale), h.bias.Data[0]
		for i := range dst {
			dst[i] = s*dst[i] + b
		}
		return dst
	}
	clear(dst)
	for ch := 0; ch < h.c; ch++ {
		zc := z[ch*e*e:]
		xc := x[ch*h.h*h.w:]
		for u := 0; u < e; u++ {
			for v := 0; v < e; v++ {
				wt := zc[u*e+v]
				for i := 0; i < ho; i++ {
					row := xc[(i+u)*h.w+v:][:wo]
					o := dst[i*wo:][:wo]
					for j, xv := range row {
						o[j] += wt * xv
					}
				}
			}
		}
	}
	s, b := float32(h.cfg.Scale), h.bias.Data[0]
	for i := range dst {
		dst[i] = s*dst[i] + b
	}
	return dst
}

// Score implements core.Head: σ of the response map's maximum.
func (h *Head) Score(a, c []float32) float32 {
	z := h.Exemplar(a)
	Weigh(z, h.mask)
	r := h.Response(z, c, nil, nil)
	best := float32(math.Inf(-1))
	for _, v := range r {
		best = max(best, v)
	}
	return float32(ops.Sigmoid(float64(best)))
}
