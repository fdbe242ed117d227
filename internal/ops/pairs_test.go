package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pairHead builds Koch's head over pairs (ia, ib) of the rows of emb,
// fused (Gather, WeightedL1, LogisticLoss) or from stock ops, and returns
// the loss, the logits and the gradients of emb, alpha and bias.
func pairHead(t *testing.T, fused bool, emb, alpha, bias *tensor.Dense, ia, ib []int, y []float64) (float64, []float64, [][]float64) {
	t.Helper()
	return evalGraph(t, []*tensor.Dense{emb, alpha, bias}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
		idx := func(name string, v []int) *G.Node {
			return G.NewTensor(g, tensor.Int, 1, G.WithShape(len(v)), G.WithName(name), G.WithValue(tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(append([]int(nil), v...)))))
		}
		yn := G.NewTensor(g, tensor.Float64, 1, G.WithShape(len(y)), G.WithName("y"), G.WithValue(tensor.New(tensor.WithShape(len(y)), tensor.WithBacking(y))))
		na, nb := idx("ia", ia), idx("ib", ib)
		if fused {
			a, err := core.Gather(in[0], na)
			if err != nil {
				return nil, nil, err
			}
			c, err := core.Gather(in[0], nb)
			if err != nil {
				return nil, nil, err
			}
			z, err := ops.WeightedL1(a, c, in[1], in[2])
			if err != nil {
				return nil, nil, err
			}
			l, err := ops.LogisticLoss(z, yn)
			if err != nil {
				return nil, nil, err
			}
			l3, err := G.Mul(l, G.NewConstant(3.0)) // the upstream gradient is applied
			return l3, z, err
		}
		a := G.Must(G.ByIndices(in[0], na, 0))
		c := G.Must(G.ByIndices(in[0], nb, 0))
		d := G.Must(G.Abs(G.Must(G.Sub(a, c))))
		z := G.Must(G.Reshape(G.Must(G.BroadcastAdd(G.Must(G.Mul(d, in[1])), in[2], nil, []byte{0})), []int{len(ia)}))
		l := G.Must(G.Mean(G.Must(G.Sub(G.Must(G.Softplus(z)), G.Must(G.HadamardProd(yn, z))))))
		return G.Must(G.Mul(l, G.NewConstant(3.0))), z, nil
	})
}

// The fused pair head gives the stock ops' loss, logits and gradients,
// the gradients match central differences, and a row in several pairs
// gets the sum of their gradients.
func TestPairHeadMatchesStock(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	const n, d = 5, 7
	emb, alpha, bias := randT(rng, n, d), randT(rng, d, 1), randT(rng, 1, 1)
	ia := []int{0, 1, 2, 0, 4, 3}
	ib := []int{1, 2, 0, 3, 0, 0} // row 0 on both sides of several pairs
	y := []float64{1, 0, 1, 0, 0, 1}
	loss, z, grads := pairHead(t, true, emb, alpha, bias, ia, ib, y)
	wantLoss, wantZ, wantGrads := pairHead(t, false, emb, alpha, bias, ia, ib, y)
	if math.Abs(loss-wantLoss) > 1e-12 {
		t.Fatalf("loss %v, stock %v", loss, wantLoss)
	}
	if diff := maxDiff(z, wantZ); diff > 1e-12 {
		t.Fatalf("logits differ from stock by %g", diff)
	}
	for k := range grads {
		if diff := maxDiff(grads[k], wantGrads[k]); diff > 1e-12 {
			t.Fatalf("gradient of input %d differs from stock by %g", k, diff)
		}
	}
	ins := []*tensor.Dense{emb, alpha, bias}
	checkGrads(t, "pair head", ins, grads, func() float64 {
		l, _, _ := pairHead(t, true, emb, alpha, bias, ia, ib, y)
		return l
	})
}

// Gather refuses an index out of range at run time and non-int indices
// when the graph is built; Activation refuses an unknown function.
func TestGatherErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 2), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
	bad := G.NewTensor(g, tensor.Int, 1, G.WithShape(2), G.WithName("i"), G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{0, 3}))))
	out, err := core.Gather(x, bad)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err == nil {
		t.Errorf("index 3 of 3 rows: no error (got %v)", out.Value())
	}
	vm.Close()
	if _, err := core.Gather(x, x); err == nil {
		t.Error("float indices: no error")
	}
	if _, err := ops.Activation(x, "softmax"); err == nil {
		t.Error("activation softmax: no error")
	}
}

// Activation gives the stock ops' outputs and gradients, and its
// gradients match central differences.
func TestActivationMatchesStock(t *testing.T) {
	stock := map[string]func(*G.Node) (*G.Node, error){"sigmoid": G.Sigmoid, "tanh": G.Tanh, "relu": G.Rectify}
	for _, f := range []string{"sigmoid", "tanh", "relu"} {
		t.Run(f, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(8, 1))
			x, r := randT(rng, 3, 2, 4), randT(rng, 3, 2, 4)
			eval := func(custom bool) (float64, []float64, [][]float64) {
				return evalGraph(t, []*tensor.Dense{x}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
					var y *G.Node
					var err error
					if custom {
						y, err = ops.Activation(in[0], f)
					} else {
						y, err = stock[f](in[0])
					}
					if err != nil {
						return nil, nil, err
					}
					l, err := against(g, y, r.Clone().(*tensor.Dense))
					return l, y, err
				})
			}
			loss, y, grads := eval(true)
			wantLoss, wantY, wantGrads := eval(false)
			if math.Abs(loss-wantLoss) > 1e-12 || maxDiff(y, wantY) > 1e-12 || maxDiff(grads[0], wantGrads[0]) > 1e-12 {
				t.Fatalf("loss %v (stock %v), outputs differ by %g, gradients by %g", loss, wantLoss, maxDiff(y, wantY), maxDiff(grads[0], wantGrads[0]))
			}
			checkGrads(t, f, []*tensor.Dense{x}, grads, func() float64 { l, _, _ := eval(true); return l })
		})
	}
}

func TestReshapeMatchesStock(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 1))
	x, r := randT(rng, 3, 2, 4), randT(rng, 3, 8)
	eval := func(custom bool) (float64, []float64, [][]float64) {
		return evalGraph(t, []*tensor.Dense{x}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
			// A product before the reshape, so that the input is an op's
			// output, as in a tower.
			sq, err := G.Square(in[0])
			if err != nil {
				return nil, nil, err
			}
			var y *G.Node
			if custom {
				y, err = ops.Reshape(sq, 3, 8)
			} else {
				y, err = G.Reshape(sq, tensor.Shape{3, 8})
			}
			if err != nil {
				return nil, nil, err
			}
			l, err := against(g, y, r.Clone().(*tensor.Dense))
			return l, y, err
		})
	}
	loss, y, grads := eval(true)
	wantLoss, wantY, wantGrads := eval(false)
	if math.Abs(loss-wantLoss) > 1e-12 || maxDiff(y, wantY) > 1e-12 || maxDiff(grads[0], wantGrads[0]) > 1e-12 {
		t.Fatalf("loss %v (stock %v), outputs differ by %g, gradients by %g", loss, wantLoss, maxDiff(y, wantY), maxDiff(grads[0], wantGrads[0]))
	}
	checkGrads(t, "reshape", []*tensor.Dense{x}, grads, func() float64 { l, _, _ := eval(true); return l })
	if _, err := ops.Reshape(G.NewTensor(G.NewGraph(), tensor.Float64, 2, G.WithShape(3, 4)), 5, 2); err == nil {
		t.Error("reshape of 12 values to 10: no error")
	}
}
