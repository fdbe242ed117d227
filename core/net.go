package core

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Batch is one training step: a set of distinct items and the pairs formed
// from them by index. Each item goes through the tower once, however many
// pairs it is in, and both sides of every pair share that one pass.
type Batch struct {
	Items []Item
	A, B  []int     // pair i is (Items[A[i]], Items[B[i]])
	Y     []float32 // 1 = same class, 0 = different
}

// Net is a compiled graph of a model for a fixed batch layout: items
// through the tower, and for training nets the pairs through the head and
// the loss. The graph is built once and run once per step.
type Net struct {
	m      *Model
	b      *Builder
	items  int
	pairs  int
	x      *G.Node
	ia, ib *G.Node
	y      *G.Node
	emb    *G.Node
	score  *G.Node
	loss   *G.Node
	tape   *tape
	params []*Param
	nodes  G.Nodes
	grads  G.Nodes       // per param: its gradient's node (nil for a Sparse param)
	sparse []*SparseGrad // per param: its gradient store if Sparse, else nil
	scores []float64     // Forward's result, kept between steps

	xbuf32 []float32
	xbuf64 []float64
	// The float32 inputs' tensors, kept across steps and refilled in
	// place (a new tensor and a copy of the indices a step were garbage).
	xT, iaT, ibT, yT *tensor.Dense
	ibuf             []int
}

func (m *Model) newNet(items, pairs int, dt tensor.Dtype) (*Net, error) {
	training := pairs > 0
	b := NewBuilder(dt, training)
	in := m.Tower.Input()
	n := &Net{m: m, b: b, items: items, pairs: pairs}
	shape := append([]int{items}, in.Shape...)
	switch in.Kind {
	case Dense:
		n.x = b.Input("x", shape...)
	case Bag:
		n.x = b.Indices("x", shape...)
	default:
		return nil, fmt.Errorf("unknown input kind %q", in.Kind)
	}
	emb, err := m.Tower.Build(b, n.x)
	if err != nil {
		return nil, fmt.Errorf("build tower: %w", err)
	}
	n.emb = emb
	var fwd map[*G.Node]bool // with grads: what the tape runs (newTape)
	var grads G.Nodes
	if training {
		n.ia = b.Indices("pair_a", pairs)
		n.ib = b.Indices("pair_b", pairs)
		n.y = b.Input("y", pairs)
		ea, err := Gather(emb, n.ia)
		if err != nil {
			return nil, fmt.Errorf("gather side a: %w", err)
		}
		eb, err := Gather(emb, n.ib)
		if err != nil {
			return nil, fmt.Errorf("gather side b: %w", err)
		}
		n.score, n.loss, err = m.Head.Build(b, ea, eb, n.y)
		if err != nil {
			return nil, fmt.Errorf("build head: %w", err)
		}
		var wrt G.Nodes
		for _, p := range b.Params() {
			if p.Frozen {
				continue
			}
			n.params = append(n.params, p)
			n.nodes = append(n.nodes, b.Node(p))
			if p.Sparse {
				n.sparse = append(n.sparse, b.SparseGrad(p))
			} else {
				n.sparse = append(n.sparse, nil)
				wrt = append(wrt, b.Node(p))
			}
		}
		if b.anchor != nil {
			wrt = append(wrt, b.anchor)
		}
		fwd = make(map[*G.Node]bool)
		for _, nd := range b.G.AllNodes() {
			fwd[nd] = true
		}
		if grads, err = G.Grad(n.loss, wrt...); err != nil {
			return nil, fmt.Errorf("gradients: %w", err)
		}
		for i, g := 0, grads; i < len(n.params); i++ {
			if n.sparse[i] != nil {
				n.grads = append(n.grads, nil)
				continue
			}
			n.grads, g = append(n.grads, g[0]), g[1:]
		}
	}
	if n.tape, err = newTape(b.G, fwd, grads); err != nil {
		return nil, err
	}
	return n, nil
}

