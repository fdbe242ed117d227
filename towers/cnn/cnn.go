// Package cnn is the convolutional tower for images: blocks of valid
// convolution, ReLU and optional 2×2 max-pool, then dense layers. Presets
// give Koch et al.'s net ("koch"), a half-width version ("koch-half") and a
// small net for 28×28 to 52×52 inputs ("small").
//
// It registers itself as "cnn"; import it for its side effect.
package cnn

import (
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/nn"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this tower.
const Name = "cnn"

// Block is one convolution block.
type Block struct {
	Filters int `json:"filters"`
	Kernel  int `json:"kernel"`
	Pool    int `json:"pool,omitempty"` // max-pool size after ReLU; 0 or 1 = none
}

// Config describes a CNN tower. Zero fields take the preset's values.
type Config struct {
	Preset     string  `json:"preset,omitempty"`
	Input      []int   `json:"input,omitempty"` // [C,H,W]
	Blocks     []Block `json:"blocks,omitempty"`
	BatchNorm  bool    `json:"batch_norm,omitempty"` // batch norm between each convolution and its ReLU
	Hidden     []int   `json:"hidden,omitempty"`     // dense ReLU layers before the embedding
	Embed      int     `json:"embed,omitempty"`      // embedding size
	Activation string  `json:"activation,omitempty"` // of the embedding layer
}

// Presets are the named configurations.
var Presets = map[string]Config{
	"koch":      {Input: []int{1, 105, 105}, Blocks: []Block{{64, 10, 2}, {128, 7, 2}, {128, 4, 2}, {256, 4, 0}}, Embed: 4096, Activation: "sigmoid"},
	"koch-half": {Input: []int{1, 105, 105}, Blocks: []Block{{32, 10, 2}, {64, 7, 2}, {64, 4, 2}, {128, 4, 0}}, Embed: 1024, Activation: "sigmoid"},
	"small":     {Input: []int{1, 28, 28}, Blocks: []Block{{32, 3, 2}, {64, 3, 2}}, Embed: 128, Activation: "sigmoid"},
}

// Resolve fills zero fields of c from its preset and checks the result.
func (c Config) Resolve() (Config, error) {
	if c.Preset != "" {
		p, ok := Presets[c.Preset]
		if !ok {
			return c, fmt.Errorf("unknown cnn preset %q (want koch, koch-half or small)", c.Preset)
		}
		if c.Input == nil {
			c.Input = p.Input
		}
		if c.Blocks == nil {
			c.Blocks = p.Blocks
		}
		if c.Hidden == nil {
			c.Hidden = p.Hidden
		}
		if c.Embed == 0 {
			c.Embed = p.Embed
		}
		if c.Activation == "" {
			c.Activation = p.Activation
		}
	}
	if len(c.Input) != 3 || c.Input[0] < 1 || c.Input[1] < 1 || c.Input[2] < 1 {
		return c, fmt.Errorf("cnn input must be [channels,height,width], got %v", c.Input)
	}
	if len(c.Blocks) == 0 || c.Embed < 1 {
		return c, fmt.Errorf("cnn needs at least one block and an embedding size")
	}
	if err := nn.CheckActivation(c.Activation); err != nil {
		return c, err
	}
	h, w := c.Input[1], c.Input[2]
	for i, bl := range c.Blocks {
		if bl.Filters < 1 || bl.Kernel < 1 {
			return c, fmt.Errorf("cnn block %d: filters and kernel must be positive", i)
		}
		h, w = h-bl.Kernel+1, w-bl.Kernel+1
		if bl.Pool > 1 {
			h, w = h/bl.Pool, w/bl.Pool
		}
		if h < 1 || w < 1 {
			return c, fmt.Errorf("cnn input %v is too small for block %d (kernel %d)", c.Input, i, bl.Kernel)
		}
	}
	return c, nil
}

func init() { core.RegisterTower(Name, core.TowerFactoryOf(Name, New)) }

// Tower is a CNN tower.
type Tower struct {
	cfg    Config
	convW  []*core.Param
	convB  []*core.Param
	bn     [][4]*core.Param // γ, β, running mean, running variance per block
	denseW []*core.Param
	denseB []*core.Param
}

// New builds a tower with He-initialised weights.
func New(c Config, rng *rand.Rand) (*Tower, error) {
	c, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	t := &Tower{cfg: c}
	ch, h, w := c.Input[0], c.Input[1], c.Input[2]
	for i, bl := range c.Blocks {
		wt := core.NewParam(fmt.Sprintf("conv%d.w", i+1), bl.Filters, ch, bl.Kernel, bl.Kernel)
		wt.InitHe(rng, ch*bl.Kernel*bl.Kernel)
		t.convW = append(t.convW, wt)
		t.convB = append(t.convB, core.NewParam(fmt.Sprintf("conv%d.b", i+1), 1, bl.Filters, 1, 1))
		if c.BatchNorm {
			g, b, m, v := nn.BatchNormParams(fmt.Sprintf("bn%d", i+1), bl.Filters, true)
			t.bn = append(t.bn, [4]*core.Param{g, b, m, v})
		}
		ch, h, w = bl.Filters, h-bl.Kernel+1, w-bl.Kernel+1
		if bl.Pool > 1 {
			h, w = h/bl.Pool, w/bl.Pool
		}
	}
	in := ch * h * w
	for i, out := range append(append([]int(nil), c.Hidden...), c.Embed) {
		wt := core.NewParam(fmt.Sprintf("dense%d.w", i+1), in, out)
		if i == len(c.Hidden) && c.Activation != "relu" {
			wt.InitGlorot(rng, in, out)
		} else {
			wt.InitHe(rng, in)
		}
		t.denseW = append(t.denseW, wt)
		t.denseB = append(t.denseB, core.NewParam(fmt.Sprintf("dense%d.b", i+1), 1, out))
		in = out
	}
	return t, nil
}

// Config returns the resolved configuration.
func (t *Tower) Config() Config { return t.cfg }

// Input implements core.Tower.
func (t *Tower) Input() core.InputSpec {
	return core.InputSpec{Kind: core.Dense, Shape: append([]int(nil), t.cfg.Input...)}
}

// Output implements core.Tower.
func (t *Tower) Output() []int { return []int{t.cfg.Embed} }

// Params implements core.Tower.
func (t *Tower) Params() []*core.Param {
	var ps []*core.Param
	for i := range t.convW {
		ps = append(ps, t.convW[i], t.convB[i])
		if t.cfg.BatchNorm {
			ps = append(ps, t.bn[i][:]...)
		}
	}
	for i := range t.denseW {
		ps = append(ps, t.denseW[i], t.denseB[i])
	}
	return ps
}

// Build implements core.Tower.
func (t *Tower) Build(b *core.Builder, x *G.Node) (*G.Node, error) {
	var err error
	for i, bl := range t.cfg.Blocks {
		if t.cfg.BatchNorm {
			if x, err = nn.Conv2D(b, x, t.convW[i], t.convB[i], false); err != nil {
				return nil, err
			}
			bn := t.bn[i]
			if x, err = nn.BatchNorm(b, x, bn[0], bn[1], bn[2], bn[3], 0.9, true); err != nil {
				return nil, err
			}
		} else if x, err = nn.Conv2D(b, x, t.convW[i], t.convB[i], true); err != nil {
			return nil, err
		}
		if bl.Pool > 1 {
			if x, err = nn.MaxPool2D(x, bl.Pool); err != nil {
				return nil, err
			}
		}
	}
	if x, err = nn.Flatten(x); err != nil {
		return nil, err
	}
	for i := range t.denseW {
		act := "relu"
		if i == len(t.denseW)-1 {
			act = t.cfg.Activation
		}
		if x, err = nn.Dense(b, x, t.denseW[i], t.denseB[i], act); err != nil {
			return nil, err
		}
	}
	return x, nil
}
