// Package contrastive is the contrastive head of Hadsell, Chopra and LeCun
// (2006): Euclidean distance d between embeddings, loss
// y·d² + (1−y)·max(0, m − d)² with margin m. Its score is exp(−d/m), a
// similarity in (0,1] that thresholds like a probability.
//
// It registers itself as "contrastive"; import it for its side effect.
package contrastive

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/vec"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this head.
const Name = "contrastive"

// eps keeps the distance differentiable when two embeddings coincide.
const eps = 1e-6

// Config is the head's JSON config.
type Config struct {
	Margin float64 `json:"margin"` // default 1
}

func init() {
	core.RegisterHead(Name, core.HeadFactoryOf(Name, func(in []int, c Config, _ *rand.Rand) (*Head, error) { return New(in, c) }))
}

// Head is the contrastive head. It has no learnables.
type Head struct {
	margin float64
}

// New makes a contrastive head for embeddings of shape in.
func New(in []int, c Config) (*Head, error) {
	if len(in) != 1 || in[0] < 1 {
		return nil, fmt.Errorf("contrastive needs flat embeddings, got shape %v", in)
	}
	if c.Margin == 0 {
		c.Margin = 1
	}
	if c.Margin < 0 || math.IsNaN(c.Margin) {
		return nil, fmt.Errorf("contrastive margin must be positive, got %v", c.Margin)
	}
	return &Head{margin: c.Margin}, nil
}

// Margin returns m.
func (h *Head) Margin() float64 { return h.margin }

// Params implements core.Head.
func (h *Head) Params() []*core.Param { return nil }

// Build implements core.Head.
func (h *Head) Build(b *core.Builder, a, c, y *G.Node) (score, loss *G.Node, err error) {
	must := func(n *G.Node, e error) *G.Node {
		if err == nil && e != nil {
			err = e
		}
		return n
	}
	diff := must(G.Sub(a, c))
	if err != nil {
		return nil, nil, err
	}
	d2 := must(G.Sum(must(G.Square(diff)), 1))
	if err != nil {
		return nil, nil, err
	}
	d := must(G.Sqrt(must(G.Add(d2, b.Const(eps)))))
	score = must(G.Exp(must(G.Mul(d, b.Const(-1/h.margin)))))
	if err != nil || y == nil {
		return score, nil, err
	}
	hinge := must(G.Square(must(G.Rectify(must(G.Sub(b.Const(h.margin), d))))))
	pos := must(G.HadamardProd(y, d2))
	neg := must(G.HadamardProd(must(G.Sub(b.Const(1), y)), hinge))
	loss = must(G.Mean(must(G.Add(pos, neg))))
	return score, loss, err
}

// Distance returns the Euclidean distance used by the graph.
func (h *Head) Distance(a, c []float32) float64 {
	var s float64
	for j := range a {
		d := float64(a[j]) - float64(c[j])
		s += d * d
	}
	return math.Sqrt(s + eps)
}

// RankKeys implements core.Ranker: the key is −d².
func (h *Head) RankKeys(q, db, keys []float32) {
	vec.SqDistRows(q, db, keys)
	for i := range keys {
		keys[i] = -keys[i]
	}
}

// ScoreOfKey implements core.Ranker.
func (h *Head) ScoreOfKey(key float32) float32 {
	return float32(math.Exp(-math.Sqrt(float64(-key)+eps) / h.margin))
}

// Score implements core.Head.
func (h *Head) Score(a, c []float32) float32 {
	return float32(math.Exp(-h.Distance(a, c) / h.margin))
}
