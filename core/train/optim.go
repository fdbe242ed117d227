package train

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/registry"
)

// Optimizer updates parameters in place from their gradients.
type Optimizer interface {
	// Update applies one step at learning rate lr. grads[i] matches
	// params[i] or, where sparse[i] is not nil, only the rows it touched
	// are updated.
	Update(params []*core.Param, grads [][]float32, sparse []*core.SparseGrad, lr float64)
	// State returns the optimizer's state for a checkpoint: the number of
	// updates applied and its tensors, named after the params.
	State(params []*core.Param) (step int, tensors []*core.Param)
	// Restore sets the state saved by State.
	Restore(params []*core.Param, step int, saved map[string][]float32) error
}

// OptimizerFactory makes an optimizer for params as c configures it.
type OptimizerFactory func(c Config, params []*core.Param) (Optimizer, error)

// Schedule is a learning-rate schedule: the rate at a step (0-based), given
// the base rate and the share of the budget spent.
type Schedule interface {
	Rate(base float64, step int, frac float64) float64
}

// ScheduleFunc adapts a function to Schedule.
type ScheduleFunc func(base float64, step int, frac float64) float64

// Rate implements Schedule.
func (f ScheduleFunc) Rate(base float64, step int, frac float64) float64 { return f(base, step, frac) }

// ScheduleFactory makes a schedule as c configures it.
type ScheduleFactory func(c Config) (Schedule, error)

var (
	optimizers = registry.New[OptimizerFactory]("train: optimizer")
	schedules  = registry.New[ScheduleFactory]("train: schedule")
)

// RegisterOptimizer makes an optimizer available by name (Config.Optimizer).
func RegisterOptimizer(name string, f OptimizerFactory) { optimizers.Register(name, f) }

// RegisterSchedule makes a schedule available by name (Config.Schedule).
func RegisterSchedule(name string, f ScheduleFactory) { schedules.Register(name, f) }

// lookup finds a registered optimizer or schedule.
func lookup[V any](r *registry.Registry[V], what, name string) (V, error) {
	v, ok := r.Get(name)
	if !ok {
		return v, fmt.Errorf("unknown %s %q (want %s)", what, name, strings.Join(r.Names(), ", "))
	}
	return v, nil
}

// Optimizers lists the registered optimizers.
func Optimizers() []string { return optimizers.Names() }

// Schedules lists the registered schedules.
func Schedules() []string { return schedules.Names() }

func init() {
	RegisterOptimizer("adam", func(c Config, ps []*core.Param) (Optimizer, error) {
		return newFused(c, ps, true), nil
	})
	RegisterOptimizer("sgd", func(c Config, ps []*core.Param) (Optimizer, error) {
		return newFused(c, ps, false), nil
	})
	RegisterSchedule("constant", func(Config) (Schedule, error) {
		return ScheduleFunc(func(base float64, _ int, _ float64) float64 { return base }), nil
	})
	RegisterSchedule("step", func(c Config) (Schedule, error) {
		every, rate := c.DecayEvery, c.DecayRate
		return ScheduleFunc(func(base float64, step int, _ float64) float64 {
			if every > 0 {
				base *= math.Pow(rate, float64(step/every))
			}
			return base
		}), nil
	})
	RegisterSchedule("cosine", func(Config) (Schedule, error) {
		return ScheduleFunc(func(base float64, _ int, frac float64) float64 {
			return base * 0.5 * (1 + math.Cos(math.Pi*math.Min(1, frac)))
		}), nil
	})
}

// fused is Adam or SGD with momentum as one in-place update over float32
// slices, split across cores. It replaces gorgonia's solvers, which clone
// tensors every step.
type fused struct {
	adam        bool
	momentum    float64
	beta1       float64
	beta2       float64
	eps         float64
	weightDecay float64
	step        int         // number of updates applied
	m, v        [][]float32 // first and second moments (v: Adam only)
	decay       []bool      // weight decay applies to this param
	jobs        []updateJob // the last step's, reused
	cur         update      // the running Update's arguments
}

