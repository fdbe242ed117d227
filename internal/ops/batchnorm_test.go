package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bnLoss builds Σ BatchNorm(x, γ, β) ⊙ r (with a fused ReLU when relu) in float64 and returns the loss,
// the output, the gradients of x, γ and β, and the batch statistics.
func bnLoss(t *testing.T, x, gamma, beta, mean, variance, r *tensor.Dense, training, relu bool) (float64, []float64, [][]float64, *ops.BatchStats) {
	t.Helper()
	var stats *ops.BatchStats
	loss, out, grads := evalGraph(t, []*tensor.Dense{x, gamma, beta}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
		mn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(mean.Shape()...), G.WithName("mean"), G.WithValue(mean.Clone()))
		vn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(variance.Shape()...), G.WithName("var"), G.WithValue(variance.Clone()))
		y, st, err := ops.BatchNorm(in[0], in[1], in[2], mn, vn, training, relu, 1e-5)
		if err != nil {
			return nil, nil, err
		}
		stats = st
		l, err := against(g, y, r)
		return l, y, err
	})
	return loss, out, grads, stats
}

// Batch norm over [N,C] and [N,C,H,W], with batch statistics and with given
// ones, with and without the fused ReLU: the output against its
// definition, the statistics, and every gradient element against central
// differences.
func TestBatchNorm(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shape    []int
		training bool
		relu     bool
	}{
		{"dense training", []int{5, 3}, true, false},
		{"spatial training", []int{3, 2, 3, 4}, true, false},
		{"spatial inference", []int{3, 2, 3, 4}, false, false},
		{"dense training relu", []int{5, 3}, true, true},
		{"spatial training relu", []int{3, 2, 3, 4}, true, true},
		{"spatial inference relu", []int{3, 2, 3, 4}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 1))
			c := tc.shape[1]
			x, r := randT(rng, tc.shape...), randT(rng, tc.shape...)
			gamma, beta, mean := randT(rng, c), randT(rng, c), randT(rng, c)
			variance := tensor.New(tensor.WithShape(c), tensor.WithBacking([]float64{0.5, 2, 1}[:c]))
			_, y, grads, stats := bnLoss(t, x, gamma, beta, mean, variance, r, tc.training, tc.relu)
			n, s := tc.shape[0], len(x.Data().([]float64))/(tc.shape[0]*c)
			xd := x.Data().([]float64)
			for ch := 0; ch < c; ch++ {
				var vals []float64
				for i := 0; i < n; i++ {
					vals = append(vals, xd[(i*c+ch)*s:(i*c+ch+1)*s]...)
				}
				mu, v := mean.Data().([]float64)[ch], variance.Data().([]float64)[ch]
				if tc.training {
					mu, v = 0, 0
					for _, a := range vals {
						mu += a / float64(len(vals))
					}
					for _, a := range vals {
						v += (a - mu) * (a - mu) / float64(len(vals))
					}
					if math.Abs(stats.Mean[ch]-mu) > 1e-12 || math.Abs(stats.Var[ch]-v) > 1e-9 {
						t.Fatalf("channel %d: stats %v %v, want %v %v", ch, stats.Mean[ch], stats.Var[ch], mu, v)
					}
				}
				g, b := gamma.Data().([]float64)[ch], beta.Data().([]float64)[ch]
				for i := 0; i < n; i++ {
					for j := 0; j < s; j++ {
						k := (i*c+ch)*s + j
						want := g*(xd[k]-mu)/math.Sqrt(v+1e-5) + b
						if tc.relu {
							want = max(want, 0)
						}
						if math.Abs(y[k]-want) > 1e-9 {
							t.Fatalf("y[%d] = %v, want %v", k, y[k], want)
						}
					}
				}
			}
			checkGrads(t, "batch norm", []*tensor.Dense{x, gamma, beta}, grads, func() float64 {
				l, _, _, _ := bnLoss(t, x, gamma, beta, mean, variance, r, tc.training, tc.relu)
				return l
			})
		})
	}
}
