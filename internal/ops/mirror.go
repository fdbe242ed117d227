package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// WithMirror stacks a batch of images x [N,C,H,W] and their mirror images
// (each row reversed): [2N,C,H,W], the originals first. With MeanHalves on
// the tower's output it makes a descriptor the mean of an image's and its
// mirror image's (test-time flip averaging, inside the graph so that it
// also trains).
func WithMirror(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("mirror: input %v is not [N,C,H,W]", s)
	}
	return G.ApplyOp(&mirrorOp{in: s.Clone(), dt: x.Dtype()}, x)
}

// MeanHalves averages the two halves of a batch y [2N, ...]: [N, ...].
func MeanHalves(y *G.Node) (*G.Node, error) {
	s := y.Shape()
	if len(s) < 1 || s[0]%2 != 0 {
		return nil, fmt.Errorf("mean of halves: batch %v is not even", s)
	}
	return G.ApplyOp(&halvesOp{in: s.Clone(), dt: y.Dtype()}, y)
}

// mirrorOp is WithMirror (grad false) and its backward pass (grad true:
// [2N,C,H,W] → [N,C,H,W], the first half plus the mirrored second half).
type mirrorOp struct {
	pureOp
	in   tensor.Shape
	grad bool
	dt   tensor.Dtype
	out  *tensor.Dense
}

func (op *mirrorOp) outShape() tensor.Shape {
	s := op.in.Clone()
	if op.grad {
		s[0] /= 2
	} else {
		s[0] *= 2
	}
	return s
}
func (op *mirrorOp) Arity() int { return 1 }
func (op *mirrorOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(t, t)
}
func (op *mirrorOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *mirrorOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *mirrorOp) Hashcode() uint32                               { return hashOf(op) }
func (op *mirrorOp) String() string                                 { return fmt.Sprintf("Mirror{%v,grad=%v}", op.in, op.grad) }
func (op *mirrorOp) DiffWRT(int) []bool                             { return []bool{true} }

func (op *mirrorOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&mirrorOp{in: output.Shape().Clone(), grad: true, dt: op.dt}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

func (op *mirrorOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.outShape()...)
	switch op.dt {
	case tensor.Float32:
		mirror(op, f32(inputs[0]), f32(op.out))
	case tensor.Float64:
		mirror(op, f64(inputs[0]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("mirror: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func mirror[T Float](op *mirrorOp, in, out []T) {
	w := op.in[3]
	half := len(in) / 2 // grad: the first half of in; forward: the first half of out
	if !op.grad {
		half = len(in)
	}
	rows := half / w
	parallel(rows, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			if op.grad {
				a, b, o := in[r*w:(r+1)*w], in[half+r*w:half+(r+1)*w], out[r*w:(r+1)*w]
				for j := range o {
					o[j] = a[j] + b[w-1-j]
				}
				continue
			}
			a, o, m := in[r*w:(r+1)*w], out[r*w:(r+1)*w], out[half+r*w:half+(r+1)*w]
			copy(o, a)
			for j := range m {
				m[j] = a[w-1-j]
			}
		}
	})
}

// halvesOp is MeanHalves (grad false) and its backward pass (grad true:
// [N, ...] → [2N, ...], half the gradient to each copy).
type halvesOp struct {
	pureOp
	in   tensor.Shape
	grad bool
	dt   tensor.Dtype
	out  *tensor.Dense
}

func (op *halvesOp) outShape() tensor.Shape {
	s := op.in.Clone()
	if op.grad {
		s[0] *= 2
	} else {
		s[0] /= 2
	}
	return s
}
func (op *halvesOp) Arity() int { return 1 }
func (op *halvesOp) Type() hm.Type {
	t := G.TensorType{Dims: op.in.Dims(), Of: op.dt}
	return hm.NewFnType(t, t)
}
func (op *halvesOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *halvesOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *halvesOp) Hashcode() uint32                               { return hashOf(op) }
func (op *halvesOp) String() string                                 { return fmt.Sprintf("MeanHalves{%v,grad=%v}", op.in, op.grad) }
func (op *halvesOp) DiffWRT(int) []bool                             { return []bool{true} }

func (op *halvesOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&halvesOp{in: output.Shape().Clone(), grad: true, dt: op.dt}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

func (op *halvesOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.outShape()...)
	switch op.dt {
	case tensor.Float32:
		halves(op.grad, f32(inputs[0]), f32(op.out))
	case tensor.Float64:
		halves(op.grad, f64(inputs[0]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("mean of halves: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func halves[T Float](grad bool, in, out []T) {
	if grad {
		for i, v := range in {
			out[i], out[len(in)+i] = v/2, v/2
		}
		return
	}
	n := len(out)
	for i := range out {
		out[i] = (in[i] + in[n+i]) / 2
	}
}
