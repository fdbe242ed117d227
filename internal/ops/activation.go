package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Activation applies f ("sigmoid", "tanh" or "relu") to every element of
// x, of any shape. Unlike gorgonia's stock unary ops, which clone their
// input at every run, it keeps its output and its gradient's buffer from
// one step to the next; the gradient is computed from the output (σ' =
// y(1−y), tanh' = 1−y², relu' = [y > 0]).
func Activation(x *G.Node, f string) (*G.Node, error) {
	switch f {
	case "sigmoid", "tanh", "relu":
	default:
		return nil, fmt.Errorf("activation %q: want sigmoid, tanh or relu", f)
	}
	return G.ApplyOp(&actOp{f: f, shape: x.Shape().Clone(), dt: x.Dtype()}, x)
}

type actOp struct {
	pureOp
	f     string
	shape tensor.Shape
	dt    tensor.Dtype
	out   *tensor.Dense
}

func (op *actOp) Arity() int { return 1 }
func (op *actOp) Type() hm.Type {
	t := G.TensorType{Dims: op.shape.Dims(), Of: op.dt}
	return hm.NewFnType(t, t)
}
func (op *actOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *actOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *actOp) Hashcode() uint32                               { return hashOf(op) }
func (op *actOp) String() string                                 { return fmt.Sprintf("Activation{%s,%v}", op.f, op.shape) }

func (op *actOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.shape...)
	switch op.dt {
	case tensor.Float32:
		activate(op.f, f32(inputs[0]), f32(op.out))
	case tensor.Float64:
		activate(op.f, f64(inputs[0]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("activation: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func activate[T Float](f string, x, y []T) {
	switch f {
	case "sigmoid":
		for i, v := range x {
			y[i] = T(sigmoid(float64(v)))
		}
	case "tanh":
		for i, v := range x {
			y[i] = T(math.Tanh(float64(v)))
		}
	case "relu":
		for i, v := range x {
			y[i] = max(v, 0)
		}
	}
}

func (op *actOp) DiffWRT(int) []bool { return []bool{true} }

func (op *actOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&actGradOp{act: op}, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{n}, nil
}

// actGradOp is an actOp's input gradient, from its output y and the
// output's gradient.
type actGradOp struct {
	pureOp
	act *actOp
	out *tensor.Dense
}

func (op *actGradOp) Arity() int { return 2 }
func (op *actGradOp) Type() hm.Type {
	t := G.TensorType{Dims: op.act.shape.Dims(), Of: op.act.dt}
	return hm.NewFnType(t, t, t)
}
func (op *actGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.act.shape.Clone(), nil
}
func (op *actGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *actGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *actGradOp) String() string        { return "Grad" + op.act.String() }

func (op *actGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.act.dt, op.act.shape...)
	switch op.act.dt {
	case tensor.Float32:
		activateBack(op.act.f, f32(inputs[0]), f32(inputs[1]), f32(op.out))
	case tensor.Float64:
		activateBack(op.act.f, f64(inputs[0]), f64(inputs[1]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("activation gradient: unsupported dtype %v", op.act.dt)
	}
	return op.out, nil
}

func activateBack[T Float](f string, y, dy, dx []T) {
	switch f {
	case "sigmoid":
		for i, v := range y {
			dx[i] = dy[i] * v * (1 - v)
		}
	case "tanh":
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	case "relu":
		for i, v := range y {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	}
}
