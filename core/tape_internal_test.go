package core

import (
	"fmt"
	"hash"
	"strings"
	"testing"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A training tape runs the forward graph and what the read gradients need,
// not the gradient of an input no one reads: for loss = Σ x·w, the product
// x·w runs once forward and once for dL/dw = xᵀ·1, but not for dL/dx.
func TestTapeSkipsUnreadGradients(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(3, 1), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(3, 1), tensor.WithBacking([]float64{1, 1, 1}))))
	loss := G.Must(G.Sum(G.Must(G.Mul(x, w))))
	fwd := map[*G.Node]bool{}
	for _, n := range g.AllNodes() {
		fwd[n] = true
	}
	grads, err := G.Grad(loss, w)
	if err != nil {
		t.Fatal(err)
	}
	products := func(tp *tape) int {
		n := 0
		for _, op := range tp.ops {
			if op != nil && strings.Contains(op.String(), "×") {
				n++
			}
		}
		return n
	}
	all, err := newTape(g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := newTape(g, fwd, grads)
	if err != nil {
		t.Fatal(err)
	}
	if a, p := products(all), products(pruned); p != 2 || a <= p {
		t.Errorf("products on the tape: %d of %d, want 2 (forward and dL/dw) of more", p, a)
	}
	if err := pruned.run(); err != nil {
		t.Fatal(err)
	}
	got := pruned.value(grads[0]).Data().([]float64)
	for i, want := range []float64{5, 7, 9} { // xᵀ·1
		if got[i] != want {
			t.Fatalf("dL/dw = %v, want [5 7 9]", got)
		}
	}
}

// negOp negates a vector, into a buffer of its own or, on the tape's say,
// over its input.
type negOp struct{ inPlace int }

func (negOp) Arity() int { return 1 }
func (negOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (negOp) InferShape(s ...G.DimSizer) (tensor.Shape, error) {
	return s[0].(tensor.Shape).Clone(), nil
}
func (negOp) ReturnsPtr() bool      { return false }
func (negOp) CallsExtern() bool     { return false }
func (negOp) OverwritesInput() int  { return -1 }
func (negOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "neg") }
func (negOp) Hashcode() uint32      { return 1 }
func (negOp) String() string        { return "neg" }
func (negOp) InPlaceInput() int     { return 0 }
func (negOp) Do(in ...G.Value) (G.Value, error) {
	x := in[0].Data().([]float64)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = -v
	}
	return tensor.New(tensor.WithShape(len(x)), tensor.WithBacking(out)), nil
}
func (op *negOp) DoInPlace(in ...G.Value) (G.Value, error) {
	op.inPlace++
	x := in[0].Data().([]float64)
	for i := range x {
		x[i] = -x[i]
	}
	return in[0], nil
}

// An InPlaceDoer writes over its input only where nothing else needs it:
// a node outside the forward graph, taken by no other op, not read.
func TestTapeInPlace(t *testing.T) {
	for _, tc := range []struct {
		name        string
		shared, rd  bool
		wantInPlace bool
	}{
		{"sole consumer", false, false, true},
		{"input taken twice", true, false, false},
		{"input read after the run", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := G.NewGraph()
			x := G.NewVector(g, tensor.Float64, G.WithShape(3), G.WithName("x"),
				G.WithValue(tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{1, 2, 3}))))
			fwd := map[*G.Node]bool{x: true}
			c := G.Must(G.Add(x, x)) // a "gradient": not in fwd
			op := &negOp{}
			y := G.Must(G.ApplyOp(op, c))
			read := G.Nodes{y}
			if tc.shared {
				read = append(read, G.Must(G.Add(c, y)))
			}
			if tc.rd {
				read = append(read, c)
			}
			tp, err := newTape(g, fwd, read)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := tp.run(); err != nil {
					t.Fatal(err)
				}
			}
			if got := tp.value(y).Data().([]float64); got[0] != -2 || got[1] != -4 || got[2] != -6 {
				t.Errorf("y = %v, want [-2 -4 -6]", got)
			}
			if tc.rd {
				if got := tp.value(c).Data().([]float64); got[2] != 6 {
					t.Errorf("c read after the run = %v, want [2 4 6]", got)
				}
			}
			if (op.inPlace == 2) != tc.wantInPlace {
				t.Errorf("ran in place %d times of 2, want in place %v", op.inPlace, tc.wantInPlace)
			}
		})
	}
}
