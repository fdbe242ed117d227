package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/siamesenet/siamese/core"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// EmbeddingBag sums (or, with mean, averages) the rows of table [V,D]
// picked by idx [N,L] (ints; -1 is padding) into [N,D]. It never forms a
// one-hot or dense V-wide input. Its backward pass adds the output gradient
// into grad, row by row, for the rows used only; anchor is the Builder's
// Anchor, through which the graph reaches that backward pass (the table
// itself is not differentiated by gorgonia).
func EmbeddingBag(table, idx, anchor *G.Node, grad *core.SparseGrad, mean bool) (*G.Node, error) {
	ts, is := table.Shape(), idx.Shape()
	if len(ts) != 2 || len(is) != 2 {
		return nil, fmt.Errorf("embedding bag: table %v and indices %v must both be matrices", ts, is)
	}
	if grad == nil || grad.Rows != ts[0] || grad.Cols != ts[1] {
		return nil, fmt.Errorf("embedding bag: gradient store does not fit table %v", ts)
	}
	op := &embagOp{v: ts[0], d: ts[1], n: is[0], l: is[1], mean: mean, dt: table.Dtype(), grad: grad}
	return G.ApplyOp(op, table, idx, anchor)
}

type embagOp struct {
	pureOp
	v, d, n, l int
	mean       bool
	dt         tensor.Dtype
	grad       *core.SparseGrad
	out        *tensor.Dense
}

func (op *embagOp) Arity() int { return 3 }
func (op *embagOp) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(m, G.TensorType{Dims: 2, Of: tensor.Int}, G.TensorType{Dims: 1, Of: op.dt}, m)
}
func (op *embagOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.d}, nil
}
func (op *embagOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *embagOp) Hashcode() uint32      { return hashOf(op) }
func (op *embagOp) String() string {
	return fmt.Sprintf("EmbeddingBag{%d×%d,%d×%d,mean=%v,%p}", op.v, op.d, op.n, op.l, op.mean, op.grad)
}

func (op *embagOp) Do(inputs ...G.Value) (G.Value, error) {
	idx, ok := inputs[1].Data().([]int)
	if !ok {
		return nil, fmt.Errorf("embedding bag: indices are %T, want []int", inputs[1].Data())
	}
	for _, r := range idx {
		if r < -1 || r >= op.v {
			return nil, fmt.Errorf("embedding bag: index %d outside the table of %d rows", r, op.v)
		}
	}
	buffer(&op.out, op.dt, op.n, op.d)
	switch op.dt {
	case tensor.Float32:
		embagForward(op, f32(inputs[0]), idx, f32(op.out))
	case tensor.Float64:
		embagForward(op, f64(inputs[0]), idx, op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("embedding bag: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

// count returns the number of real indices of bag i.
func (op *embagOp) count(idx []int, i int) int {
	c := 0
	for _, r := range idx[i*op.l : (i+1)*op.l] {
		if r >= 0 {
			c++
		}
	}
	return c
}

func embagForward[T Float](op *embagOp, w []T, idx []int, out []T) {
	parallel(op.n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*op.d : (i+1)*op.d]
			clear(o)
			for _, r := range idx[i*op.l : (i+1)*op.l] {
				if r < 0 {
					continue
				}
				for k, v := range w[r*op.d : (r+1)*op.d] {
					o[k] += v
				}
			}
			if c := op.count(idx, i); op.mean && c > 1 {
				s := 1 / T(c)
				for k := range o {
					o[k] *= s
				}
			}
		}
	})
}

func (op *embagOp) DiffWRT(int) []bool { return []bool{false, false, true} }

func (op *embagOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&embagGradOp{bag: op}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{nil, nil, g}, nil
}

// embagGradOp scatters the output gradient into the table's SparseGrad and
// returns the anchor's gradient: a zero.
type embagGradOp struct {
	pureOp
	bag  *embagOp
	zero *tensor.Dense
}

func (op *embagGradOp) Arity() int { return 2 }
func (op *embagGradOp) Type() hm.Type {
	return hm.NewFnType(G.TensorType{Dims: 2, Of: tensor.Int}, G.TensorType{Dims: 2, Of: op.bag.dt}, G.TensorType{Dims: 1, Of: op.bag.dt})
}
func (op *embagGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.Shape{1}, nil }
func (op *embagGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *embagGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *embagGradOp) String() string                                 { return "Grad" + op.bag.String() }

func (op *embagGradOp) Do(inputs ...G.Value) (G.Value, error) {
	idx := inputs[0].Data().([]int)
	b := op.bag
	switch b.dt {
	case tensor.Float32:
		embagBackward(b, idx, f32(inputs[1]), b.grad.Add32)
	case tensor.Float64:
		embagBackward(b, idx, f64(inputs[1]), b.grad.Add64)
	}
	buffer(&op.zero, b.dt, 1)
	return op.zero, nil
}

// embagBackward adds each bag's output gradient (divided by its size for
// a mean) into the rows the bag used.
func embagBackward[T Float](b *embagOp, idx []int, g []T, add func(int, []T)) {
	row := make([]T, b.d)
	for i := 0; i < b.n; i++ {
		c := b.count(idx, i)
		if c == 0 {
			continue
		}
		copy(row, g[i*b.d:(i+1)*b.d])
		if b.mean && c > 1 {
			for k := range row {
				row[k] /= T(c)
			}
		}
		for _, r := range idx[i*b.l : (i+1)*b.l] {
			if r >= 0 {
				add(r, row)
			}
		}
	}
}
