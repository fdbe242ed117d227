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
// ops, which copy every operand to the full shape of x. With relu the op
// also applies max(0, ·) to its output (a ReLU fused in, so the output is
// written once and its gradient is masked in the same pass).
func BatchNorm(x, gamma, beta, mean, variance *G.Node, training, relu bool, eps float64) (*G.Node, *BatchStats, error) {
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
	op := &bnOp{shape: s.Clone(), training: training, relu: relu, eps: eps, dt: x.Dtype(), pdims: [4]int{gamma.Dims(), beta.Dims(), mean.Dims(), variance.Dims()},
		pshape: [2]tensor.Shape{gamma.Shape().Clone(), beta.Shape().Clone()},
		stats:  &BatchStats{Mean: make([]float64, c), Var: make([]float64, c)}, istd: make([]float64, c)}
	y, err := G.ApplyOp(op, x, gamma, beta, mean, variance)
	return y, op.stats, err
}

type bnOp struct {
	pureOp
	shape    tensor.Shape
	training bool
	relu     bool
	eps      float64
	run      uint64  // forward runs so far
	cache    bnCache // shared by the gradient ops of the last run
	dt       tensor.Dtype
	stats    *BatchStats
	istd     []float64       // per channel, of the last training run (for the gradients)
	pdims    [4]int          // dimensions of gamma, beta, mean and variance
	pshape   [2]tensor.Shape // shapes of gamma and beta
	out      *tensor.Dense
}

// bnCache holds what the three gradient ops of one run share: the masked
// output gradient (with a fused ReLU) and per-channel sums.
type bnCache struct {
	run       uint64
	g         any // []float32 or []float64
	sdy, sdyx []float64
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
	return fmt.Sprintf("BatchNorm%v{train %v, relu %v, eps %g, %p}", op.shape, op.training, op.relu, op.eps, op.stats)
}

func (op *bnOp) Do(inputs ...G.Value) (G.Value, error) {
	op.run++
	buffer(&op.out, op.dt, op.shape...)
	switch op.dt {
	case tensor.Float32:
		bnForward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(inputs[3]), f32(inputs[4]), f32(op.out))
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
		sum += float64(rowSum(x[(i*c+ch)*s : (i*c+ch+1)*s]))
	}
	m := float64(n * s)
	mu = sum / m
	var sq float64
	for i := 0; i < n; i++ {
		sq += float64(rowSqDev(x[(i*c+ch)*s:(i*c+ch+1)*s], T(mu)))
	}
	return mu, 1 / math.Sqrt(sq/m+op.eps)
}

// rowSum is Σ v over one sample's values of a channel, in four independent
// sums (a row is at most a few thousand values; each row's sum is then
// added in float64).
func rowSum[T Float](v []T) T {
	var a0, a1, a2, a3 T
	j := 0
	for ; j+4 <= len(v); j += 4 {
		a0 += v[j]
		a1 += v[j+1]
		a2 += v[j+2]
		a3 += v[j+3]
	}
	for ; j < len(v); j++ {
		a0 += v[j]
	}
	return (a0 + a1) + (a2 + a3)
}

// rowSqDev is Σ (v − mu)².
func rowSqDev[T Float](v []T, mu T) T {
	var a0, a1, a2, a3 T
	j := 0
	for ; j+4 <= len(v); j += 4 {
		d0, d1, d2, d3 := v[j]-mu, v[j+1]-mu, v[j+2]-mu, v[j+3]-mu
		a0 += d0 * d0
		a1 += d1 * d1
		a2 += d2 * d2
		a3 += d3 * d3
	}
	for ; j < len(v); j++ {
		d := v[j] - mu
		a0 += d * d
	}
	return (a0 + a1) + (a2 + a3)
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
				row := y[off : off+s]
				for j, v := range x[off : off+s] {
					row[j] = a*v + b
				}
				if op.relu {
					for j, v := range row {
						row[j] = max(v, 0)
					}
				}
			}
		}
	})
}

func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true, false, false} }

func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 5)
	for wrt := 0; wrt < 3; wrt++ {
		n, err := G.ApplyOp(&bnGradOp{bn: op, wrt: wrt}, inputs[0], inputs[1], inputs[3], inputs[4], grad, output)
		if err != nil {
			return nil, err
		}
		out[wrt] = n
	}
	return out, nil
}

