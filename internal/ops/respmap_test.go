package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// respLoss builds MapLoss(XCorr(CenterCrop(a), c), bias, y) in float64 and
// returns the loss, the scores and the gradients of a, c and bias.
func respLoss(t *testing.T, a, c, bias *tensor.Dense, y []float64) (float64, []float64, [][]float64) {
	t.Helper()
	return evalGraph(t, []*tensor.Dense{a, c, bias}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
		yn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(len(y)), G.WithValue(tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(y))))
		z, err := ops.CenterCrop(in[0], 3, 3)
		if err != nil {
			return nil, nil, err
		}
		r, err := ops.XCorr(z, in[1])
		if err != nil {
			return nil, nil, err
		}
		loss, err := ops.MapLoss(r, in[2], yn, 0.3, 1)
		if err != nil {
			return nil, nil, err
		}
		score, err := ops.MapScore(r, in[2], 0.3)
		return loss, score, err
	})
}

// The exemplar crop, the cross-correlation, the balanced logistic loss and
// the bias: every gradient element against central differences.
func TestResponseMapLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, c := randT(rng, 3, 2, 7, 7), randT(rng, 3, 2, 7, 7)
	bias := tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{0.2}))
	y := []float64{1, 0, 1}
	loss, scores, grads := respLoss(t, a, c, bias, y)
	if loss <= 0 || math.IsNaN(loss) {
		t.Fatalf("loss %v", loss)
	}
	for _, s := range scores {
		if s <= 0 || s >= 1 {
			t.Fatalf("score %v outside (0,1)", s)
		}
	}
	checkGrads(t, "response map loss", []*tensor.Dense{a, c, bias}, grads, func() float64 { l, _, _ := respLoss(t, a, c, bias, y); return l })
	// Outside the exemplar's centre window, its gradient is zero.
	ga := grads[0]
	for ch := 0; ch < 3*2; ch++ {
		for i := 0; i < 7; i++ {
			for j := 0; j < 7; j++ {
				if (i < 2 || i > 4 || j < 2 || j > 4) && ga[ch*49+i*7+j] != 0 {
					t.Fatalf("gradient %g outside the crop at %d,%d", ga[ch*49+i*7+j], i, j)
				}
			}
		}
	}
}

// Labels: a positive map has positives within the radius of the centre and
// its two halves weigh the same; a negative map is all negative.
func TestMapLabels(t *testing.T) {
	for _, tc := range []struct {
		name   string
		g      ops.MapGeom
		y      float64
		wantNP int
	}{
		{"5x5 r1", ops.MapGeom{H: 5, W: 5, Radius: 1}, 1, 5},
		{"5x5 r0", ops.MapGeom{H: 5, W: 5, Radius: 0}, 1, 1},
		{"13x13 r2", ops.MapGeom{H: 13, W: 13, Radius: 2}, 1, 13},
		{"negative", ops.MapGeom{H: 5, W: 5, Radius: 1}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			np := 0
			var wp, wn float64
			for i := 0; i < tc.g.H; i++ {
				for j := 0; j < tc.g.W; j++ {
					l, w := tc.g.Label(tc.y, i, j)
					if l > 0 {
						np++
						wp += w
					} else {
						wn += w
					}
				}
			}
			if np != tc.wantNP {
				t.Errorf("%d positives, want %d", np, tc.wantNP)
			}
			if tc.y == 1 && (math.Abs(wp-0.5) > 1e-12 || math.Abs(wn-0.5) > 1e-12) {
				t.Errorf("weights %g + %g, want 0.5 + 0.5", wp, wn)
			}
			if tc.y == 0 && math.Abs(wn-1) > 1e-12 {
				t.Errorf("negative map weighs %g, want 1", wn)
			}
		})
	}
}

// nxcLoss is corrLoss for NormXCorr with window weights w.
func nxcLoss(t *testing.T, z, x, r *tensor.Dense, w []float64) (float64, []float64, [][]float64) {
	t.Helper()
	return corrLoss(t, func(z, x *G.Node) (*G.Node, error) { return ops.NormXCorr(z, x, w) }, z, x, r)
}