func newEmbedNet(m *Model, items int) (*Net, error) { return m.newNet(items, 0, tensor.Float32) }

// NewTrainNet compiles a float32 training graph for batches of the given
// number of items and pairs.
func (m *Model) NewTrainNet(items, pairs int) (*Net, error) {
	return m.newNet(items, pairs, tensor.Float32)
}

// NewTrainNet64 compiles a float64 training graph; gradient checks use it.
// Its weights are copies: Params' Data is not shared.
func (m *Model) NewTrainNet64(items, pairs int) (*Net, error) {
	return m.newNet(items, pairs, tensor.Float64)
}

// Params lists the net's learnables, in the order of Grad.
func (n *Net) Params() []*Param { return n.params }

// Sparse returns, per param, its row-sparse gradient store (nil for a
// dense param), as an optimizer needs it.
func (n *Net) Sparse() []*SparseGrad { return n.sparse }

func (n *Net) setItems(items []Item) error {
	if len(items) > n.items {
		return fmt.Errorf("batch has %d items, net takes %d", len(items), n.items)
	}
	in := n.m.Tower.Input()
	per := Size(in.Shape)
	shape := append([]int{n.items}, in.Shape...)
	switch in.Kind {
	case Dense:
		if n.b.Dtype == tensor.Float64 {
			if n.xbuf64 == nil {
				n.xbuf64 = make([]float64, n.items*per)
			}
			clear(n.xbuf64)
			for i, it := range items {
				if len(it.Dense) != per {
					return fmt.Errorf("item %d has %d values, tower takes %v = %d", i, len(it.Dense), in.Shape, per)
				}
				for j, v := range it.Dense {
					n.xbuf64[i*per+j] = float64(v)
				}
			}
			return G.Let(n.x, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(n.xbuf64)))
		}
		if n.xbuf32 == nil {
			n.xbuf32 = make([]float32, n.items*per)
		}
		clear(n.xbuf32)
		for i, it := range items {
			if len(it.Dense) != per {
				return fmt.Errorf("item %d has %d values, tower takes %v = %d", i, len(it.Dense), in.Shape, per)
			}
			copy(n.xbuf32[i*per:], it.Dense)
		}
		if n.xT == nil {
			n.xT = tensor.New(tensor.WithShape(shape...), tensor.WithBacking(n.xbuf32))
		}
		return G.Let(n.x, n.xT)
	case Bag:
		buf := make([]int, n.items*per)
		for i := range buf {
			buf[i] = -1
		}
		for i, it := range items {
			for j, v := range it.Bag {
				if j >= per {
					break
				}
				buf[i*per+j] = int(v)
			}
		}
		return G.Let(n.x, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf)))
	}
	return fmt.Errorf("unknown input kind %q", in.Kind)
}

func (n *Net) embed(items []Item) ([]float32, error) {
	if err := n.setItems(items); err != nil {
		return nil, err
	}
	if err := n.tape.run(); err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	return f32s(n.tape.value(n.emb)), nil
}

func (n *Net) setBatch(bt *Batch) error {
	if len(bt.A) != n.pairs || len(bt.B) != n.pairs || len(bt.Y) != n.pairs {
		return fmt.Errorf("batch has %d pairs, net takes %d", len(bt.A), n.pairs)
	}
	if err := n.setItems(bt.Items); err != nil {
		return err
	}
	for _, idx := range [][]int{bt.A, bt.B} {
		for _, i := range idx {
			if i < 0 || i >= len(bt.Items) {
				return fmt.Errorf("pair index %d out of range [0,%d)", i, len(bt.Items))
			}
		}
	}
	if err := letInts(n.ia, &n.iaT, bt.A); err != nil {
		return err
	}
	if err := letInts(n.ib, &n.ibT, bt.B); err != nil {
		return err
	}
	if n.b.Dtype == tensor.Float64 {
		y := make([]float64, n.pairs)
		for i, v := range bt.Y {
			y[i] = float64(v)
		}
		return G.Let(n.y, tensor.New(tensor.WithShape(n.pairs), tensor.WithBacking(y)))
	}
	if n.yT == nil {
		n.yT = tensor.New(tensor.WithShape(n.pairs), tensor.WithBacking(make([]float32, n.pairs)))
	}
	copy(n.yT.Float32s(), bt.Y)
	return G.Let(n.y, n.yT)
}

