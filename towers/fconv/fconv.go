// Package fconv is the fully-convolutional tower of a SiamFC tracker
// (Bertinetto et al. 2016): valid convolutions (no padding) with ReLU and
// optional 2×2 max-pools, the last convolution linear, no dense layer. It
// maps an image crop to a feature map, so the same weights embed an
// exemplar and a larger search region, and a translation of the input
// translates the map.
//
// It registers itself as "fconv"; import it for its side effect.
package fconv

import (
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/nn"
	"github.com/siamesenet/siamese/towers/cnn"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this tower.
const Name = "fconv"

// Config describes a tower. Zero fields take the preset's values.
type Config struct {
	Preset string      `json:"preset,omitempty"`
	Input  []int       `json:"input,omitempty"` // [C,H,W]
	Blocks []cnn.Block `json:"blocks,omitempty"`
}

// Presets are the named configurations. "small" maps a 96×96 RGB search
// crop to 64 maps of 18×18 at a stride of 4 pixels; the centre 6×6 of it is
// the features of the central 48×48 exemplar.
var Presets = map[string]Config{
	"small": {Input: []int{3, 96, 96}, Blocks: []cnn.Block{{Filters: 24, Kernel: 5, Pool: 2}, {Filters: 48, Kernel: 3, Pool: 2}, {Filters: 64, Kernel: 3}, {Filters: 64, Kernel: 3}}},
}

// Resolve fills zero fields of c from its preset and checks the result.
func (c Config) Resolve() (Config, error) {
	if c.Preset == "" && c.Blocks == nil {
		c.Preset = "small"
	}
	if c.Preset != "" {
		p, ok := Presets[c.Preset]
		if !ok {
			return c, fmt.Errorf("unknown fconv preset %q (want small)", c.Preset)
		}
		if c.Input == nil {
			c.Input = p.Input
		}
		if c.Blocks == nil {
			c.Blocks = p.Blocks
		}
	}
	if len(c.Input) != 3 || c.Input[0] < 1 || c.Input[1] < 1 || c.Input[2] < 1 {
		return c, fmt.Errorf("fconv input must be [channels,height,width], got %v", c.Input)
	}
	if len(c.Blocks) == 0 {
		return c, fmt.Errorf("fconv needs at least one block")
	}
	if _, _, err := c.outSize(); err != nil {
		return c, err
	}
	return c, nil
}

func (c Config) outSize() (int, int, error) {
	h, w := c.Input[1], c.Input[2]
	for i, bl := range c.Blocks {
		if bl.Filters < 1 || bl.Kernel < 1 {
			return 0, 0, fmt.Errorf("fconv block %d: filters and kernel must be positive", i)
		}
		h, w = h-bl.Kernel+1, w-bl.Kernel+1
		if bl.Pool > 1 {
			h, w = h/bl.Pool, w/bl.Pool
		}
		if h < 1 || w < 1 {
			return 0, 0, fmt.Errorf("fconv input %v is too small for block %d (kernel %d)", c.Input, i, bl.Kernel)
		}
	}
	return h, w, nil
}

// Stride is the input pixels per output cell (the product of the pools).
func (c Config) Stride() int {
	s := 1
	for _, bl := range c.Blocks {
		if bl.Pool > 1 {
			s *= bl.Pool
		}
	}
	return s
}

func init() { core.RegisterTower(Name, core.TowerFactoryOf(Name, New)) }

// Tower is a fully-convolutional tower.
type Tower struct {
	cfg  Config
	w, b []*core.Param
	out  []int
}

// New builds a tower with He-initialised weights (Glorot for the linear
// last layer).
func New(c Config, rng *rand.Rand) (*Tower, error) {
	c, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	t := &Tower{cfg: c}
	ch := c.Input[0]
	for i, bl := range c.Blocks {
		wt := core.NewParam(fmt.Sprintf("conv%d.w", i+1), bl.Filters, ch, bl.Kernel, bl.Kernel)
		if i == len(c.Blocks)-1 {
			wt.InitGlorot(rng, ch*bl.Kernel*bl.Kernel, bl.Filters*bl.Kernel*bl.Kernel)
		} else {
			wt.InitHe(rng, ch*bl.Kernel*bl.Kernel)
		}
		t.w = append(t.w, wt)
		t.b = append(t.b, core.NewParam(fmt.Sprintf("conv%d.b", i+1), 1, bl.Filters, 1, 1))
		ch = bl.Filters
	}
	h, w, _ := c.outSize()
	t.out = []int{ch, h, w}
	return t, nil
}

// Config returns the resolved configuration.
func (t *Tower) Config() Config { return t.cfg }

// Input implements core.Tower.
func (t *Tower) Input() core.InputSpec {
	return core.InputSpec{Kind: core.Dense, Shape: append([]int(nil), t.cfg.Input...)}
}

// Output implements core.Tower: a feature map [C,H,W].
func (t *Tower) Output() []int { return append([]int(nil), t.out...) }

// Params implements core.Tower.
func (t *Tower) Params() []*core.Param {
	var ps []*core.Param
	for i := range t.w {
		ps = append(ps, t.w[i], t.b[i])
	}
	return ps
}

// Build implements core.Tower.
func (t *Tower) Build(b *core.Builder, x *G.Node) (*G.Node, error) {
	var err error
	last := len(t.cfg.Blocks) - 1
	for i, bl := range t.cfg.Blocks {
		if x, err = nn.Conv2D(b, x, t.w[i], t.b[i], i < last); err != nil {
			return nil, err
		}
		if bl.Pool > 1 {
			if x, err = nn.MaxPool2D(x, bl.Pool); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

// ReceptiveField is the side, in input pixels, seen by one output cell.
func (c Config) ReceptiveField() int {
	r, jump := 1, 1
	for _, bl := range c.Blocks {
		r += (bl.Kernel - 1) * jump
		if bl.Pool > 1 {
			r += (bl.Pool - 1) * jump
			jump *= bl.Pool
		}
	}
	return r
}

// ExemplarPixels is the side, in input pixels, of the region whose
// features are the centre window of n×n cells: (n−1)·stride + receptive
// field.
func (c Config) ExemplarPixels(n int) int { return (n-1)*c.Stride() + c.ReceptiveField() }
