package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5ea4e5e)) }

// optimizer is a fused, in-place update over float32 slices, split across
// cores. It replaces gorgonia's solvers, which clone tensors every step.
type optimizer struct {
	kind        string
	momentum    float64
	beta1       float64
	beta2       float64
	eps         float64
	weightDecay float64
	step        int         // number of updates applied
	m, v        [][]float32 // first and second moments (v: Adam only)
	decay       []bool      // weight decay applies to this param
}

func newOptimizer(c TrainConfig, params []*Param) (*optimizer, error) {
	o := &optimizer{kind: c.Optimizer, momentum: c.Momentum, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.WeightDecay}
	switch o.kind {
	case "adam", "sgd":
	default:
		return nil, fmt.Errorf("unknown optimizer %q (want adam or sgd)", c.Optimizer)
	}
	for _, p := range params {
		o.m = append(o.m, make([]float32, len(p.Data)))
		if o.kind == "adam" {
			o.v = append(o.v, make([]float32, len(p.Data)))
		}
		o.decay = append(o.decay, !isBias(p.Name))
	}
	return o, nil
}

func isBias(name string) bool {
	return strings.HasSuffix(name, ".b") || strings.HasSuffix(name, ".bias")
}

// moments returns the optimizer state as params, for checkpoints.
func (o *optimizer) moments(params []*Param) []*Param {
	var out []*Param
	for i, p := range params {
		out = append(out, &Param{Name: "opt.m/" + p.Name, Shape: p.Shape, Data: o.m[i]})
		if o.v != nil {
			out = append(out, &Param{Name: "opt.v/" + p.Name, Shape: p.Shape, Data: o.v[i]})
		}
	}
	return out
}

func (o *optimizer) restore(params []*Param, saved map[string][]float32) error {
	for i, p := range params {
		m, ok := saved["opt.m/"+p.Name]
		if !ok || len(m) != len(o.m[i]) {
			return fmt.Errorf("checkpoint lacks optimizer state for %s", p.Name)
		}
		copy(o.m[i], m)
		if o.v != nil {
			v, ok := saved["opt.v/"+p.Name]
			if !ok || len(v) != len(o.v[i]) {
				return fmt.Errorf("checkpoint lacks optimizer state for %s", p.Name)
			}
			copy(o.v[i], v)
		}
	}
	return nil
}

// update applies one step with learning rate lr; grads[i] matches
// params[i], or, where sparse[i] is not nil, the param is updated only in
// the rows sparse[i] touched (lazy Adam: moments of other rows wait).
func (o *optimizer) update(params []*Param, grads [][]float32, lr float64, sparse []*SparseGrad) {
	o.step++
	var c1, c2 float64
	if o.kind == "adam" {
		c1 = 1 - math.Pow(o.beta1, float64(o.step))
		c2 = 1 - math.Pow(o.beta2, float64(o.step))
	}
	type job struct{ i, lo, hi int }
	const chunk = 1 << 15
	var jobs []job
	for i, p := range params {
		if sparse != nil && sparse[i] != nil {
			// lo/hi index the touched rows.
			s := sparse[i]
			rows := max(1, chunk/max(1, s.Cols))
			for lo := 0; lo < len(s.Touched); lo += rows {
				jobs = append(jobs, job{i, lo, min(lo+rows, len(s.Touched))})
			}
			continue
		}
		for lo := 0; lo < len(p.Data); lo += chunk {
			jobs = append(jobs, job{i, lo, min(lo+chunk, len(p.Data))})
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := w; k < len(jobs); k += workers {
				j := jobs[k]
				wd := 0.0
				if o.decay[j.i] {
					wd = o.weightDecay
				}
				apply := func(lo, hi int, g []float32) {
					x, m := params[j.i].Data[lo:hi], o.m[j.i][lo:hi]
					if o.kind == "adam" {
						adam(x, g, m, o.v[j.i][lo:hi], float32(lr*math.Sqrt(c2)/c1), float32(o.beta1), float32(o.beta2), float32(o.eps*math.Sqrt(c2)), float32(wd))
					} else {
						sgd(x, g, m, float32(lr), float32(o.momentum), float32(wd))
					}
				}
				if sparse != nil && sparse[j.i] != nil {
					s := sparse[j.i]
					for _, r := range s.Touched[j.lo:j.hi] {
						lo, hi := r*s.Cols, (r+1)*s.Cols
						apply(lo, hi, s.G32[lo:hi])
					}
					continue
				}
				apply(j.lo, j.hi, grads[j.i][j.lo:j.hi])
			}
		}(w)
	}
	wg.Wait()
}

// adam: bias correction folded into the step size and epsilon.
func adam(x, g, m, v []float32, step, b1, b2, eps, wd float32) {
	for i := range x {
		gi := g[i] + wd*x[i]
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		x[i] -= step * m[i] / (float32(math.Sqrt(float64(v[i]))) + eps)
	}
}

func sgd(x, g, m []float32, lr, mu, wd float32) {
	for i := range x {
		gi := g[i] + wd*x[i]
		m[i] = mu*m[i] + gi
		x[i] -= lr * m[i]
	}
}

// learningRate returns the scheduled rate at step (0-based). timeFrac is
// the share of the wall-time budget spent; the cosine schedule follows it
// when there is no step budget.
func (c TrainConfig) learningRate(step int, timeFrac float64) float64 {
	lr := c.LR
	if c.Warmup > 0 && step < c.Warmup {
		return lr * float64(step+1) / float64(c.Warmup)
	}
	switch c.Schedule {
	case "step":
		if c.DecayEvery > 0 {
			lr *= math.Pow(c.DecayRate, float64(step/c.DecayEvery))
		}
	case "cosine":
		t := timeFrac
		if c.Steps > 0 {
			t = float64(step) / float64(c.Steps)
		}
		lr *= 0.5 * (1 + math.Cos(math.Pi*math.Min(1, t)))
	}
	return lr
}