// letInts binds node to *t, made on the first call and refilled with v
// after.
func letInts(node *G.Node, t **tensor.Dense, v []int) error {
	if *t == nil {
		*t = tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(make([]int, len(v))))
	}
	copy((*t).Ints(), v)
	return G.Let(node, *t)
}

// Forward runs the graph on a batch and returns the mean loss and the
// per-pair scores. The scores and the gradients (Grad, Grad32) are valid
// until the next run, which reuses their memory.
func (n *Net) Forward(bt *Batch) (loss float64, scores []float64, err error) {
	if n.pairs == 0 {
		return 0, nil, fmt.Errorf("not a training net")
	}
	if err := n.setBatch(bt); err != nil {
		return 0, nil, err
	}
	// Sparse ops add into their gradient stores: clear them first.
	for _, s := range n.sparse {
		if s != nil {
			s.Clear()
		}
	}
	if err := n.tape.run(); err != nil {
		return 0, nil, fmt.Errorf("forward/backward: %w", err)
	}
	for _, h := range n.b.hooks {
		h()
	}
	loss = scalar(n.tape.value(n.loss))
	n.scores = n.scores[:0]
	if v := n.tape.value(n.score); v.Dtype() == tensor.Float32 {
		for _, x := range f32s(v) {
			n.scores = append(n.scores, float64(x))
		}
	} else {
		n.scores = append(n.scores, v.Data().([]float64)...)
	}
	return loss, n.scores, nil
}

// Grad returns the gradient of the loss with respect to Params()[i] as
// float64s (a copy).
func (n *Net) Grad(i int) ([]float64, error) {
	if s := n.sparse[i]; s != nil {
		out := make([]float64, s.Rows*s.Cols)
		for j := range out {
			switch {
			case s.G64 != nil:
				out[j] = s.G64[j]
			case s.G32 != nil:
				out[j] = float64(s.G32[j])
			}
		}
		return out, nil
	}
	g := n.tape.value(n.grads[i])
	if g == nil {
		return nil, fmt.Errorf("no gradient of %s: run Forward first", n.params[i].Name)
	}
	switch d := g.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for j, v := range d {
			out[j] = float64(v)
		}
		return out, nil
	case []float64:
		return append([]float64(nil), d...), nil
	case float32:
		return []float64{float64(d)}, nil
	case float64:
		return []float64{d}, nil
	}
	return nil, fmt.Errorf("unexpected gradient type %T", g.Data())
}

// Grad32 returns the float32 gradient slice of Params()[i] without copying
// (nil for a Sparse param: its rows are in Sparse()[i]).
func (n *Net) Grad32(i int) ([]float32, error) {
	if n.sparse[i] != nil {
		return nil, nil
	}
	g := n.tape.value(n.grads[i])
	if g == nil {
		return nil, fmt.Errorf("no gradient of %s: run Forward first", n.params[i].Name)
	}
	if t, ok := g.(*tensor.Dense); ok && t.Dtype() == tensor.Float32 {
		return t.Float32s(), nil
	}
	d, ok := g.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("gradient of %s is %T, want []float32", n.params[i].Name, g.Data())
	}
	return d, nil
}

// Param64 returns the float64 copy of Params()[i] (gradient checks).
func (n *Net) Param64(i int) []float64 { return n.nodes[i].Value().Data().([]float64) }

// Close releases the net's values.
func (n *Net) Close() { n.tape = nil }

func scalar(v G.Value) float64 {
	switch d := v.Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	return 0
}
