package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// xcorrLoss builds sum(XCorr(z, x) ⊙ r) and returns the loss, the response
// and the gradients of z and x.
func xcorrLoss(t *testing.T, z, x, r *tensor.Dense) (float64, []float64, [][]float64) {
	t.Helper()
	g := G.NewGraph()
	zn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(z.Shape()...), G.WithName("z"), G.WithValue(z.Clone()))
	xn := G.NewTensor(g, tensor.Float64, 4, G.WithShape(x.Shape()...), G.WithName("x"), G.WithValue(x.Clone()))
	resp, err := ops.XCorr(zn, xn)
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
	for k, in := range []*tensor.Dense{z, x} {
		d := in.Data().([]float64)
		for j := range d {
			const eps = 1e-6
			orig := d[j]
			d[j] = orig + eps
			lp, _, _ := xcorrLoss(t, z, x, r)
			d[j] = orig - eps
			lm, _, _ := xcorrLoss(t, z, x, r)
			d[j] = orig
			num := (lp - lm) / (2 * eps)
			if math.Abs(num-grads[k][j]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("input %d element %d: analytic %g numeric %g", k, j, grads[k][j], num)
			}
		}
	}
	if _, err := ops.XCorr(G.NewTensor(G.NewGraph(), tensor.Float64, 4, G.WithShape(1, 2, 9, 9)), G.NewTensor(G.NewGraph(), tensor.Float64, 4, G.WithShape(1, 2, 5, 5))); err == nil {
		t.Error("exemplar larger than the search region: no error")
	}
}
