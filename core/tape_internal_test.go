package core

import (
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A training tape runs the forward graph and what the read gradients need,
// not the gradient of an input no one reads: for loss = Σ x·w, the product
// x·w runs once forward and once for dL/dw = xᵀ·1, but not for dL/dx.
func TestTapeSkipsUnreadGradients(t *testing.T) {
	build := func() (*G.ExprGraph, map[*G.Node]bool, G.Nodes) {
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
		return g, fwd, grads
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
	g, fwd, grads := build()
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
