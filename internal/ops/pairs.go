package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The ops of this file are Koch's weighted-L1 head with its logistic loss,
// fused (core.Gather picks the pairs' rows before them). The stock ops they
// replace (Sub, Abs, Mul, Sigmoid, Softplus and their gradients) allocate a
// new tensor every run; these keep their outputs from one step to the next.

// WeightedL1 is the logit of Koch et al.'s head for P pairs of D-wide
// embeddings a and c (shape [P, D]): z_i = Σ_j α_j·|a_ij − c_ij| + β, with
// alpha of D values (shape [D, 1]) and bias one (shape [1, 1]). Its
// gradient with respect to each of the four inputs is one op.
func WeightedL1(a, c, alpha, bias *G.Node) (*G.Node, error) {
	as := a.Shape()
	if len(as) != 2 || !as.Eq(c.Shape()) || alpha.Shape().TotalSize() != as[1] || bias.Shape().TotalSize() != 1 {
		return nil, fmt.Errorf("weighted L1: pairs %v and %v, weights %v, bias %v", as, c.Shape(), alpha.Shape(), bias.Shape())
	}
	return G.ApplyOp(&wl1Op{p: as[0], d: as[1], alpha: alpha.Shape().Clone(), bias: bias.Shape().Clone(), dt: a.Dtype()}, a, c, alpha, bias)
}

type wl1Op struct {
	pureOp
	p, d        int
	alpha, bias tensor.Shape
	dt          tensor.Dtype
	out         *tensor.Dense
}

func (op *wl1Op) Arity() int { return 4 }
func (op *wl1Op) Type() hm.Type {
	m := G.TensorType{Dims: 2, Of: op.dt}
	return hm.NewFnType(m, m, G.TensorType{Dims: op.alpha.Dims(), Of: op.dt}, G.TensorType{Dims: op.bias.Dims(), Of: op.dt}, G.TensorType{Dims: 1, Of: op.dt})
}
func (op *wl1Op) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.Shape{op.p}, nil }
func (op *wl1Op) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *wl1Op) Hashcode() uint32                               { return hashOf(op) }
func (op *wl1Op) String() string                                 { return fmt.Sprintf("WeightedL1{%d,%d}", op.p, op.d) }

func (op *wl1Op) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.p)
	switch op.dt {
	case tensor.Float32:
		wl1Forward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(inputs[3])[0], f32(op.out))
	case tensor.Float64:
		wl1Forward(op, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), f64(inputs[3])[0], op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("weighted L1: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func wl1Forward[T Float](op *wl1Op, a, c, alpha []T, bias T, z []T) {
	for i := 0; i < op.p; i++ {
		ar, cr := a[i*op.d:(i+1)*op.d], c[i*op.d:(i+1)*op.d]
		s := bias
		for j, w := range alpha {
			d := ar[j] - cr[j]
			if d < 0 {
				d = -d
			}
			s += w * d
		}
		z[i] = s
	}
}

func (op *wl1Op) DiffWRT(int) []bool { return []bool{true, true, true, true} }

