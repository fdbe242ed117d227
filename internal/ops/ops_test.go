package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// graph builds sum(out ⊙ r) for a random r, so every output element has
// its own weight in the loss, and returns the loss node.
type build func(g *G.ExprGraph, x, w, b *G.Node) (*G.Node, error)

func randT(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = rng.NormFloat64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

type result struct {
	out   []float64
	grads [][]float64
	loss  float64
}

func run(t *testing.T, f build, xs, ws []int, seed uint64) result {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(xs...), G.WithName("x"), G.WithValue(randT(rng, xs...)))
	w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(ws...), G.WithName("w"), G.WithValue(randT(rng, ws...)))
	b := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, ws[0], 1, 1), G.WithName("b"), G.WithValue(randT(rng, 1, ws[0], 1, 1)))
	out, err := f(g, x, w, b)
	if err != nil {
		t.Fatal(err)
	}
	r := G.NewTensor(g, tensor.Float64, 4, G.WithShape(out.Shape()...), G.WithName("r"), G.WithValue(randT(rng, out.Shape()...)))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, r))))
	var outV, lossV G.Value
	G.Read(out, &outV)
	G.Read(loss, &lossV)
	if _, err := G.Grad(loss, x, w, b); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(x, w, b))
	defer vm.Close()
	var res result
	for rep := 0; rep < 2; rep++ { // twice: reused buffers must not leak between runs
		vm.Reset()
		for _, n := range []*G.Node{x, w, b} {
			if gr, err := n.Grad(); err == nil {
				if tt, ok := gr.(tensor.Tensor); ok {
					tt.Zero()
				}
			}
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	res.out = append(res.out, outV.Data().([]float64)...)
	res.loss = lossV.Data().(float64)
	for _, n := range []*G.Node{x, w, b} {
		gr, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		res.grads = append(res.grads, append([]float64(nil), gr.Data().([]float64)...))
	}
	return res
}

func stockConv(relu, pool bool) build {
	return func(g *G.ExprGraph, x, w, b *G.Node) (*G.Node, error) {
		k := w.Shape()[2]
		y, err := G.Conv2d(x, w, tensor.Shape{k, k}, []int{0, 0}, []int{1, 1}, []int{1, 1})
		if err != nil {
			return nil, err
		}
		if y, err = G.BroadcastAdd(y, b, nil, []byte{0, 2, 3}); err != nil {
			return nil, err
		}
		if relu {
			y = G.Must(G.Rectify(y))
		}
		if pool {
			return G.MaxPool2D(y, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
		}
		return y, nil
	}
}

func customConv(relu, pool bool) build {
	return func(g *G.ExprGraph, x, w, b *G.Node) (*G.Node, error) {
		y, err := ops.Conv2D(x, w, b, relu)
		if err != nil || !pool {
			return y, err
		}
		return ops.MaxPool2D(y, 2)
	}
}

func maxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i])/math.Max(1, math.Abs(b[i])))
	}
	return d
}

// The custom ops give the stock ops' outputs and gradients.
func TestMatchesStockOps(t *testing.T) {
	for _, tc := range []struct {
		name       string
		xs, ws     []int
		relu, pool bool
	}{
		{"plain", []int{3, 2, 7, 6}, []int{4, 2, 3, 3}, false, false},
		{"relu", []int{2, 3, 9, 9}, []int{5, 3, 4, 4}, true, false},
		{"relu+pool", []int{4, 1, 11, 11}, []int{3, 1, 2, 2}, true, true},
		{"odd pool", []int{1, 2, 8, 9}, []int{2, 2, 3, 3}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := run(t, stockConv(tc.relu, tc.pool), tc.xs, tc.ws, 3)
			got := run(t, customConv(tc.relu, tc.pool), tc.xs, tc.ws, 3)
			if d := maxDiff(got.out, want.out); d > 1e-10 {
				t.Errorf("output differs from the stock op by %g", d)
			}
			for i, name := range []string{"x", "w", "b"} {
				if d := maxDiff(got.grads[i], want.grads[i]); d > 1e-10 {
					t.Errorf("gradient of %s differs from the stock op by %g", name, d)
				}
			}
		})
	}
}

// Gradients of the custom ops against central differences.
func TestNumericGradients(t *testing.T) {
	xs, ws := []int{2, 2, 8, 8}, []int{3, 2, 3, 3}
	f := customConv(true, true)
	base := run(t, f, xs, ws, 5)
	// Perturb through the seed-built values: rebuild with one element moved.
	rng := rand.New(rand.NewPCG(9, 9))
	for i, shape := range [][]int{xs, ws, {1, 3, 1, 1}} {
		size := 1
		for _, d := range shape {
			size *= d
		}
		for probe := 0; probe < 5; probe++ {
			j := rng.IntN(size)
			num := numeric(t, f, xs, ws, 5, i, j)
			an := base.grads[i][j]
			if math.Abs(num-an) > 1e-5*math.Max(1, math.Abs(an)) {
				t.Errorf("input %d element %d: analytic %g numeric %g", i, j, an, num)
			}
		}
	}
}

func numeric(t *testing.T, f build, xs, ws []int, seed uint64, input, j int) float64 {
	const eps = 1e-6
	shift := func(delta float64) float64 {
		return run(t, func(g *G.ExprGraph, x, w, b *G.Node) (*G.Node, error) {
			n := []*G.Node{x, w, b}[input]
			n.Value().Data().([]float64)[j] += delta
			return f(g, x, w, b)
		}, xs, ws, seed).loss
	}
	return (shift(eps) - shift(-eps)) / (2 * eps)
}

func runDense(t *testing.T, custom bool) result {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 4))
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float64, 2, G.WithShape(5, 7), G.WithName("x"), G.WithValue(randT(rng, 5, 7)))
	w := G.NewTensor(g, tensor.Float64, 2, G.WithShape(7, 3), G.WithName("w"), G.WithValue(randT(rng, 7, 3)))
	b := G.NewTensor(g, tensor.Float64, 2, G.WithShape(1, 3), G.WithName("b"), G.WithValue(randT(rng, 1, 3)))
	var out *G.Node
	if custom {
		out = G.Must(ops.Dense(x, w, b))
	} else {
		out = G.Must(G.BroadcastAdd(G.Must(G.Mul(x, w)), b, nil, []byte{0}))
	}
	r := G.NewTensor(g, tensor.Float64, 2, G.WithShape(5, 3), G.WithName("r"), G.WithValue(randT(rng, 5, 3)))
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(out, r))))
	var outV G.Value
	G.Read(out, &outV)
	if _, err := G.Grad(loss, x, w, b); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(x, w, b))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	res := result{out: append([]float64(nil), outV.Data().([]float64)...)}
	for _, n := range []*G.Node{x, w, b} {
		gr, _ := n.Grad()
		res.grads = append(res.grads, append([]float64(nil), gr.Data().([]float64)...))
	}
	return res
}

func TestDenseMatchesStock(t *testing.T) {
	want, got := runDense(t, false), runDense(t, true)
	if d := maxDiff(got.out, want.out); d > 1e-12 {
		t.Errorf("output differs by %g", d)
	}
	for i, name := range []string{"x", "w", "b"} {
		if d := maxDiff(got.grads[i], want.grads[i]); d > 1e-12 {
			t.Errorf("gradient of %s differs by %g", name, d)
		}
	}
}
