package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dense computes y = x·w + b for x [N,I], w [I,O], b [1,O]. Its gradients
// call the matrix product with transposed operands instead of transposing
// w in memory, as the stock ops do.
func Dense(x, w, b *G.Node) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[0] || b.Shape().TotalSize() != ws[1] {
		return nil, fmt.Errorf("dense: shapes %v · %v + %v do not fit", xs, ws, b.Shape())
	}
	return G.ApplyOp(&denseOp{n: xs[0], in: ws[0], out: ws[1], dt: x.Dtype()}, x, w, b)
}

type denseOp struct {
	pureOp
	n, in, out int
	dt         tensor.Dtype
	y          *tensor.Dense
}

func (op *denseOp) Arity() int { return 3 }
func (op *denseOp) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(m, m, m, m)
}
func (op *denseOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.out}, nil
}
func (op *denseOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *denseOp) Hashcode() uint32      { return hashOf(op) }
func (op *denseOp) String() string        { return fmt.Sprintf("Dense{%d,%d,%d}", op.n, op.in, op.out) }

func (op *denseOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.y, op.dt, op.n, op.out)
	switch op.dt {
	case tensor.Float32:
		denseForward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(op.y))
	case tensor.Float64:
		denseForward(op, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), op.y.Data().([]float64))
	default:
		return nil, fmt.Errorf("dense: unsupported dtype %v", op.dt)
	}
	return op.y, nil
}

func denseForward[T Float](op *denseOp, x, w, b, y []T) {
	for i := 0; i < op.n; i++ {
		copy(y[i*op.out:(i+1)*op.out], b)
	}
	matmul(false, false, op.n, op.out, op.in, 1, x, op.in, w, op.out, 1, y, op.out)
}

func (op *denseOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *denseOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 3)
	for i, in := range inputs {
		n, err := G.ApplyOp(&denseGradOp{dense: op, wrt: i, shape: in.Shape().Clone()}, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// denseGradOp is the gradient of a denseOp with respect to x (0), w (1) or
// b (2), from x, w and the output gradient.
type denseGradOp struct {
	pureOp
	dense *denseOp
	wrt   int
	shape tensor.Shape
	out   *tensor.Dense
}

func (op *denseGradOp) Arity() int { return 3 }
func (op *denseGradOp) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: op.dense.dt}
	return hm.NewFnType(m, m, m, G.TensorType{Dims: op.shape.Dims(), Of: op.dense.dt})
}
func (op *denseGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *denseGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *denseGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *denseGradOp) String() string {
	return fmt.Sprintf("DenseGrad{%v,wrt=%d}", op.dense, op.wrt)
}

func (op *denseGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dense.dt, op.shape...)
	switch op.dense.dt {
	case tensor.Float32:
		denseBackward(op.dense, op.wrt, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(op.out))
	case tensor.Float64:
		denseBackward(op.dense, op.wrt, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), op.out.Data().([]float64))
	}
	return op.out, nil
}

func denseBackward[T Float](op *denseOp, wrt int, x, w, g, out []T) {
	switch wrt {
	case 0: // dx = g·wᵀ
		matmul(false, true, op.n, op.in, op.out, 1, g, op.out, w, op.out, 0, out, op.in)
	case 1: // dw = xᵀ·g
		matmul(true, false, op.in, op.out, op.n, 1, x, op.in, g, op.out, 0, out, op.out)
	case 2: // db = Σᵢ gᵢ
		clear(out)
		for i := 0; i < op.n; i++ {
			for j, v := range g[i*op.out : (i+1)*op.out] {
				out[j] += v
			}
		}
	}
}
