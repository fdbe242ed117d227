package core

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/internal/registry"
	G "gorgonia.org/gorgonia"
)

// InputKind says how a tower's items are fed to the graph.
type InputKind string

// Input kinds.
const (
	// Dense items are float32 tensors of a fixed shape (images, vectors).
	Dense InputKind = "dense"
	// Bag items are variable-length lists of feature indices (hashed text
	// n-grams), fed as a padded [N, L] int tensor; padding is -1.
	Bag InputKind = "bag"
)

// InputSpec declares what one item of a tower looks like.
type InputSpec struct {
	Kind  InputKind `json:"kind"`
	Shape []int     `json:"shape"` // per item: [C,H,W] for images, [D] for vectors, [L] for bags
}

// Tower maps a batch of items to embeddings with shared weights. The twin
// runner sends both sides of every pair through one Tower in one batch.
//
// Build may be called more than once on the same Builder (for example with
// inputs of two sizes, as a tracker does with exemplar and search crops);
// parameters are shared because Builder.Param returns one node per Param.
type Tower interface {
	// Input declares the per-item input.
	Input() InputSpec
	// Output is the per-item output shape: [D] for an embedding, [C,H,W]
	// for a feature map.
	Output() []int
	// Params lists the learnables, in a fixed order.
	Params() []*Param
	// Build adds the tower to b's graph for input x of shape [N, Input().Shape...]
	// and returns the output node of shape [N, Output()...].
	Build(b *Builder, x *G.Node) (*G.Node, error)
}

// Layered is a tower whose params fall into layers from input to output,
// so that fine-tuning can freeze the first few (FreezeLayers).
type Layered interface {
	Layers() [][]*Param
}

// Splitter is a Layered tower that can be cut after its first n layers into
// two towers sharing its params, the prefix's output the suffix's input: a
// frozen prefix then runs once per item, and only the suffix trains
// (CachePrefix).
type Splitter interface {
	Layered
	Split(n int) (prefix, suffix Tower, err error)
}

// FreezeLayers marks the params of a Layered tower's first n layers
// Frozen, and the rest trainable.
func FreezeLayers(t Tower, n int) error {
	l, ok := t.(Layered)
	if !ok {
		return fmt.Errorf("the tower has no layers to freeze")
	}
	layers := l.Layers()
	if n < 0 || n > len(layers) {
		return fmt.Errorf("freeze %d layers: the tower has %d", n, len(layers))
	}
	for i, ps := range layers {
		for _, p := range ps {
			p.Frozen = i < n
		}
	}
	return nil
}

// Head compares two embeddings. Its graph output is a similarity score in
// [0,1] per pair (or a response map, for heads that cross-correlate feature
// maps), and its loss trains it from labels (1 = same, 0 = different).
type Head interface {
	// Params lists the learnables (may be empty).
	Params() []*Param
	// Build returns the score node for embeddings a and c (both [P, D...]).
	// When y (shape [P], 1 = same) is not nil it also returns the mean loss.
	Build(b *Builder, a, c, y *G.Node) (score, loss *G.Node, err error)
	// Score computes the graph's score for two cached embeddings without a
	// graph; it matches the graph within 1e-5.
	Score(a, c []float32) float32
}

// TowerFactory makes a tower from its JSON config; rng initialises weights.
type TowerFactory func(config json.RawMessage, rng *rand.Rand) (Tower, error)

// HeadFactory makes a head from its JSON config for embeddings of shape in.
type HeadFactory func(config json.RawMessage, in []int, rng *rand.Rand) (Head, error)

var (
	towers = registry.New[TowerFactory]("core: tower")
	heads  = registry.New[HeadFactory]("core: head")
)

// RegisterTower makes a tower available by name. It panics on a duplicate,
// as database/sql.Register does.
func RegisterTower(name string, f TowerFactory) { towers.Register(name, f) }

// RegisterHead makes a head available by name.
func RegisterHead(name string, f HeadFactory) { heads.Register(name, f) }

// NewTower builds a registered tower.
func NewTower(name string, config json.RawMessage, rng *rand.Rand) (Tower, error) {
	f, ok := towers.Get(name)
	if !ok {
		return nil, fmt.Errorf("unknown tower %q (registered: %v)", name, Towers())
	}
	return f(config, rng)
}

// NewHead builds a registered head for embeddings of shape in.
func NewHead(name string, config json.RawMessage, in []int, rng *rand.Rand) (Head, error) {
	f, ok := heads.Get(name)
	if !ok {
		return nil, fmt.Errorf("unknown head %q (registered: %v)", name, Heads())
	}
	return f(config, in, rng)
}

// Towers lists the registered tower names.
func Towers() []string { return towers.Names() }

// Heads lists the registered head names.
func Heads() []string { return heads.Names() }
