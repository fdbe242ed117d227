package core

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Builder adds towers and heads to one gorgonia graph. It hands out one node
// per Param, so two calls to a Tower's Build share weights.
type Builder struct {
	G     *G.ExprGraph
	Dtype tensor.Dtype // Float32 for training and inference, Float64 for gradient checks
	// Training is true in graphs that compute a loss (batch statistics,
	// dropout); false in inference graphs.
	Training bool

	nodes  map[*Param]*G.Node
	params []*Param
	hooks  []func()
	sparse map[*Param]*SparseGrad
	anchor *G.Node
}

// Anchor returns a node of one zero that the training graph differentiates
// as if it were a weight. An op reading a Sparse param takes it as an input
// so that gorgonia runs the op's backward pass (which fills the param's
// SparseGrad and returns a zero gradient for the anchor) without ever
// forming a dense gradient of the table.
func (b *Builder) Anchor() *G.Node {
	if b.anchor == nil {
		var t *tensor.Dense
		if b.Dtype == tensor.Float64 {
			t = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{0}))
		} else {
			t = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{0}))
		}
		b.anchor = G.NewTensor(b.G, b.Dtype, 1, G.WithShape(1), G.WithName("sparse_anchor"), G.WithValue(t))
	}
	return b.anchor
}

// SparseGrad returns the gradient store of a Sparse param in this graph.
// An op reading p adds to it during the backward pass.
func (b *Builder) SparseGrad(p *Param) *SparseGrad {
	if b.sparse == nil {
		b.sparse = map[*Param]*SparseGrad{}
	}
	s, ok := b.sparse[p]
	if !ok {
		s = NewSparseGrad(p.Shape[0], Size(p.Shape[1:]))
		b.sparse[p] = s
	}
	return s
}

// AfterRun registers f to run after every forward pass of the compiled
// graph (for example to update running statistics from values read with
// gorgonia.Read).
func (b *Builder) AfterRun(f func()) { b.hooks = append(b.hooks, f) }

// NewBuilder starts a new graph of the given dtype.
func NewBuilder(dt tensor.Dtype, training bool) *Builder {
	return &Builder{G: G.NewGraph(), Dtype: dt, Training: training, nodes: map[*Param]*G.Node{}}
}

// Param returns the graph node of p, creating it on first use. For Float32
// graphs the node's value shares p.Data.
func (b *Builder) Param(p *Param) *G.Node {
	if n, ok := b.nodes[p]; ok {
		return n
	}
	var t *tensor.Dense
	switch b.Dtype {
	case tensor.Float32:
		t = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
	case tensor.Float64:
		d := make([]float64, len(p.Data))
		for i, v := range p.Data {
			d[i] = float64(v)
		}
		t = tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(d))
	default:
		panic(fmt.Sprintf("core: unsupported dtype %v", b.Dtype))
	}
	n := G.NewTensor(b.G, b.Dtype, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(t))
	b.nodes[p] = n
	b.params = append(b.params, p)
	return n
}

// Const returns a scalar constant of the graph's dtype.
func (b *Builder) Const(v float64) *G.Node {
	if b.Dtype == tensor.Float64 {
		return G.NewConstant(v)
	}
	return G.NewConstant(float32(v))
}

// Input makes an input placeholder of the graph's dtype and the given shape.
func (b *Builder) Input(name string, shape ...int) *G.Node {
	return G.NewTensor(b.G, b.Dtype, len(shape), G.WithShape(shape...), G.WithName(name))
}

// Indices makes an int vector placeholder (pair indices, bag indices).
func (b *Builder) Indices(name string, shape ...int) *G.Node {
	return G.NewTensor(b.G, tensor.Int, len(shape), G.WithShape(shape...), G.WithName(name))
}

// Params returns the params used in the graph so far, in first-use order.
func (b *Builder) Params() []*Param { return b.params }

// Node returns the node of a param already in the graph.
func (b *Builder) Node(p *Param) *G.Node { return b.nodes[p] }
