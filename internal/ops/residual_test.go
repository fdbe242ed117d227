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

// graphFn builds an output from float64 input nodes.
type graphFn func(in []*G.Node) (*G.Node, error)

// evaluate builds loss = Σ out ⊙ r for a fixed random r over inputs with
// the given values and returns the output, the loss and the gradient of
// every input.
func evaluate(t *testing.T, f graphFn, vals [][]float64, shapes [][]int) (out []float64, loss float64, grads [][]float64) {
	t.Helper()
	g := G.NewGraph()
	in := make([]*G.Node, len(vals))
	for i := range vals {
		v := tensor.New(tensor.WithShape(shapes[i]...), tensor.WithBacking(append([]float64(nil), vals[i]...)))
		in[i] = G.NewTensor(g, tensor.Float64, len(shapes[i]), G.WithShape(shapes[i]...), G.WithValue(v), G.WithName(fmt.Sprintf("in%d", i)))
	}
	y, err := f(in)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(77, 7))
	r := G.NewTensor(g, tensor.Float64, y.Shape().Dims(), G.WithShape(y.Shape()...), G.WithValue(randT(rng, y.Shape()...)))
	l := G.Must(G.Sum(G.Must(G.HadamardProd(y, r))))
	var yv, lv G.Value
	G.Read(y, &yv)
	G.Read(l, &lv)
	if _, err := G.Grad(l, in...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(in...))
	defer vm.Close()
	for rep := 0; rep < 2; rep++ { // reused buffers must not leak between runs
		vm.Reset()
		for _, n := range in {
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
	for _, n := range in {
		gr, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float64(nil), gr.Data().([]float64)...))
	}
	return append([]float64(nil), yv.Data().([]float64)...), lv.Data().(float64), grads
}

// checkGradients compares every input's analytic gradient with central
// differences at probes random elements.
func checkGradients(t *testing.T, f graphFn, shapes [][]int, probes int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	vals := make([][]float64, len(shapes))
	for i, s := range shapes {
		vals[i] = randT(rng, s...).Data().([]float64)
	}
	_, _, grads := evaluate(t, f, vals, shapes)
	const eps = 1e-6
	for i := range vals {
		for p := 0; p < probes; p++ {
			j := rng.IntN(len(vals[i]))
			at := func(d float64) float64 {
				moved := append([][]float64(nil), vals...)
				moved[i] = append([]float64(nil), vals[i]...)
				moved[i][j] += d
				_, l, _ := evaluate(t, f, moved, shapes)
				return l
			}
			num, an := (at(eps)-at(-eps))/(2*eps), grads[i][j]
			if math.Abs(num-an) > 1e-5*math.Max(1, math.Abs(an)) {
				t.Errorf("input %d element %d: analytic %g, numeric %g", i, j, an, num)
			}
		}
	}
}

