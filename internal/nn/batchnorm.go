package nn

import (
	"fmt"

	"github.com/siamesenet/siamese/core"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNormEps is added to the variance.
const BatchNormEps = 1e-5

// BatchNormParams makes the four params of a batch norm over c channels:
// scale γ and shift β (learned), running mean and variance (frozen). The
// shapes broadcast over [N,C,H,W] when spatial is set, else over [N,C].
func BatchNormParams(prefix string, c int, spatial bool) (gamma, beta, mean, variance *core.Param) {
	shape := []int{1, c}
	if spatial {
		shape = []int{1, c, 1, 1}
	}
	gamma = core.NewParam(prefix+".gamma", shape...)
	gamma.Fill(1)
	beta = core.NewParam(prefix+".beta", shape...)
	mean = core.NewParam(prefix+".mean", shape...)
	mean.Frozen = true
	variance = core.NewParam(prefix+".var", shape...)
	variance.Fill(1)
	variance.Frozen = true
	return
}

// BatchNorm normalises x per channel: with the batch's statistics in a
// training graph (and updates the running statistics after each run with
// the given momentum), with the running statistics otherwise.
func BatchNorm(b *core.Builder, x *G.Node, gamma, beta, mean, variance *core.Param, momentum float64) (*G.Node, error) {
	axes, pattern := []int{0}, []byte{0}
	if x.Dims() == 4 {
		axes, pattern = []int{0, 2, 3}, []byte{0, 2, 3}
	}
	shape := mean.Shape
	var mu, v *G.Node
	var err error
	wrap := func(e error) error { return fmt.Errorf("batch norm %s: %w", gamma.Name, e) }
	if b.Training {
		if mu, err = G.Mean(x, axes...); err != nil {
			return nil, wrap(err)
		}
		if mu, err = G.Reshape(mu, shape); err != nil {
			return nil, wrap(err)
		}
	} else {
		mu = b.Param(mean)
	}
	xc, err := G.BroadcastSub(x, mu, nil, pattern)
	if err != nil {
		return nil, wrap(err)
	}
	if b.Training {
		sq, err := G.Square(xc)
		if err != nil {
			return nil, wrap(err)
		}
		if v, err = G.Mean(sq, axes...); err != nil {
			return nil, wrap(err)
		}
		if v, err = G.Reshape(v, shape); err != nil {
			return nil, wrap(err)
		}
		var muVal, vVal G.Value
		G.Read(mu, &muVal)
		G.Read(v, &vVal)
		m := float32(momentum)
		b.AfterRun(func() {
			if b.Dtype != tensor.Float32 {
				return // float64 graphs (gradient checks) leave the statistics alone
			}
			for i, x := range muVal.Data().([]float32) {
				mean.Data[i] = m*mean.Data[i] + (1-m)*x
			}
			for i, x := range vVal.Data().([]float32) {
				variance.Data[i] = m*variance.Data[i] + (1-m)*x
			}
		})
	} else {
		v = b.Param(variance)
	}
	ve, err := G.Add(v, b.Const(BatchNormEps))
	if err != nil {
		return nil, wrap(err)
	}
	std, err := G.Sqrt(ve)
	if err != nil {
		return nil, wrap(err)
	}
	y, err := G.BroadcastHadamardDiv(xc, std, nil, pattern)
	if err != nil {
		return nil, wrap(err)
	}
	if y, err = G.BroadcastHadamardProd(y, b.Param(gamma), nil, pattern); err != nil {
		return nil, wrap(err)
	}
	if y, err = G.BroadcastAdd(y, b.Param(beta), nil, pattern); err != nil {
		return nil, wrap(err)
	}
	return y, nil
}