func newFused(c Config, params []*core.Param, adam bool) *fused {
	o := &fused{adam: adam, momentum: c.Momentum, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.WeightDecay}
	for _, p := range params {
		o.m = append(o.m, make([]float32, len(p.Data)))
		if adam {
			o.v = append(o.v, make([]float32, len(p.Data)))
		}
		o.decay = append(o.decay, !isBias(p.Name))
	}
	return o
}

func isBias(name string) bool {
	return strings.HasSuffix(name, ".b") || strings.HasSuffix(name, ".bias")
}

// State implements Optimizer.
func (o *fused) State(params []*core.Param) (int, []*core.Param) {
	var out []*core.Param
	for i, p := range params {
		out = append(out, &core.Param{Name: "opt.m/" + p.Name, Shape: p.Shape, Data: o.m[i]})
		if o.v != nil {
			out = append(out, &core.Param{Name: "opt.v/" + p.Name, Shape: p.Shape, Data: o.v[i]})
		}
	}
	return o.step, out
}

// Restore implements Optimizer.
func (o *fused) Restore(params []*core.Param, step int, saved map[string][]float32) error {
	o.step = step
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

// updateJob is a range of one param's values (of a sparse param's
// touched rows) that one worker updates.
type updateJob struct{ i, lo, hi int }

// Update implements Optimizer (lazy Adam for sparse params: moments of
// rows not touched wait).
func (o *fused) Update(params []*core.Param, grads [][]float32, sparse []*core.SparseGrad, lr float64) {
	o.step++
	var c1, c2 float64
	if o.adam {
		c1 = 1 - math.Pow(o.beta1, float64(o.step))
		c2 = 1 - math.Pow(o.beta2, float64(o.step))
	}
	const chunk = 1 << 15
	jobs := o.jobs[:0] // kept between steps
	for i, p := range params {
		if sparse != nil && sparse[i] != nil {
			// lo/hi index the touched rows.
			s := sparse[i]
			rows := max(1, chunk/max(1, s.Cols))
			for lo := 0; lo < len(s.Touched); lo += rows {
				jobs = append(jobs, updateJob{i, lo, min(lo+rows, len(s.Touched))})
			}
			continue
		}
		for lo := 0; lo < len(p.Data); lo += chunk {
			jobs = append(jobs, updateJob{i, lo, min(lo+chunk, len(p.Data))})
		}
	}
	o.jobs = jobs
	o.cur = update{params: params, grads: grads, sparse: sparse, lr: lr, c1: c1, c2: c2}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go o.work(w, workers, &wg)
	}
	if workers > 0 {
		o.work(0, workers, nil)
	}
	wg.Wait()
	o.cur = update{}
}

// update is one Update call's arguments, read by its workers (kept in the
// optimizer so that starting a worker captures nothing).
type update struct {
	params []*core.Param
	grads  [][]float32
	sparse []*core.SparseGrad
	lr     float64
	c1, c2 float64
}

// work runs the jobs w, w+workers, … of the current update.
func (o *fused) work(w, workers int, wg *sync.WaitGroup) {
	if wg != nil {
		defer wg.Done()
	}
	u := &o.cur
	for k := w; k < len(o.jobs); k += workers {
		j := o.jobs[k]
		if u.sparse != nil && u.sparse[j.i] != nil {
			s := u.sparse[j.i]
			for _, r := range s.Touched[j.lo:j.hi] {
				lo, hi := r*s.Cols, (r+1)*s.Cols
				o.apply(j.i, lo, hi, s.G32[lo:hi])
			}
			continue
		}
		o.apply(j.i, j.lo, j.hi, u.grads[j.i][j.lo:j.hi])
	}
}

// apply updates values [lo, hi) of param i with their gradient g.
func (o *fused) apply(i, lo, hi int, g []float32) {
	u := &o.cur
	wd := 0.0
	if o.decay[i] {
		wd = o.weightDecay
	}
	x, m := u.params[i].Data[lo:hi], o.m[i][lo:hi]
	if o.adam {
		adam(x, g, m, o.v[i][lo:hi], float32(u.lr*math.Sqrt(u.c2)/u.c1), float32(o.beta1), float32(o.beta2), float32(o.eps*math.Sqrt(u.c2)), float32(wd))
	} else {
		sgd(x, g, m, float32(u.lr), float32(o.momentum), float32(wd))
	}
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