// Strided and padded convolutions and strided max-pools give the stock
// ops' outputs and gradients.
func TestStridedMatchesStock(t *testing.T) {
	for _, tc := range []struct {
		name         string
		xs, ws       []int
		stride, pad  int
		relu         bool
		poolK, poolS int
	}{
		{"same 3x3", []int{2, 3, 7, 6}, []int{4, 3, 3, 3}, 1, 1, true, 0, 0},
		{"valid stride 2", []int{2, 2, 9, 8}, []int{3, 2, 3, 3}, 2, 0, false, 0, 0},
		{"7x7 stride 2 + pool 3/2", []int{1, 3, 21, 20}, []int{2, 3, 7, 7}, 2, 0, true, 3, 2},
		{"stride 2 pad 1", []int{2, 2, 8, 8}, []int{2, 2, 3, 3}, 2, 1, true, 0, 0},
		{"stride 3", []int{1, 2, 11, 10}, []int{2, 2, 2, 2}, 3, 0, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shapes := [][]int{tc.xs, tc.ws, {1, tc.ws[0], 1, 1}}
			rng := rand.New(rand.NewPCG(3, 3))
			vals := make([][]float64, 3)
			for i, s := range shapes {
				vals[i] = randT(rng, s...).Data().([]float64)
			}
			stock := func(in []*G.Node) (*G.Node, error) {
				k := tc.ws[2]
				y, err := G.Conv2d(in[0], in[1], tensor.Shape{k, k}, []int{tc.pad, tc.pad}, []int{tc.stride, tc.stride}, []int{1, 1})
				if err != nil {
					return nil, err
				}
				if y, err = G.BroadcastAdd(y, in[2], nil, []byte{0, 2, 3}); err != nil {
					return nil, err
				}
				if tc.relu {
					y = G.Must(G.Rectify(y))
				}
				if tc.poolK > 0 {
					return G.MaxPool2D(y, tensor.Shape{tc.poolK, tc.poolK}, []int{0, 0}, []int{tc.poolS, tc.poolS})
				}
				return y, nil
			}
			custom := func(in []*G.Node) (*G.Node, error) {
				y, err := ops.Conv2DStrided(in[0], in[1], in[2], tc.stride, tc.pad, tc.relu)
				if err != nil || tc.poolK == 0 {
					return y, err
				}
				return ops.MaxPool2DStrided(y, tc.poolK, tc.poolS)
			}
			wantOut, _, wantGrads := evaluate(t, stock, vals, shapes)
			gotOut, _, gotGrads := evaluate(t, custom, vals, shapes)
			if len(gotOut) != len(wantOut) {
				t.Fatalf("output has %d elements, stock %d", len(gotOut), len(wantOut))
			}
			if d := maxDiff(gotOut, wantOut); d > 1e-10 {
				t.Errorf("output differs from the stock op by %g", d)
			}
			for i, name := range []string{"x", "w", "b"} {
				if d := maxDiff(gotGrads[i], wantGrads[i]); d > 1e-10 {
					t.Errorf("gradient of %s differs from the stock op by %g", name, d)
				}
			}
		})
	}
}

func TestStridedNumericGradients(t *testing.T) {
	checkGradients(t, func(in []*G.Node) (*G.Node, error) {
		y, err := ops.Conv2DStrided(in[0], in[1], in[2], 2, 1, true)
		if err != nil {
			return nil, err
		}
		return ops.MaxPool2DStrided(y, 3, 2)
	}, [][]int{{2, 2, 11, 11}, {3, 2, 3, 3}, {1, 3, 1, 1}}, 6)
}

func TestShortcutGradients(t *testing.T) {
	for _, tc := range []struct {
		name   string
		y, x   []int
		down   bool
		outDim []int
	}{
		{"identity", []int{2, 3, 5, 4}, []int{2, 3, 5, 4}, false, []int{2, 3, 5, 4}},
		{"down, channels doubled", []int{2, 4, 3, 3}, []int{2, 2, 7, 7}, true, []int{2, 4, 3, 3}},
		{"down, branch one smaller", []int{1, 4, 3, 3}, []int{1, 4, 8, 8}, true, []int{1, 4, 4, 4}},
		{"down 2 to 1", []int{2, 3, 1, 1}, []int{2, 3, 4, 5}, true, []int{2, 3, 2, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := func(in []*G.Node) (*G.Node, error) { return ops.Shortcut(in[0], in[1], tc.down) }
			checkGradients(t, f, [][]int{tc.y, tc.x}, 8)
			rng := rand.New(rand.NewPCG(1, 2))
			vy, vx := randT(rng, tc.y...).Data().([]float64), randT(rng, tc.x...).Data().([]float64)
			out, _, _ := evaluate(t, f, [][]float64{vy, vx}, [][]int{tc.y, tc.x})
			want := shortcutRef(vy, vx, tc.y, tc.x, tc.outDim, tc.down)
			if d := maxDiff(out, want); d > 1e-12 {
				t.Errorf("output differs from the reference by %g", d)
			}
		})
	}
}

