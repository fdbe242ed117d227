package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchStats receives the per-channel mean and (biased) variance of the
// last batch a training BatchNorm normalised.
type BatchStats struct {
	Mean, Var []float64
}

// BatchNorm normalises x ([N,C] or [N,C,H,W]) per channel and applies the
// scale gamma and shift beta (each of C values, any shape): y = γ·x̂ + β.
// When training, x̂ uses the batch's own mean and variance (and the
// gradient flows through them); their values are written to the returned
// BatchStats after each run. Otherwise x̂ uses mean and variance (C values
// each, constants). One pass per channel replaces gorgonia's broadcasting
// ops, which copy every operand to the full shape of x.
func BatchNorm(x, gamma, beta, mean, variance *G.Node, training bool, eps float64) (*G.Node, *BatchStats, error) {
	s := x.Shape()
	if len(s) != 2 && len(s) != 4 {
		return nil, nil, fmt.Errorf("batch norm: want [N,C] or [N,C,H,W], got %v", s)
	}
	c := s[1]
	for _, p := range []*G.Node{gamma, beta, mean, variance} {
		if p.Shape().TotalSize() != c {
			return nil, nil, fmt.Errorf("batch norm: %d channels but a parameter of shape %v", c, p.Shape())
		}
	}
	op := &bnOp{shape: s.Clone(), training: training, eps: eps, dt: x.Dtype(), pdims: [4]int{gamma.Dims(), beta.Dims(), mean.Dims(), variance.Dims()},
		pshape: [2]tensor.Shape{gamma.Shape().Clone(), beta.Shape().Clone()},
		stats:  &BatchStats{Mean: make([]float64, c), Var: make([]float64, c)}, istd: make([]float64, c)}
	y, err := G.ApplyOp(op, x, gamma, beta, mean, variance)
	return y, op.stats, err
}

type bnOp struct {
	pureOp
	shape    tensor.Shape
	training bool
	eps      float64
	dt       tensor.Dtype
	stats    *BatchStats
	istd     []float64       // per channel, of the last training run (for the gradients)
	pdims    [4]int          // dimensions of gamma, beta, mean and variance
	pshape   [2]tensor.Shape // shapes of gamma and beta
	out      *tensor.Dense
}

func (op *bnOp) paramType(i int) hm.Type { return G.TensorType{Dims: op.pdims[i], Of: op.dt} }

// geometry: N samples, C channels, S values per channel and sample.
func (op *bnOp) ncs() (n, c, s int) {
	n, c, s = op.shape[0], op.shape[1], 1
	if len(op.shape) == 4 {
		s = op.shape[2] * op.shape[3]
	}
	return
}

func (op *bnOp) Arity() int { return 5 }
func (op *bnOp) Type() hm.Type {
	x := G.TensorType{Dims: len(op.shape), Of: op.dt}
	return hm.NewFnType(x, op.paramType(0), op.paramType(1), op.paramType(2), op.paramType(3), x)
}
func (op *bnOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *bnOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *bnOp) Hashcode() uint32                               { return hashOf(op) }
func (op *bnOp) String() string {
	return fmt.Sprintf("BatchNorm%v{train %v, eps %g, %p}", op.shape, op.training, op.eps, op.stats)
}

func (op *bnOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.shape...)
	switch op.dt {
	case tensor.Float32:
		bnForward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(inputs[3]), f32(inputs[4]), op.out.Data().([]float32))
	case tensor.Float64:
		bnForward(op, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), f64(inputs[3]), f64(inputs[4]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("batch norm: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

// channelStats returns the mean and inverse standard deviation that
// normalise channel ch: the batch's own when training, else the given ones.
func channelStats[T Float](op *bnOp, x, mean, variance []T, ch int) (mu, istd float64) {
	n, c, s := op.ncs()
	if !op.training {
		return float64(mean[ch]), 1 / math.Sqrt(float64(variance[ch])+op.eps)
	}
	var sum float64
	for i := 0; i < n; i++ {
		for _, v := range x[(i*c+ch)*s : (i*c+ch+1)*s] {
			sum += float64(v)
		}
	}
	m := float64(n * s)
	mu = sum / m
	var sq float64
	for i := 0; i < n; i++ {
		for _, v := range x[(i*c+ch)*s : (i*c+ch+1)*s] {
			d := float64(v) - mu
			sq += d * d
		}
	}
	return mu, 1 / math.Sqrt(sq/m+op.eps)
}

func bnForward[T Float](op *bnOp, x, gamma, beta, mean, variance, y []T) {
	n, c, s := op.ncs()
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, istd := channelStats(op, x, mean, variance, ch)
			if op.training {
				op.stats.Mean[ch], op.stats.Var[ch], op.istd[ch] = mu, 1/(istd*istd)-op.eps, istd
			}
			a := T(float64(gamma[ch]) * istd)
			b := T(float64(beta[ch]) - float64(gamma[ch])*istd*mu)
			for i := 0; i < n; i++ {
				off := (i*c + ch) * s
				for j, v := range x[off : off+s] {
					y[off+j] = a*v + b
				}
			}
		}
	})
}

