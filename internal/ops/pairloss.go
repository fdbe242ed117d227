package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PairSoftmaxLoss is the pair form of the circle loss (Sun et al. 2020,
// eq. 1) over a whole batch of pair similarities s (shape [P]) with labels
// y (1 = same):
//
//	log(1 + Σ_neg exp(γ·s_n) · Σ_pos exp(−γ·(s_p − m)))
//
// = softplus(LSE_neg(γ·s_n) + LSE_pos(−γ·(s_p − m))). It asks every
// positive pair to be more similar than every negative pair by the margin
// m, weighting the hardest pairs most (a softmax where a contrastive loss
// averages). A batch without positives or without negatives has loss 0.
func PairSoftmaxLoss(s, y *G.Node, scale, margin float64) (*G.Node, error) {
	ss := s.Shape()
	if len(ss) != 1 || y.Shape().TotalSize() != ss[0] {
		return nil, fmt.Errorf("pair softmax loss: similarities %v, labels %v", ss, y.Shape())
	}
	return G.ApplyOp(&pairLossOp{p: ss[0], scale: scale, margin: margin, dt: s.Dtype()}, s, y)
}

type pairLossOp struct {
	pureOp
	p             int
	scale, margin float64
	dt            tensor.Dtype
}

func (op *pairLossOp) Arity() int { return 2 }
func (op *pairLossOp) Type() hm.Type {
	return hm.NewFnType(G.TensorType{Dims: 1, Of: op.dt}, G.TensorType{Dims: 1, Of: op.dt}, op.dt)
}
func (op *pairLossOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *pairLossOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *pairLossOp) Hashcode() uint32      { return hashOf(op) }
func (op *pairLossOp) String() string {
	return fmt.Sprintf("PairSoftmaxLoss{%d,%g,%g}", op.p, op.scale, op.margin)
}

func (op *pairLossOp) Do(inputs ...G.Value) (G.Value, error) {
	switch op.dt {
	case tensor.Float32:
		return G.NewF32(float32(pairLoss(op, f32(inputs[0]), f32(inputs[1]), nil, 0))), nil
	case tensor.Float64:
		return G.NewF64(pairLoss(op, f64(inputs[0]), f64(inputs[1]), nil, 0)), nil
	}
	return nil, fmt.Errorf("pair softmax loss: unsupported dtype %v", op.dt)
}

// pairLoss returns the loss and, when ds is not nil, writes up times its
// gradient with respect to s.
func pairLoss[T Float](op *pairLossOp, s, y, ds []T, up float64) float64 {
	// logit of pair i inside its log-sum-exp
	logit := func(i int) float64 {
		if y[i] > 0.5 {
			return -op.scale * (float64(s[i]) - op.margin)
		}
		return op.scale * float64(s[i])
	}
	maxPos, maxNeg := math.Inf(-1), math.Inf(-1)
	for i := range s {
		if y[i] > 0.5 {
			maxPos = math.Max(maxPos, logit(i))
		} else {
			maxNeg = math.Max(maxNeg, logit(i))
		}
	}
	if math.IsInf(maxPos, -1) || math.IsInf(maxNeg, -1) {
		for i := range ds {
			ds[i] = 0
		}
		return 0
	}
	var sumPos, sumNeg float64
	for i := range s {
		if y[i] > 0.5 {
			sumPos += math.Exp(logit(i) - maxPos)
		} else {
			sumNeg += math.Exp(logit(i) - maxNeg)
		}
	}
	z := maxPos + math.Log(sumPos) + maxNeg + math.Log(sumNeg)
	if ds != nil {
		// dL/ds_i = σ(z)·(±γ)·softmax_i within its own group
		w := sigmoid(z) * op.scale * up
		for i := range s {
			if y[i] > 0.5 {
				ds[i] = T(-w * math.Exp(logit(i)-maxPos) / sumPos)
			} else {
				ds[i] = T(w * math.Exp(logit(i)-maxNeg) / sumNeg)
			}
		}
	}
	return softplus(z)
}

func (op *pairLossOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *pairLossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	n, err := G.ApplyOp(&pairLossGradOp{loss: op}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{n, nil}, nil
}

// pairLossGradOp is the gradient of a pairLossOp with respect to s.
type pairLossGradOp struct {
	pureOp
	loss *pairLossOp
	out  *tensor.Dense
}

func (op *pairLossGradOp) Arity() int { return 3 }
func (op *pairLossGradOp) Type() hm.Type {
	dt := op.loss.dt
	return hm.NewFnType(G.TensorType{Dims: 1, Of: dt}, G.TensorType{Dims: 1, Of: dt}, dt, G.TensorType{Dims: 1, Of: dt})
}
func (op *pairLossGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.loss.p}, nil
}
func (op *pairLossGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *pairLossGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *pairLossGradOp) String() string        { return "Grad" + op.loss.String() }

func (op *pairLossGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.loss.dt, op.loss.p)
	up := scalarOf(inputs[2])
	switch op.loss.dt {
	case tensor.Float32:
		pairLoss(op.loss, f32(inputs[0]), f32(inputs[1]), f32(op.out), up)
	case tensor.Float64:
		pairLoss(op.loss, f64(inputs[0]), f64(inputs[1]), op.out.Data().([]float64), up)
	default:
		return nil, fmt.Errorf("pair softmax loss gradient: unsupported dtype %v", op.loss.dt)
	}
	return op.out, nil
}
