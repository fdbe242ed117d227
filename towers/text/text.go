// Package text is the text tower: hashed word unigrams, bigrams and
// character trigrams (see Featurizer) go through an embedding bag (a
// custom op that reads only the rows it needs and whose gradient touches
// only them), then dense ReLU layers, to an L2-normalised embedding.
//
// It registers itself as "text"; import it for its side effect.
package text

import (
	"fmt"
	"log/slog"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/nn"
	"github.com/siamesenet/siamese/internal/ops"
	"github.com/siamesenet/siamese/towers/mlp"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this tower.
const Name = "text"

// Config describes a text tower. Zero fields take the defaults.
type Config struct {
	Bits        int   `json:"bits"`         // log2 of the hash buckets (default 18)
	MaxFeatures int   `json:"max_features"` // features per text (default 256)
	Dim         int   `json:"dim"`          // width of the embedding bag (default 64)
	Hidden      []int `json:"hidden"`       // dense ReLU layers (default [128])
	Embed       int   `json:"embed"`        // output size (default 64)
	Sum         bool  `json:"sum"`          // sum the bag's rows instead of averaging
}

func (c Config) withDefaults() Config {
	if c.Bits == 0 {
		c.Bits = 18
	}
	if c.MaxFeatures == 0 {
		c.MaxFeatures = 256
	}
	if c.Dim == 0 {
		c.Dim = 64
	}
	if c.Hidden == nil {
		c.Hidden = []int{128}
	}
	if c.Embed == 0 {
		c.Embed = 64
	}
	return c
}

// Featurizer is the featurizer that fits this tower's input.
func (c Config) Featurizer() Featurizer {
	c = c.withDefaults()
	return Featurizer{Bits: c.Bits, Max: c.MaxFeatures}
}

func init() {
	core.RegisterTower(Name, core.TowerFactoryOf(Name, New))
	core.RegisterDecoder(InputKind, func(pre core.Preprocess, _ []*core.Param) (core.Decoder, error) {
		feat, err := FeaturizerOf(pre)
		if err != nil {
			return nil, err
		}
		return core.DecoderFunc(func(raw []byte) (core.Item, error) {
			bag, truncated, err := feat.Features(string(raw))
			if err != nil {
				return core.Item{}, err
			}
			if truncated {
				slog.Warn("text truncated", "bytes", len(raw), "kept", MaxBytes)
			}
			return core.Item{Bag: bag}, nil
		}), nil
	})
}

// InputKind is the input kind of text models: hashed n-grams of the
// featurizer's settings.
const InputKind = "text"

// Tower is a text tower: an embedding bag, then an MLP tower.
type Tower struct {
	cfg   Config
	table *core.Param
	mlp   *mlp.Tower
}

// New builds a text tower.
func New(c Config, rng *rand.Rand) (*Tower, error) {
	c = c.withDefaults()
	if c.Bits < 1 || c.Bits > 26 || c.MaxFeatures < 1 || c.Dim < 1 || c.Embed < 1 {
		return nil, fmt.Errorf("text tower: bits must be 1–26 and sizes positive, got %+v", c)
	}
	t := &Tower{cfg: c, table: core.NewParam("bag.table", 1<<c.Bits, c.Dim)}
	t.table.Sparse = true
	t.table.InitNormal(rng, 0, 0.1)
	m, err := mlp.New(mlp.Config{Input: c.Dim, Hidden: c.Hidden, Embed: c.Embed, Activation: "none"}, rng)
	if err != nil {
		return nil, fmt.Errorf("text tower: %w", err)
	}
	t.mlp = m
	return t, nil
}

// Config returns the tower's configuration with defaults filled in.
func (t *Tower) Config() Config { return t.cfg }

// Input implements core.Tower.
func (t *Tower) Input() core.InputSpec {
	return core.InputSpec{Kind: core.Bag, Shape: []int{t.cfg.MaxFeatures}}
}

// Output implements core.Tower.
func (t *Tower) Output() []int { return []int{t.cfg.Embed} }

// Params implements core.Tower.
func (t *Tower) Params() []*core.Param {
	return append([]*core.Param{t.table}, t.mlp.Params()...)
}

// Build implements core.Tower.
func (t *Tower) Build(b *core.Builder, x *G.Node) (*G.Node, error) {
	h, err := ops.EmbeddingBag(b.Param(t.table), x, b.Anchor(), b.SparseGrad(t.table), !t.cfg.Sum)
	if err != nil {
		return nil, err
	}
	if h, err = t.mlp.Build(b, h); err != nil {
		return nil, err
	}
	return nn.L2Normalize(b, h)
}
