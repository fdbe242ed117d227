// Package l1sigmoid is the head of Koch, Zemel and Salakhutdinov (2015):
// p = σ(Σⱼ αⱼ|h1ⱼ − h2ⱼ| + b), trained with binary cross-entropy.
//
// It registers itself as "l1sigmoid"; import it for its side effect.
package l1sigmoid

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/ops"
	"github.com/siamesenet/siamese/internal/vec"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this head.
const Name = "l1sigmoid"

func init() {
	// The head takes no config: any field is an error.
	core.RegisterHead(Name, core.HeadFactoryOf(Name, func(in []int, _ struct{}, rng *rand.Rand) (*Head, error) { return New(in, rng) }))
}

// Head is the weighted-L1 sigmoid head.
type Head struct {
	dim   int
	alpha *core.Param // [D,1]
	bias  *core.Param // [1,1]
}

// New makes a head for embeddings of shape in (one dimension).
func New(in []int, rng *rand.Rand) (*Head, error) {
	if len(in) != 1 || in[0] < 1 {
		return nil, fmt.Errorf("l1sigmoid needs flat embeddings, got shape %v", in)
	}
	h := &Head{dim: in[0], alpha: core.NewParam("head.alpha", in[0], 1), bias: core.NewParam("head.bias", 1, 1)}
	h.alpha.InitGlorot(rng, in[0], 1)
	return h, nil
}

// Params implements core.Head.
func (h *Head) Params() []*core.Param { return []*core.Param{h.alpha, h.bias} }

// Build implements core.Head. The logit, the loss and the score are fused
// ops (internal/ops) that keep their buffers between steps.
func (h *Head) Build(b *core.Builder, a, c, y *G.Node) (score, loss *G.Node, err error) {
	z, err := ops.WeightedL1(a, c, b.Param(h.alpha), b.Param(h.bias))
	if err != nil {
		return nil, nil, err
	}
	if score, err = ops.Activation(z, "sigmoid"); err != nil {
		return nil, nil, err
	}
	if y == nil {
		return score, nil, nil
	}
	// Binary cross-entropy on the logit, in its stable form softplus(z) − y·z.
	loss, err = ops.LogisticLoss(z, y)
	return score, loss, err
}

// RankKeys implements core.Ranker: the key is the logit z.
func (h *Head) RankKeys(q, db, keys []float32) {
	b := h.bias.Data[0]
	vec.WeightedL1Rows(q, db, h.alpha.Data, keys)
	for i := range keys {
		keys[i] += b
	}
}

// ScoreOfKey implements core.Ranker.
func (h *Head) ScoreOfKey(z float32) float32 { return float32(1 / (1 + math.Exp(-float64(z)))) }

// Score implements core.Head.
func (h *Head) Score(a, c []float32) float32 {
	z := float64(h.bias.Data[0])
	for j := range a {
		z += float64(h.alpha.Data[j]) * math.Abs(float64(a[j])-float64(c[j]))
	}
	return float32(1 / (1 + math.Exp(-z)))
}