// bnGradOp is the gradient of a bnOp with respect to x (0), gamma (1) or
// beta (2); its inputs are x, gamma, mean, variance, the output's
// gradient, and the op's output (whose sign masks the gradient when a ReLU
// is fused in).
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
func (op *bnGradOp) Arity() int { return 6 }
func (op *bnGradOp) Type() hm.Type {
	x := G.TensorType{Dims: len(op.bn.shape), Of: op.bn.dt}
	var ret hm.Type = x
	if op.wrt != 0 {
		ret = op.bn.paramType(op.wrt)
	}
	return hm.NewFnType(x, op.bn.paramType(0), op.bn.paramType(2), op.bn.paramType(3), x, x, ret)
}
func (op *bnGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op *bnGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *bnGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *bnGradOp) String() string                                 { return fmt.Sprintf("Grad%d%s", op.wrt, op.bn) }

func (op *bnGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.bn.dt, op.shape()...)
	switch op.bn.dt {
	case tensor.Float32:
		bnBackward(op, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(inputs[3]), f32(inputs[4]), f32(inputs[5]), f32(op.out))
	case tensor.Float64:
		bnBackward(op, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), f64(inputs[3]), f64(inputs[4]), f64(inputs[5]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("batch norm gradient: unsupported dtype %v", op.bn.dt)
	}
	return op.out, nil
}

// bnBackward writes one gradient. With g the output's gradient (zero where
// a fused ReLU's output is zero), x̂ the normalised input and m = N·S
// values per channel: dβ = Σ g, dγ = Σ g·x̂, and when training
// dx = γ·istd·(g − Σg/m − x̂·Σ(g·x̂)/m); otherwise dx = γ·istd·g.
// The three gradient ops of one run share g and the sums: the first to run
// computes them (the tape machine runs ops one at a time, after the
// forward op).
func bnBackward[T Float](op *bnGradOp, x, gamma, mean, variance, dy, y, out []T) {
	n, c, s := op.bn.ncs()
	cache := &op.bn.cache
	stats := func(ch int) (mu, istd float64) {
		if op.bn.training { // the forward pass of this run computed them
			return op.bn.stats.Mean[ch], op.bn.istd[ch]
		}
		return float64(mean[ch]), 1 / math.Sqrt(float64(variance[ch])+op.bn.eps)
	}
	if cache.run != op.bn.run {
		g := dy
		if op.bn.relu {
			buf, _ := cache.g.([]T)
			if len(buf) != len(dy) {
				buf = make([]T, len(dy))
				cache.g = buf
			}
			g = buf
		}
		if len(cache.sdy) != c {
			cache.sdy, cache.sdyx = make([]float64, c), make([]float64, c)
		}
		parallel(c, func(_, lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				mu, _ := stats(ch)
				var sdy, sdyx float64 // Σ g and Σ g·(x − μ)
				for i := 0; i < n; i++ {
					off := (i*c + ch) * s
					if op.bn.relu {
						for j, v := range y[off : off+s] {
							d := dy[off+j]
							if v <= 0 {
								d = 0
							}
							g[off+j] = d
						}
					}
					a, b := rowDot(g[off:off+s], x[off:off+s], T(mu))
					sdy += float64(a)
					sdyx += float64(b)
				}
				cache.sdy[ch], cache.sdyx[ch] = sdy, sdyx
			}
		})
		cache.run = op.bn.run
	}
	g := dy
	if op.bn.relu {
		g = cache.g.([]T)
	}
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, istd := stats(ch)
			sdy, sdyx := cache.sdy[ch], cache.sdyx[ch]
			switch op.wrt {
			case 1:
				out[ch] = T(sdyx * istd)
			case 2:
				out[ch] = T(sdy)
			default:
				// dx = A·g + B·x + C
				k := float64(gamma[ch]) * istd
				m := float64(n * s)
				A, B, C := T(k), T(0), T(0)
				if op.bn.training {
					bf := -k * istd * istd * sdyx / m
					B, C = T(bf), T(-k*sdy/m-bf*mu)
				}
				for i := 0; i < n; i++ {
					off := (i*c + ch) * s
					row, gr := out[off:off+s], g[off:off+s]
					for j, v := range x[off : off+s] {
						row[j] = A*gr[j] + B*v + C
					}
				}
			}
		}
	})
}

// rowDot returns Σ g and Σ g·(x − mu) over one row, in four independent
// sums each.
func rowDot[T Float](g, x []T, mu T) (sg, sgx T) {
	var a0, a1, a2, a3, b0, b1, b2, b3 T
	j := 0
	for ; j+4 <= len(g); j += 4 {
		a0 += g[j]
		a1 += g[j+1]
		a2 += g[j+2]
		a3 += g[j+3]
		b0 += g[j] * (x[j] - mu)
		b1 += g[j+1] * (x[j+1] - mu)
		b2 += g[j+2] * (x[j+2] - mu)
		b3 += g[j+3] * (x[j+3] - mu)
	}
	for ; j < len(g); j++ {
		a0 += g[j]
		b0 += g[j] * (x[j] - mu)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}