func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true, false, false} }

func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 5)
	for wrt := 0; wrt < 3; wrt++ {
		n, err := G.ApplyOp(&bnGradOp{bn: op, wrt: wrt}, inputs[0], inputs[1], inputs[3], inputs[4], grad)
		if err != nil {
			return nil, err
		}
		out[wrt] = n
	}
	return out, nil
}

// bnGradOp is the gradient of a bnOp with respect to x (0), gamma (1) or
// beta (2); its inputs are x, gamma, mean, variance and the output's
// gradient.
type bnGradOp struct {
	pureOp
	bn  *bnOp
	wrt int
	out *tensor.Dense
}

func (op *bnGradOp) shape() tensor.Shape {
	if op.wrt == 0 {
		return op.bn.shape.Clone()
	}
	return op.bn.pshape[op.wrt-1].Clone()
}
func (op *bnGradOp) Arity() int { return 5 }
func (op *bnGradOp) Type() hm.Type {
	x := G.TensorType{Dims: len(op.bn.shape), Of: op.bn.dt}
	var ret hm.Type = x
	if op.wrt != 0 {
		ret = op.bn.paramType(op.wrt)
	}
	return hm.NewFnType(x, op.bn.paramType(0), op.bn.paramType(2), op.bn.paramType(3), x, ret)
}
func (op *bnGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op *bnGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *bnGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *bnGradOp) String() string                                 { return fmt.Sprintf("Grad%d%s", op.wrt, op.bn) }

func (op *bnGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.bn.dt, op.shape()...)
	switch op.bn.dt {
	case tensor.Float32:
		bnBackward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(inputs[3]), f32(inputs[4]), op.out.Data().([]float32))
	case tensor.Float64:
		bnBackward(op, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), f64(inputs[3]), f64(inputs[4]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("batch norm gradient: unsupported dtype %v", op.bn.dt)
	}
	return op.out, nil
}

// bnBackward writes one gradient. With x̂ the normalised input and m = N·S
// values per channel: dβ = Σ dy, dγ = Σ dy·x̂, and when training
// dx = γ·istd·(dy − Σdy/m − x̂·Σ(dy·x̂)/m); otherwise dx = γ·istd·dy.
func bnBackward[T Float](op *bnGradOp, x, gamma, mean, variance, dy, out []T) {
	n, c, s := op.bn.ncs()
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			// the forward pass of this run computed the batch's statistics
			mu, istd := float64(mean[ch]), 1/math.Sqrt(float64(variance[ch])+op.bn.eps)
			if op.bn.training {
				mu, istd = op.bn.stats.Mean[ch], op.bn.istd[ch]
			}
			var sdy, sdyx float64
			for i := 0; i < n; i++ {
				off := (i*c + ch) * s
				for j, v := range x[off : off+s] {
					g := float64(dy[off+j])
					sdy += g
					sdyx += g * (float64(v) - mu) * istd
				}
			}
			switch op.wrt {
			case 1:
				out[ch] = T(sdyx)
			case 2:
				out[ch] = T(sdy)
			default:
				k := float64(gamma[ch]) * istd
				if !op.bn.training {
					sdy, sdyx = 0, 0
				}
				m := float64(n * s)
				for i := 0; i < n; i++ {
					off := (i*c + ch) * s
					for j, v := range x[off : off+s] {
						xh := (float64(v) - mu) * istd
						out[off+j] = T(k * (float64(dy[off+j]) - sdy/m - xh*sdyx/m))
					}
				}
			}
		}
	})
}
