package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// xcorrLoss is corrLoss for XCorr.
func xcorrLoss(t *testing.T, z, x, r *tensor.Dense) (float64, []float64, [][]float64) {
	t.Helper()
	return corrLoss(t, ops.XCorr, z, x, r)
}

func TestXCorr(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	z, x := randT(rng, 2, 3, 3, 2), randT(rng, 2, 3, 6, 5)
	r := randT(rng, 2, 1, 4, 4)
	_, resp, grads := xcorrLoss(t, z, x, r)
	// The response against a direct sum.
	zd, xd := z.Data().([]float64), x.Data().([]float64)
	at := func(d []float64, s []int, n, c, i, j int) float64 { return d[((n*s[1]+c)*s[2]+i)*s[3]+j] }
	for n := 0; n < 2; n++ {
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				var s float64
				for c := 0; c < 3; c++ {
					for u := 0; u < 3; u++ {
						for v := 0; v < 2; v++ {
							s += at(zd, []int{2, 3, 3, 2}, n, c, u, v) * at(xd, []int{2, 3, 6, 5}, n, c, i+u, j+v)
						}
					}
				}
				if got := resp[(n*4+i)*4+j]; math.Abs(got-s) > 1e-12 {
					t.Fatalf("response[%d,%d,%d] = %g, want %g", n, i, j, got, s)
				}
			}
		}
	}
	// Gradients against central differences, every element.
	checkGrads(t, "xcorr", []*tensor.Dense{z, x}, grads, func() float64 { l, _, _ := xcorrLoss(t, z, x, r); return l })
	if _, err := ops.XCorr(G.NewTensor(G.NewGraph(), tensor.Float64, 4, G.WithShape(1, 2, 9, 9)), G.NewTensor(G.NewGraph(), tensor.Float64, 4, G.WithShape(1, 2, 5, 5))); err == nil {
		t.Error("exemplar larger than the search region: no error")
	}
}
