package nn

import (
	"fmt"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/ops"
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
// the given momentum), with the running statistics otherwise; then a ReLU
// when relu is set (fused into the same op).
func BatchNorm(b *core.Builder, x *G.Node, gamma, beta, mean, variance *core.Param, momentum float64, relu bool) (*G.Node, error) {
	y, stats, err := ops.BatchNorm(x, b.Param(gamma), b.Param(beta), b.Param(mean), b.Param(variance), b.Training, relu, BatchNormEps)
	if err != nil {
		return nil, fmt.Errorf("batch norm %s: %w", gamma.Name, err)
	}
	if b.Training && b.Dtype == tensor.Float32 { // float64 graphs (gradient checks) leave the statistics alone
		m := float32(momentum)
		b.AfterRun(func() {
			for i, x := range stats.Mean {
				mean.Data[i] = m*mean.Data[i] + (1-m)*float32(x)
			}
			for i, x := range stats.Var {
				variance.Data[i] = m*variance.Data[i] + (1-m)*float32(x)
			}
		})
	}
	return y, nil
}