func (op *wl1Op) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 4)
	for i := range inputs {
		n, err := G.ApplyOp(&wl1GradOp{wl1: op, wrt: i}, inputs[0], inputs[1], inputs[2], grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// wl1GradOp is the gradient of a wl1Op with respect to a (0), c (1),
// alpha (2) or bias (3), from a, c, alpha and the logits' gradient g:
// ∂/∂a_ij = g_i·α_j·sign(a_ij − c_ij), ∂/∂c = −∂/∂a, ∂/∂α_j = Σ_i g_i·|a_ij − c_ij|,
// ∂/∂β = Σ_i g_i.
type wl1GradOp struct {
	pureOp
	wl1 *wl1Op
	wrt int
	out *tensor.Dense
}

func (op *wl1GradOp) shape() tensor.Shape {
	switch op.wrt {
	case 2:
		return op.wl1.alpha
	case 3:
		return op.wl1.bias
	}
	return tensor.Shape{op.wl1.p, op.wl1.d}
}
func (op *wl1GradOp) Arity() int { return 4 }
func (op *wl1GradOp) Type() hm.Type {
	dt := op.wl1.dt
	m := G.TensorType{Dims: 2, Of: dt}
	return hm.NewFnType(m, m, G.TensorType{Dims: op.wl1.alpha.Dims(), Of: dt}, G.TensorType{Dims: 1, Of: dt}, G.TensorType{Dims: op.shape().Dims(), Of: dt})
}
func (op *wl1GradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape().Clone(), nil }
func (op *wl1GradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *wl1GradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *wl1GradOp) String() string {
	return fmt.Sprintf("Grad%d%s", op.wrt, op.wl1.String())
}

func (op *wl1GradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.wl1.dt, op.shape()...)
	switch op.wl1.dt {
	case tensor.Float32:
		wl1Backward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(inputs[3]), f32(op.out))
	case tensor.Float64:
		wl1Backward(op, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), f64(inputs[3]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("weighted L1 gradient: unsupported dtype %v", op.wl1.dt)
	}
	return op.out, nil
}

func wl1Backward[T Float](op *wl1GradOp, a, c, alpha, g, out []T) {
	p, d := op.wl1.p, op.wl1.d
	switch op.wrt {
	case 0, 1:
		sign := T(1)
		if op.wrt == 1 {
			sign = -1
		}
		for i := 0; i < p; i++ {
			gi := sign * g[i]
			ar, cr, o := a[i*d:(i+1)*d], c[i*d:(i+1)*d], out[i*d:(i+1)*d]
			for j, w := range alpha {
				switch diff := ar[j] - cr[j]; {
				case diff > 0:
					o[j] = gi * w
				case diff < 0:
					o[j] = -gi * w
				default:
					o[j] = 0
				}
			}
		}
	case 2:
		clear(out)
		for i := 0; i < p; i++ {
			ar, cr := a[i*d:(i+1)*d], c[i*d:(i+1)*d]
			for j := range out {
				diff := ar[j] - cr[j]
				if diff < 0 {
					diff = -diff
				}
				out[j] += g[i] * diff
			}
		}
	case 3:
		var s T
		for _, v := range g[:p] {
			s += v
		}
		out[0] = s
	}
}

// LogisticLoss is the mean binary cross-entropy of logits z (shape [P])
// against labels y in {0, 1}, in its stable form mean(softplus(z) − y·z).
func LogisticLoss(z, y *G.Node) (*G.Node, error) {
	zs := z.Shape()
	if zs.Dims() != 1 || y.Shape().TotalSize() != zs[0] {
		return nil, fmt.Errorf("logistic loss: logits %v, labels %v", zs, y.Shape())
	}
	return G.ApplyOp(&logisticOp{p: zs[0], dt: z.Dtype()}, z, y)
}

type logisticOp struct {
	pureOp
	p  int
	dt tensor.Dtype
}

func (op *logisticOp) Arity() int { return 2 }
func (op *logisticOp) Type() hm.Type {
	v := G.TensorType{Dims: 1, Of: op.dt}
	return hm.NewFnType(v, v, op.dt)
}
func (op *logisticOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *logisticOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *logisticOp) Hashcode() uint32      { return hashOf(op) }
func (op *logisticOp) String() string        { return fmt.Sprintf("LogisticLoss{%d}", op.p) }

func (op *logisticOp) Do(inputs ...G.Value) (G.Value, error) {
	switch op.dt {
	case tensor.Float32:
		return G.NewF32(float32(logistic(f32(inputs[0]), f32(inputs[1])))), nil
	case tensor.Float64:
		return G.NewF64(logistic(f64(inputs[0]), f64(inputs[1]))), nil
	}
	return nil, fmt.Errorf("logistic loss: unsupported dtype %v", op.dt)
}

func logistic[T Float](z, y []T) float64 {
	var s float64
	for i, v := range z {
		s += softplus(float64(v)) - float64(y[i])*float64(v)
	}
	return s / float64(len(z))
}

func (op *logisticOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *logisticOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&logisticGradOp{loss: op}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{n, nil}, nil
}

// logisticGradOp is ∂loss/∂z_i = (σ(z_i) − y_i)/P times the loss's gradient.
type logisticGradOp struct {
	pureOp
	loss *logisticOp
	out  *tensor.Dense
}

func (op *logisticGradOp) Arity() int { return 3 }
func (op *logisticGradOp) Type() hm.Type {
	v := G.TensorType{Dims: 1, Of: op.loss.dt}
	return hm.NewFnType(v, v, op.loss.dt, v)
}
func (op *logisticGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.loss.p}, nil
}
func (op *logisticGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *logisticGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *logisticGradOp) String() string        { return "Grad" + op.loss.String() }

func (op *logisticGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.loss.dt, op.loss.p)
	up := scalarOf(inputs[2]) / float64(op.loss.p)
	switch op.loss.dt {
	case tensor.Float32:
		logisticBackward(f32(inputs[0]), f32(inputs[1]), up, f32(op.out))
	case tensor.Float64:
		logisticBackward(f64(inputs[0]), f64(inputs[1]), up, op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("logistic loss gradient: unsupported dtype %v", op.loss.dt)
	}
	return op.out, nil
}

func logisticBackward[T Float](z, y []T, up float64, dz []T) {
	for i, v := range z {
		dz[i] = T((sigmoid(float64(v)) - float64(y[i])) * up)
	}
}
