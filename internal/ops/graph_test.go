package ops_test

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// evalGraph makes a float64 node of each input, lets build make a scalar
// loss and a node to read from them, runs the graph and returns the loss,
// the read node's value and the gradient of every input.
func evalGraph(t *testing.T, ins []*tensor.Dense, build func(g *G.ExprGraph, in []*G.Node) (loss, out *G.Node, err error)) (float64, []float64, [][]float64) {
	t.Helper()
	g := G.NewGraph()
	nodes := make([]*G.Node, len(ins))
	for i, in := range ins {
		// named apart: gorgonia merges unnamed inputs of one shape
		nodes[i] = G.NewTensor(g, tensor.Float64, in.Dims(), G.WithShape(in.Shape()...), G.WithName(fmt.Sprintf("in%d", i)), G.WithValue(in.Clone()))
	}
	loss, out, err := build(g, nodes)
	if err != nil {
		t.Fatal(err)
	}
	var lv, ov G.Value
	G.Read(loss, &lv)
	G.Read(out, &ov)
	if _, err := G.Grad(loss, nodes...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(nodes...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	var grads [][]float64
	for _, n := range nodes {
		gr, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, append([]float64(nil), gr.Data().([]float64)...))
	}
	return lv.Data().(float64), append([]float64(nil), ov.Data().([]float64)...), grads
}

// against returns Σ out ⊙ r: a loss whose gradient with respect to out is r.
func against(g *G.ExprGraph, out *G.Node, r *tensor.Dense) (*G.Node, error) {
	rn := G.NewTensor(g, tensor.Float64, r.Dims(), G.WithShape(r.Shape()...), G.WithName("against"), G.WithValue(r))
	p, err := G.HadamardProd(out, rn)
	if err != nil {
		return nil, err
	}
	return G.Sum(p)
}

// checkGrads compares grads, element by element, with central differences
// of loss over every element of every input.
func checkGrads(t *testing.T, name string, ins []*tensor.Dense, grads [][]float64, loss func() float64) {
	t.Helper()
	for k, in := range ins {
		d := in.Data().([]float64)
		for j := range d {
			const eps = 1e-6
			orig := d[j]
			d[j] = orig + eps
			lp := loss()
			d[j] = orig - eps
			lm := loss()
			d[j] = orig
			num := (lp - lm) / (2 * eps)
			if math.Abs(num-grads[k][j]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Fatalf("%s: input %d element %d: analytic %g numeric %g", name, k, j, grads[k][j], num)
			}
		}
	}
}

// corrLoss builds Σ corr(z, x) ⊙ r for a correlation op and returns the
// loss, the response and the gradients of z and x.
func corrLoss(t *testing.T, corr func(z, x *G.Node) (*G.Node, error), z, x, r *tensor.Dense) (float64, []float64, [][]float64) {
	t.Helper()
	return evalGraph(t, []*tensor.Dense{z, x}, func(g *G.ExprGraph, in []*G.Node) (*G.Node, *G.Node, error) {
		resp, err := corr(in[0], in[1])
		if err != nil {
			return nil, nil, err
		}
		loss, err := against(g, resp, r)
		return loss, resp, err
	})
}
