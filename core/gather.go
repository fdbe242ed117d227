package core

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gather returns the rows idx of x (shape [N, …]): out[i] = x[idx[i]], of
// shape [len(idx), …]. Its gradient adds each output row's gradient into
// the row it came from. A training net gathers the two sides of its pairs
// from the batch's embeddings with it; unlike gorgonia's ByIndices it
// keeps its output and gradient buffers from one step to the next.
func Gather(x, idx *G.Node) (*G.Node, error) {
	xs := x.Shape()
	if len(xs) < 1 || idx.Shape().Dims() != 1 || idx.Dtype() != tensor.Int {
		return nil, fmt.Errorf("gather: rows of %v by indices %v (%v)", xs, idx.Shape(), idx.Dtype())
	}
	row := 1
	for _, d := range xs[1:] {
		row *= d
	}
	return G.ApplyOp(&gatherOp{shape: xs.Clone(), n: idx.Shape()[0], row: row, dt: x.Dtype()}, x, idx)
}

type gatherOp struct {
	reusable
	shape  tensor.Shape // of x
	n, row int          // rows gathered, values per row
	dt     tensor.Dtype
	out    *tensor.Dense
}

func (op *gatherOp) outShape() tensor.Shape {
	return append(tensor.Shape{op.n}, op.shape[1:]...)
}
func (op *gatherOp) Arity() int { return 2 }
func (op *gatherOp) Type() hm.Type {
	t := G.TensorType{Dims: len(op.shape), Of: op.dt}
	return hm.NewFnType(t, G.TensorType{Dims: 1, Of: tensor.Int}, t)
}
func (op *gatherOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *gatherOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *gatherOp) Hashcode() uint32                               { return hashOf(op) }
func (op *gatherOp) String() string                                 { return fmt.Sprintf("Gather{%v,%d}", op.shape, op.n) }

func (op *gatherOp) Do(inputs ...G.Value) (G.Value, error) {
	idx, ok := ints(inputs[1])
	if !ok || len(idx) != op.n {
		return nil, fmt.Errorf("gather: want %d int indices", op.n)
	}
	if op.out == nil {
		reuse(&op.out, op.dt, op.outShape()...)
	}
	var err error
	switch op.dt {
	case tensor.Float32:
		err = gather(op, f32s(inputs[0]), idx, op.out.Float32s())
	case tensor.Float64:
		err = gather(op, inputs[0].Data().([]float64), idx, op.out.Data().([]float64))
	default:
		err = fmt.Errorf("gather: unsupported dtype %v", op.dt)
	}
	if err != nil {
		return nil, err
	}
	return op.out, nil
}

func gather[T float32 | float64](op *gatherOp, x []T, idx []int, out []T) error {
	for i, r := range idx {
		if r < 0 || r >= op.shape[0] {
			return fmt.Errorf("gather: index %d of %d rows", r, op.shape[0])
		}
		copy(out[i*op.row:(i+1)*op.row], x[r*op.row:(r+1)*op.row])
	}
	return nil
}

func (op *gatherOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *gatherOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&gatherGradOp{gather: op}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{n, nil}, nil
}

// gatherGradOp scatters a gatherOp's output gradient back onto x's rows.
type gatherGradOp struct {
	reusable
	gather *gatherOp
	out    *tensor.Dense
}

func (op *gatherGradOp) Arity() int { return 2 }
func (op *gatherGradOp) Type() hm.Type {
	t := G.TensorType{Dims: len(op.gather.shape), Of: op.gather.dt}
	return hm.NewFnType(G.TensorType{Dims: 1, Of: tensor.Int}, t, t)
}
func (op *gatherGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.gather.shape.Clone(), nil
}
func (op *gatherGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *gatherGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *gatherGradOp) String() string        { return "Grad" + op.gather.String() }

func (op *gatherGradOp) Do(inputs ...G.Value) (G.Value, error) {
	idx, ok := ints(inputs[0])
	if !ok {
		return nil, fmt.Errorf("gather gradient: want int indices")
	}
	g := op.gather
	reuse(&op.out, g.dt, g.shape...)
	switch g.dt {
	case tensor.Float32:
		scatter(g, idx, f32s(inputs[1]), op.out.Float32s())
	case tensor.Float64:
		scatter(g, idx, inputs[1].Data().([]float64), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("gather gradient: unsupported dtype %v", g.dt)
	}
	return op.out, nil
}

func scatter[T float32 | float64](op *gatherOp, idx []int, dy, dx []T) {
	clear(dx)
	for i, r := range idx {
		d, s := dx[r*op.row:(r+1)*op.row], dy[i*op.row:(i+1)*op.row]
		for k, v := range s {
			d[k] += v
		}
	}
}

// reusable is the part of gorgonia's Op that a pure op with its own output
// buffer shares.
type reusable struct{}

func (reusable) ReturnsPtr() bool     { return false }
func (reusable) CallsExtern() bool    { return false }
func (reusable) OverwritesInput() int { return -1 }

// reuse allocates an op's output on its first run; later runs reuse it.
func reuse(t **tensor.Dense, dt tensor.Dtype, shape ...int) {
	if *t == nil {
		*t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
}

// f32s and ints read a value's data through the tensor's typed accessor,
// without Data's boxing of the slice in an interface (an allocation a call).
func f32s(v G.Value) []float32 {
	if t, ok := v.(*tensor.Dense); ok && t.Dtype() == tensor.Float32 {
		return t.Float32s()
	}
	return v.Data().([]float32)
}

func ints(v G.Value) ([]int, bool) {
	if t, ok := v.(*tensor.Dense); ok && t.Dtype() == tensor.Int {
		return t.Ints(), true
	}
	d, ok := v.Data().([]int)
	return d, ok
}

func hashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, s.String())
	return h.Sum32()
}
