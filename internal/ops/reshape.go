package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Reshape views x in another shape of the same size, sharing its memory.
// gorgonia's stock reshape makes a new tensor header (and clones its
// access pattern) at every run; this op keeps its view while x's memory
// stays where it was (it does for every op of this package, which keep
// their outputs), so a run allocates nothing. Its gradient is the output
// gradient viewed in x's shape, by the same op.
func Reshape(x *G.Node, shape ...int) (*G.Node, error) {
	from := x.Shape().Clone()
	to := tensor.Shape(shape).Clone()
	if from.TotalSize() != to.TotalSize() {
		return nil, fmt.Errorf("reshape %v to %v: sizes differ", from, to)
	}
	return G.ApplyOp(&reshapeOp{from: from, to: to, dt: x.Dtype()}, x)
}

type reshapeOp struct {
	pureOp
	from, to tensor.Shape
	dt       tensor.Dtype
	view     *tensor.Dense
	src      uintptr // the address of the memory view shares
}

func (op *reshapeOp) Arity() int { return 1 }
func (op *reshapeOp) Type() hm.Type {
	return hm.NewFnType(G.TensorType{Dims: op.from.Dims(), Of: op.dt}, G.TensorType{Dims: op.to.Dims(), Of: op.dt})
}
func (op *reshapeOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.to.Clone(), nil }
func (op *reshapeOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *reshapeOp) Hashcode() uint32                               { return hashOf(op) }
func (op *reshapeOp) String() string                                 { return fmt.Sprintf("Reshape{%v→%v}", op.from, op.to) }

func (op *reshapeOp) Do(inputs ...G.Value) (G.Value, error) {
	x, ok := inputs[0].(*tensor.Dense)
	if !ok || x.Dtype() != op.dt || x.Size() != op.to.TotalSize() {
		return nil, fmt.Errorf("reshape: want a %v tensor of %v, got %T", op.dt, op.from, inputs[0])
	}
	if x.IsView() {
		return nil, fmt.Errorf("reshape: input is a strided view")
	}
	if op.view == nil || op.src != x.Uintptr() {
		var backing any
		switch op.dt {
		case tensor.Float32:
			backing = x.Float32s()
		case tensor.Float64:
			backing = x.Float64s()
		default:
			return nil, fmt.Errorf("reshape: unsupported dtype %v", op.dt)
		}
		op.view = tensor.New(tensor.WithShape(op.to...), tensor.WithBacking(backing))
		op.src = x.Uintptr()
	}
	return op.view, nil
}

func (op *reshapeOp) DiffWRT(int) []bool { return []bool{true} }

func (op *reshapeOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&reshapeOp{from: op.to, to: op.from, dt: op.dt}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{n}, nil
}
