package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// respLoss builds MapLoss(XCorr(CenterCrop(a), c), bias, y) in float64 and
// returns the loss, the scores and the gradients of a, c and bias.
func respLoss(t *testing.T, a, c *tensor.Dense, bias float64, y []float64) (float64, []float64, [][]float64) {
	t.Helper()
	g := G.NewGraph()
	an := G.NewTensor(g, tensor.Float64, 4, G.WithShape(a.Shape()...), G.WithName("a"), G.WithValue(a.Clone()))
	cn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(c.Shape()...), G.WithName("c"), G.WithValue(c.Clone()))
	bn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(1), G.WithName("bias"), G.WithValue(tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{bias}))))
	yn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(len(y)), G.WithName("y"), G.WithValue(tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(y))))
	z, err := ops.CenterCrop(an, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ops.XCorr(z, cn)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := ops.MapLoss(r, bn, yn, 0.3, 1)
	if err != nil {
		t.Fatal(err)
	}
	score, err := ops.MapScore(r, bn, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	var lv, sv G.Value
	G.Read(loss, &lv)
	G.Read(score, &sv)
	if _, err := G.Grad(loss, an, cn, bn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(an, cn, bn))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var grads [][]float64
	for _, n := range []*G.Node{an, cn, bn} {
		gr, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float64(nil), gr.Data().([]float64)...))
	}
	return lv.Data().(float64), append([]float64(nil), sv.Data().([]float64)...), grads
}

// The exemplar crop, the cross-correlation, the balanced logistic loss and
// the bias: every gradient element against central differences.
func TestResponseMapLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, c := randT(rng, 3, 2, 7, 7), randT(rng, 3, 2, 7, 7)
	y := []float64{1, 0, 1}
	const bias = 0.2
	loss, scores, grads := respLoss(t, a, c, bias, y)
	if loss <= 0 || math.IsNaN(loss) {
		t.Fatalf("loss %v", loss)
	}
	for _, s := range scores {
		if s <= 0 || s >= 1 {
			t.Fatalf("score %v outside (0,1)", s)
		}
	}
	check := func(name string, d []float64, k int) {
		for j := range d {
			const eps = 1e-6
			orig := d[j]
			d[j] = orig + eps
			lp, _, _ := respLoss(t, a, c, bias, y)
			d[j] = orig - eps
			lm, _, _ := respLoss(t, a, c, bias, y)
			d[j] = orig
			num := (lp - lm) / (2 * eps)
			if math.Abs(num-grads[k][j]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("%s element %d: analytic %g numeric %g", name, j, grads[k][j], num)
			}
		}
	}
	check("exemplar", a.Data().([]float64), 0)
	check("search", c.Data().([]float64), 1)
	// The bias.
	lp, _, _ := respLoss(t, a, c, bias+1e-6, y)
	lm, _, _ := respLoss(t, a, c, bias-1e-6, y)
	if num := (lp - lm) / 2e-6; math.Abs(num-grads[2][0]) > 1e-6*math.Max(1, math.Abs(num)) {
		t.Fatalf("bias: analytic %g numeric %g", grads[2][0], num)
	}
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

// nxcLoss builds sum(NormXCorr(z, x, w) ⊙ r) and returns the loss, the
// response and the gradients of z and x.
func nxcLoss(t *testing.T, z, x, r *tensor.Dense, w []float64) (float64, []float64, [][]float64) {
	t.Helper()
	g := G.NewGraph()
	zn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(z.Shape()...), G.WithName("z"), G.WithValue(z.Clone()))
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(x.Shape()...), G.WithName("x"), G.WithValue(x.Clone()))
	resp, err := ops.NormXCorr(zn, xn, w)
	if err != nil {
		t.Fatal(err)
	}
	rn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(r.Shape()...), G.WithName("r"), G.WithValue(r))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(resp, rn))))
	var lv, rv G.Value
	G.Read(loss, &lv)
	G.Read(resp, &rv)
	if _, err := G.Grad(loss, zn, xn); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(zn, xn))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var grads [][]float64
	for _, n := range []*G.Node{zn, xn} {
		gr, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float64(nil), gr.Data().([]float64)...))
	}
	return lv.Data().(float64), append([]float64(nil), rv.Data().([]float64)...), grads
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
		for k, in := range []*tensor.Dense{z, x} {
			d := in.Data().([]float64)
			for j := range d {
				const eps = 1e-6
				orig := d[j]
				d[j] = orig + eps
				lp, _, _ := nxcLoss(t, z, x, r, w)
				d[j] = orig - eps
				lm, _, _ := nxcLoss(t, z, x, r, w)
				d[j] = orig
				num := (lp - lm) / (2 * eps)
				if math.Abs(num-grads[k][j]) > 1e-6*math.Max(1, math.Abs(num)) {
					t.Fatalf("weights %v: input %d element %d: analytic %g numeric %g", w, k, j, grads[k][j], num)
				}
			}
		}
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
