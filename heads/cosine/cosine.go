// Package cosine is the cosine head: the similarity of two embeddings is
// the cosine of their angle, trained with the pair form of the circle loss
// (Sun et al. 2020) over the whole batch,
//
//	log(1 + Σ_neg exp(γ·s_n) · Σ_pos exp(−γ·(s_p − m))),
//
// which asks every same pair to be more similar than every different pair
// by the margin m and weighs the hardest pairs most. Batches where the pairs
// are every pair of a few items from each of many classes (as the face
// domain draws them) give it many pairs per step. Its score is (1 + cos)/2,
// a similarity in [0,1].
//
// It registers itself as "cosine"; import it for its side effect.
package cosine

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/nn"
	"github.com/siamesenet/siamese/internal/ops"
	"github.com/siamesenet/siamese/internal/vec"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this head.
const Name = "cosine"

// Config is the head's JSON config.
type Config struct {
	Scale  float64 `json:"scale,omitempty"`  // γ, default 16
	Margin float64 `json:"margin,omitempty"` // m, default 0.3
}

func init() {
	core.RegisterHead(Name, core.HeadFactoryOf(Name, func(in []int, c Config, _ *rand.Rand) (*Head, error) { return New(in, c) }))
}

// Head is the cosine head. It has no learnables.
type Head struct {
	cfg Config
}

// New makes a cosine head for embeddings of shape in.
func New(in []int, c Config) (*Head, error) {
	if len(in) != 1 || in[0] < 1 {
		return nil, fmt.Errorf("cosine needs flat embeddings, got shape %v", in)
	}
	if c.Scale == 0 {
		c.Scale = 16
	}
	if c.Margin == 0 {
		c.Margin = 0.3
	}
	if !(c.Scale > 0) || math.IsInf(c.Scale, 0) || !(c.Margin >= 0 && c.Margin < 2) {
		return nil, fmt.Errorf("cosine: scale must be positive and margin in [0,2), got %v and %v", c.Scale, c.Margin)
	}
	return &Head{cfg: c}, nil
}

// Config returns the head's resolved config.
func (h *Head) Config() Config { return h.cfg }

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
	an := must(nn.L2Normalize(b, a))
	cn := must(nn.L2Normalize(b, c))
	if err != nil {
		return nil, nil, err
	}
	cos := must(G.Sum(must(G.HadamardProd(an, cn)), 1))
	score = must(G.Add(must(G.Mul(cos, b.Const(0.5))), b.Const(0.5)))
	if err != nil || y == nil {
		return score, nil, err
	}
	loss, err = ops.PairSoftmaxLoss(cos, y, h.cfg.Scale, h.cfg.Margin)
	return score, loss, err
}

// Cosine returns the cosine of the angle between a and c (0 if either is
// zero), in float64.
func Cosine(a, c []float32) float64 {
	var ac, aa, cc float64
	for j := range a {
		x, y := float64(a[j]), float64(c[j])
		ac += x * y
		aa += x * x
		cc += y * y
	}
	// the graph's L2 normalisation adds 1e-12 under each root
	return ac / (math.Sqrt(aa+1e-12) * math.Sqrt(cc+1e-12))
}

// Score implements core.Head.
func (h *Head) Score(a, c []float32) float32 { return float32(0.5 + 0.5*Cosine(a, c)) }

// zeros is read-only: squared norms are squared distances to it.
var zeros [1024]float32

// RankKeys implements core.Ranker: the key is the cosine, computed from
// squared distances (vectorised) as (|q|² + |r|² − |q−r|²) / (2·|q|·|r|).
func (h *Head) RankKeys(q, db, keys []float32) {
	d := len(q)
	zero := zeros[:min(d, len(zeros))]
	if len(zero) < d {
		zero = make([]float32, d)
	}
	qq := float64(vec.SqDist(q, zero))
	var norms [256]float32
	for c := 0; c < len(keys); c += len(norms) {
		ks := keys[c:min(c+len(norms), len(keys))]
		rows := db[c*d:]
		rr := norms[:len(ks)]
		vec.SqDistRows(zero, rows, rr)
		vec.SqDistRows(q, rows, ks)
		for i, qr := range ks {
			r := float64(rr[i])
			ks[i] = float32((qq + r - float64(qr)) / (2 * math.Sqrt(qq+1e-12) * math.Sqrt(r+1e-12)))
		}
	}
}

// ScoreOfKey implements core.Ranker.
func (h *Head) ScoreOfKey(key float32) float32 { return 0.5 + 0.5*key }
