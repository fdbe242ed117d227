package core

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tape runs a compiled graph's ops in topological order and keeps each
// node's value in a slot of its own. It replaces gorgonia's tape machine for
// the nets of this package: that machine allocates on every op of every run
// (the argument slice, an add op and a copy per gradient, a goroutine and
// two channels per run), which is garbage a training step leaves behind
// however well its ops keep their buffers. Here a run allocates nothing
// beyond what the ops themselves return.
//
// No op runs in place over its inputs, so an op sees exactly what the graph
// says. A stock op that can write into a given value (gorgonia's
// UsePreallocDoer: element-wise arithmetic, for example the sum of a
// tensor's two gradients) writes into its own output of the previous run,
// when that output shares no memory with its inputs; the others run
// through Do. Gradients are the values of the nodes that gorgonia.Grad
// returned, read after the run instead of added into dual values during it.
type tape struct {
	nodes []*G.Node
	ops   []G.Op      // nil for inputs, whose value is bound with gorgonia.Let
	args  [][]int     // per node, the slots of its children, in order
	in    [][]G.Value // per node, its argument slice, kept between runs
	vals  []G.Value
	reuse []bool // per node: its last value is its own, to be written again
	// per node: the input an InPlaceDoer may write over, or −1
	inplace []int
	slot    map[*G.Node]int
}

// newTape orders g's nodes so that every node comes after its children.
// A training graph passes its forward nodes (fwd, those made before
// gorgonia.Grad) and the gradients it reads (grads): of the nodes Grad
// made, only those a read gradient depends on run. Grad differentiates
// every input of an op on the path, so without this each net would also
// compute the gradient of its input images (a full product and col2im for
// the first convolution) and throw it away. A nil fwd keeps every node.
func newTape(g *G.ExprGraph, fwd map[*G.Node]bool, grads G.Nodes) (*tape, error) {
	sorted, err := G.Sort(g) // roots first
	if err != nil {
		return nil, fmt.Errorf("sort graph: %w", err)
	}
	keep := func(*G.Node) bool { return true }
	if fwd != nil {
		need := make(map[*G.Node]bool, len(sorted))
		stack := append(G.Nodes(nil), grads...)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if need[n] || fwd[n] {
				continue
			}
			need[n] = true
			children := g.From(n.ID())
			for children.Next() {
				stack = append(stack, children.Node().(*G.Node))
			}
		}
		keep = func(n *G.Node) bool { return fwd[n] || need[n] }
	}
	t := &tape{slot: make(map[*G.Node]int, len(sorted))}
	for i := len(sorted) - 1; i >= 0; i-- {
		if !keep(sorted[i]) {
			continue
		}
		t.slot[sorted[i]] = len(t.nodes)
		t.nodes = append(t.nodes, sorted[i])
	}
	t.ops = make([]G.Op, len(t.nodes))
	t.args = make([][]int, len(t.nodes))
	t.in = make([][]G.Value, len(t.nodes))
	t.vals = make([]G.Value, len(t.nodes))
	t.reuse = make([]bool, len(t.nodes))
	for i, n := range t.nodes {
		if n.IsVar() || n.Op() == nil {
			continue
		}
		t.ops[i] = n.Op()
		children := g.From(n.ID())
		for children.Next() {
			c := children.Node().(*G.Node)
			j, ok := t.slot[c]
			if !ok || j >= i {
				return nil, fmt.Errorf("graph order: %v runs before its input %v", n, c)
			}
			t.args[i] = append(t.args[i], j)
		}
		t.in[i] = make([]G.Value, len(t.args[i]))
	}
	t.inplace = make([]int, len(t.nodes))
	for i := range t.inplace {
		t.inplace[i] = -1
	}
	if fwd != nil {
		uses := make([]int, len(t.nodes))
		for _, a := range t.args {
			for _, c := range a {
				uses[c]++
			}
		}
		read := make(map[*G.Node]bool, len(grads))
		for _, n := range grads {
			read[n] = true
		}
		for i, op := range t.ops {
			ip, ok := op.(InPlaceDoer)
			if !ok {
				continue
			}
			k := ip.InPlaceInput()
			if k < 0 || k >= len(t.args[i]) {
				continue
			}
			ci := t.args[i][k]
			c := t.nodes[ci]
			// c must be computed from inputs: a constant (an op without
			// inputs) may hand out the same value every run
			if uses[ci] == 1 && c.Op() != nil && len(t.args[ci]) > 0 && !fwd[c] && !read[c] {
				t.inplace[i] = k
			}
		}
	}
	return t, nil
}

// InPlaceDoer is an op that can write its result over one of its inputs
// (InPlaceInput), as a ReLU's gradient mask can. A training tape lets it
// (DoInPlace) where nothing else needs that input: a gradient made by
// gorgonia.Grad that no other op takes, that is not read after the run,
// and whose memory its own op wrote from its inputs (not a view of
// another value, not a constant). The batch-sized buffer it would have
// written is never made.
type InPlaceDoer interface {
	InPlaceInput() int
	DoInPlace(inputs ...G.Value) (G.Value, error)
}

// run executes every op once.
func (t *tape) run() error {
	for i, op := range t.ops {
		if op == nil {
			t.vals[i] = t.nodes[i].Value()
			continue
		}
		in := t.in[i]
		for j, c := range t.args[i] {
			in[j] = t.vals[c]
		}
		if k := t.inplace[i]; k >= 0 && owns(in[k], t.in[t.args[i][k]]) {
			v, err := op.(InPlaceDoer).DoInPlace(in...)
			if err != nil {
				return fmt.Errorf("%v: %w", t.nodes[i], err)
			}
			t.vals[i] = v
			continue
		}
		if t.reuse[i] {
			if v, err := op.(G.UsePreallocDoer).UsePreallocDo(t.vals[i], in...); err == nil {
				t.vals[i] = v
				continue
			}
			t.reuse[i] = false
		}
		v, err := op.Do(in...)
		if err != nil {
			return fmt.Errorf("%v: %w", t.nodes[i], err)
		}
		if _, ok := op.(G.UsePreallocDoer); ok && t.vals[i] == nil {
			t.reuse[i] = owns(v, in)
		}
		t.vals[i] = v
	}
	return nil
}

// owns reports whether v is a tensor whose memory overlaps none of in's.
func owns(v G.Value, in []G.Value) bool {
	d, ok := v.(*tensor.Dense)
	if !ok || d.IsView() || d.MemSize() == 0 {
		return false
	}
	lo, hi := d.Uintptr(), d.Uintptr()+d.MemSize()
	for _, x := range in {
		if x == nil {
			continue
		}
		xlo, xhi := x.Uintptr(), x.Uintptr()+x.MemSize()
		if xlo < hi && lo < xhi {
			return false
		}
	}
	return true
}

// value returns n's value from the last run (nil when n is not in the graph).
func (t *tape) value(n *G.Node) G.Value {
	i, ok := t.slot[n]
	if !ok {
		return nil
	}
	return t.vals[i]
}