// shortcutRef is the face-api.js residual join written out element by
// element: ReLU(pad(y) + channel-pad(avgpool(x))).
func shortcutRef(y, x []float64, ys, xs, os []int, down bool) []float64 {
	out := make([]float64, os[0]*os[1]*os[2]*os[3])
	for n := 0; n < os[0]; n++ {
		for f := 0; f < os[1]; f++ {
			for i := 0; i < os[2]; i++ {
				for j := 0; j < os[3]; j++ {
					v := 0.0
					if i < ys[2] && j < ys[3] {
						v = y[((n*ys[1]+f)*ys[2]+i)*ys[3]+j]
					}
					if f < xs[1] {
						at := func(a, b int) float64 { return x[((n*xs[1]+f)*xs[2]+a)*xs[3]+b] }
						if down {
							v += (at(2*i, 2*j) + at(2*i, 2*j+1) + at(2*i+1, 2*j) + at(2*i+1, 2*j+1)) / 4
						} else {
							v += at(i, j)
						}
					}
					out[((n*os[1]+f)*os[2]+i)*os[3]+j] = math.Max(v, 0)
				}
			}
		}
	}
	return out
}

func TestGlobalAvgPool(t *testing.T) {
	f := func(in []*G.Node) (*G.Node, error) { return ops.GlobalAvgPool(in[0]) }
	checkGradients(t, f, [][]int{{3, 4, 2, 3}}, 8)
	vals := [][]float64{{1, 2, 3, 4, 10, 20, 30, 40}}
	out, _, _ := evaluate(t, f, vals, [][]int{{1, 2, 2, 2}})
	if out[0] != 2.5 || out[1] != 25 {
		t.Errorf("means %v, want [2.5 25]", out)
	}
}

func TestShapeErrors(t *testing.T) {
	g := G.NewGraph()
	n := func(s ...int) *G.Node { return G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...)) }
	if _, err := ops.Shortcut(n(1, 3, 4, 4), n(1, 2, 4, 4), false); err == nil {
		t.Error("identity shortcut across channel counts: no error")
	}
	if _, err := ops.Shortcut(n(1, 2, 5, 5), n(1, 2, 8, 8), true); err == nil {
		t.Error("branch larger than the pooled input: no error")
	}
	if _, err := ops.Conv2DStrided(n(1, 1, 5, 5), n(1, 1, 3, 3), n(1, 1, 1, 1), 0, 0, false); err == nil {
		t.Error("stride 0: no error")
	}
	if _, err := ops.MaxPool2DStrided(n(1, 1, 2, 2), 3, 2); err == nil {
		t.Error("pool larger than input: no error")
	}
}

func TestMirror(t *testing.T) {
	shape := []int{2, 2, 3, 4}
	mir := func(in []*G.Node) (*G.Node, error) { return ops.WithMirror(in[0]) }
	checkGradients(t, mir, [][]int{shape}, 12)
	both := func(in []*G.Node) (*G.Node, error) {
		y, err := ops.WithMirror(in[0])
		if err != nil {
			return nil, err
		}
		return ops.MeanHalves(y)
	}
	checkGradients(t, both, [][]int{shape}, 12)
	halves := func(in []*G.Node) (*G.Node, error) { return ops.MeanHalves(in[0]) }
	checkGradients(t, halves, [][]int{{4, 3}}, 8)

	rng := rand.New(rand.NewPCG(3, 4))
	x := randT(rng, shape...).Data().([]float64)
	out, _, _ := evaluate(t, mir, [][]float64{x}, [][]int{shape})
	n, w := len(x), shape[3]
	for i := range x {
		row, col := i/w, i%w
		if out[i] != x[i] || out[n+row*w+w-1-col] != x[i] {
			t.Fatalf("element %d: copy %g, mirror %g, want %g", i, out[i], out[n+row*w+w-1-col], x[i])
		}
	}
	avg, _, _ := evaluate(t, both, [][]float64{x}, [][]int{shape})
	for i := range avg {
		row, col := i/w, i%w
		if want := (x[i] + x[row*w+w-1-col]) / 2; math.Abs(avg[i]-want) > 1e-15 {
			t.Fatalf("element %d: mean %g, want %g", i, avg[i], want)
		}
	}
	if _, err := ops.MeanHalves(G.NewMatrix(G.NewGraph(), tensor.Float64, G.WithShape(3, 2))); err == nil {
		t.Error("an odd batch: no error")
	}
}