// The normalised cross-correlation is a cosine (checked directly for unit
// window weights), bounded by 1, and its gradients match central
// differences element by element, with and without window weights.
func TestNormXCorr(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	z, x := randT(rng, 2, 3, 3, 2), randT(rng, 2, 3, 5, 4)
	r := randT(rng, 2, 1, 3, 3)
	_, resp, _ := nxcLoss(t, z, x, r, nil)
	zd, xd := z.Data().([]float64), x.Data().([]float64)
	for n := 0; n < 2; n++ {
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				var dot, zz, xx float64
				for c := 0; c < 3; c++ {
					for u := 0; u < 3; u++ {
						for v := 0; v < 2; v++ {
							a, b := zd[((n*3+c)*3+u)*2+v], xd[((n*3+c)*5+i+u)*4+j+v]
							dot, zz, xx = dot+a*b, zz+a*a, xx+b*b
						}
					}
				}
				if want := dot / math.Sqrt(zz*xx); math.Abs(resp[(n*3+i)*3+j]-want) > 1e-6 {
					t.Fatalf("response[%d,%d,%d] = %g, want the cosine %g", n, i, j, resp[(n*3+i)*3+j], want)
				}
			}
		}
	}
	for _, w := range [][]float64{nil, {0.2, 1, 0.5, 1.5, 1, 0.1}} {
		_, resp, grads := nxcLoss(t, z, x, r, w)
		for _, v := range resp {
			if math.Abs(v) > 1+1e-9 && w == nil {
				t.Fatalf("cosine %g outside [−1,1]", v)
			}
		}
		checkGrads(t, fmt.Sprintf("weights %v", w), []*tensor.Dense{z, x}, grads, func() float64 { l, _, _ := nxcLoss(t, z, x, r, w); return l })
	}
	got := make([]float32, 9)
	z32, x32 := make([]float32, 18), make([]float32, 60)
	for i := range z32 {
		z32[i] = float32(zd[i])
	}
	for i := range x32 {
		x32[i] = float32(xd[i])
	}
	ops.NormXCorrInto(z32, x32, 3, 3, 2, 5, 4, nil, got)
	for i, v := range got {
		if math.Abs(float64(v)-resp[i]) > 1e-5 {
			t.Fatalf("NormXCorrInto[%d] = %g, graph %g", i, v, resp[i])
		}
	}
}

// NormXCorrInto on a tracker-sized map (its rows split across cores),
// with window weights, against the definition: the correlation over ‖z‖
// and √Σ w·x² under the window.
func TestNormXCorrIntoMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	const c, e, hx, wx = 16, 6, 22, 19
	z, x := make([]float32, c*e*e), make([]float32, c*hx*wx)
	for _, v := range [][]float32{z, x} {
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	}
	w := make([]float64, e*e)
	for i := range w {
		w[i] = rng.Float64()
	}
	for _, weights := range [][]float64{nil, w} {
		ho, wo := hx-e+1, wx-e+1
		got := make([]float32, ho*wo)
		ops.NormXCorrInto(z, x, c, e, e, hx, wx, weights, got)
		var zz float64
		for _, v := range z {
			zz += float64(v) * float64(v)
		}
		for i := 0; i < ho; i++ {
			for j := 0; j < wo; j++ {
				var dot, xx float64
				for ch := 0; ch < c; ch++ {
					for u := 0; u < e; u++ {
						for v := 0; v < e; v++ {
							a, b := float64(z[(ch*e+u)*e+v]), float64(x[(ch*hx+i+u)*wx+j+v])
							wt := 1.0
							if weights != nil {
								wt = weights[u*e+v]
							}
							dot, xx = dot+a*b, xx+wt*b*b
						}
					}
				}
				want := dot / (math.Sqrt(zz) * math.Sqrt(xx))
				if d := math.Abs(float64(got[i*wo+j]) - want); d > 1e-5 {
					t.Fatalf("weights %v: r[%d,%d] = %g, want %g", weights != nil, i, j, got[i*wo+j], want)
				}
			}
		}
	}
}
