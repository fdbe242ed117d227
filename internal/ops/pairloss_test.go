package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pairSoftmax builds PairSoftmaxLoss(s, y) times 2 in float64 (the factor
// checks that the upstream gradient is applied).
func pairSoftmax(t *testing.T, s *tensor.Dense, y []float64) (float64, [][]float64) {
	t.Helper()
	loss, _, grads := evalGraph(t, []*tensor.Dense{s}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
		yn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(len(y)), G.WithName("y"), G.WithValue(tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(y))))
		l, err := ops.PairSoftmaxLoss(in[0], yn, 16, 0.3)
		if err != nil {
			return nil, nil, err
		}
		l2, err := G.Mul(l, G.NewConstant(2.0))
		return l2, in[0], err
	})
	return loss, grads
}

// The loss against its definition, and every gradient element against
// central differences.
func TestPairSoftmaxLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		y    []float64
	}{
		{"mixed", []float64{1, 0, 0, 1, 0, 0, 1}},
		{"one positive", []float64{0, 0, 1, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 9))
			sv := make([]float64, len(tc.y))
			for i := range sv {
				sv[i] = rng.Float64()*2 - 1
			}
			s := tensor.New(tensor.WithShape(len(sv)), tensor.WithBacking(sv))
			loss, grads := pairSoftmax(t, s, tc.y)
			var pos, neg float64
			for i, v := range sv {
				if tc.y[i] == 1 {
					pos += math.Exp(-16 * (v - 0.3))
				} else {
					neg += math.Exp(16 * v)
				}
			}
			if want := 2 * math.Log1p(pos*neg); math.Abs(loss-want) > 1e-9*want {
				t.Fatalf("loss %v, want %v", loss, want)
			}
			for i, g := range grads[0] {
				if (tc.y[i] == 1) != (g < 0) {
					t.Fatalf("pair %d (label %v): gradient %v has the wrong sign", i, tc.y[i], g)
				}
			}
			checkGrads(t, "pair softmax loss", []*tensor.Dense{s}, grads, func() float64 { l, _ := pairSoftmax(t, s, tc.y); return l })
		})
	}
}

// A batch with no negative pair (or no positive) has nothing to separate:
// loss and gradient are zero, not NaN.
func TestPairSoftmaxLossOneSided(t *testing.T) {
	s := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{0.1, 0.5, -0.2}))
	loss, grads := pairSoftmax(t, s, []float64{1, 1, 1})
	if loss != 0 {
		t.Fatalf("loss %v, want 0", loss)
	}
	for _, g := range grads[0] {
		if g != 0 {
			t.Fatalf("gradient %v, want 0", g)
		}
	}
}
