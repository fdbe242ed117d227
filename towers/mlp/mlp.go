// Package mlp is the multilayer-perceptron tower for vector inputs: dense
// ReLU layers and an embedding layer. The text tower builds on it.
//
// It registers itself as "mlp"; import it for its side effect.
package mlp

import (
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/nn"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this tower.
const Name = "mlp"

// Config describes an MLP tower.
type Config struct {
	Input      int    `json:"input"`
	Hidden     []int  `json:"hidden,omitempty"`
	Embed      int    `json:"embed"`
	Activation string `json:"activation,omitempty"` // of the embedding layer
}

func init() { core.RegisterTower(Name, core.TowerFactoryOf(Name, New)) }

// Tower is an MLP tower.
type Tower struct {
	cfg Config
	w   []*core.Param
	b   []*core.Param
}

// New builds an MLP tower with He/Glorot-initialised weights.
func New(c Config, rng *rand.Rand) (*Tower, error) {
	if c.Input < 1 || c.Embed < 1 {
		return nil, fmt.Errorf("mlp needs positive input and embed sizes, got %d and %d", c.Input, c.Embed)
	}
	if err := nn.CheckActivation(c.Activation); err != nil {
		return nil, err
	}
	t := &Tower{cfg: c}
	in := c.Input
	for i, out := range append(append([]int(nil), c.Hidden...), c.Embed) {
		if out < 1 {
			return nil, fmt.Errorf("mlp layer %d has size %d", i+1, out)
		}
		w := core.NewParam(fmt.Sprintf("dense%d.w", i+1), in, out)
		if i < len(c.Hidden) || c.Activation == "relu" {
			w.InitHe(rng, in)
		} else {
			w.InitGlorot(rng, in, out)
		}
		t.w = append(t.w, w)
		t.b = append(t.b, core.NewParam(fmt.Sprintf("dense%d.b", i+1), 1, out))
		in = out
	}
	return t, nil
}

// Input implements core.Tower.
func (t *Tower) Input() core.InputSpec {
	return core.InputSpec{Kind: core.Dense, Shape: []int{t.cfg.Input}}
}

// Output implements core.Tower.
func (t *Tower) Output() []int { return []int{t.cfg.Embed} }

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
	for i := range t.w {
		act := "relu"
		if i == len(t.w)-1 {
			act = t.cfg.Activation
		}
		if x, err = nn.Dense(b, x, t.w[i], t.b[i], act); err != nil {
			return nil, err
		}
	}
	return x, nil
}
