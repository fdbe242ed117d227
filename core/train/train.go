// Package train trains a model on a domain's pairs: a Loop of steps with
// hooks (validation, early stopping, checkpoints, progress, logging), in
// the style of GoMLX's train.Loop, over optimizers and learning-rate
// schedules registered by name. Trainer assembles the usual loop.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/siamesenet/siamese/core"
)

// Config sets up a training run. Zero values take the defaults noted.
type Config struct {
	Optimizer   string        `json:"optimizer"`    // a registered optimizer: adam (default) or sgd
	LR          float64       `json:"lr"`           // default 1e-3 (adam), 1e-2 (sgd)
	Momentum    float64       `json:"momentum"`     // sgd; default 0.9
	WeightDecay float64       `json:"weight_decay"` // L2 on weights (not biases)
	Schedule    string        `json:"schedule"`     // a registered schedule: constant (default), step or cosine (over Steps, else over Duration)
	DecayEvery  int           `json:"decay_every"`  // step schedule: steps between decays
	DecayRate   float64       `json:"decay_rate"`   // step schedule: factor per decay
	Warmup      int           `json:"warmup"`       // linear warm-up steps
	Items       int           `json:"items"`        // distinct items per batch; default 64
	Pairs       int           `json:"pairs"`        // pairs per batch; default 2×Items
	Steps       int           `json:"steps"`        // step budget (0: none)
	Duration    time.Duration `json:"duration"`     // wall-time budget (0: none)
	Seed        uint64        `json:"seed"`
	Split       string        `json:"split"` // default train
	Augment     bool          `json:"augment"`
	ValEvery    int           `json:"val_every"`  // validate every N steps (needs Validate)
	Patience    int           `json:"patience"`   // stop after N validations without gain (0: never)
	CkptEvery   int           `json:"ckpt_every"` // checkpoint every N steps (0: only at the end and on interrupt)
	Checkpoint  string        `json:"checkpoint"` // checkpoint path (empty: no checkpoints)
}

// FromRecipe is the config a domain's recipe asks for.
func FromRecipe(r core.Recipe) Config {
	return Config{Split: r.Split, Items: r.Items, Pairs: r.Pairs, Steps: r.Steps, LR: r.LR, WeightDecay: r.WeightDecay,
		Schedule: r.Schedule, Augment: r.Augment, ValEvery: r.ValEvery}
}

func (c Config) withDefaults() Config {
	if c.Optimizer == "" {
		c.Optimizer = "adam"
	}
	if c.LR == 0 {
		c.LR = 1e-3
		if c.Optimizer == "sgd" {
			c.LR = 1e-2
		}
	}
	if c.Optimizer == "sgd" && c.Momentum == 0 {
		c.Momentum = 0.9
	}
	if c.Schedule == "" {
		c.Schedule = "constant"
	}
	if c.Items == 0 {
		c.Items = 64
	}
	if c.Pairs == 0 {
		c.Pairs = 2 * c.Items
	}
	if c.Split == "" {
		c.Split = "train"
	}
	return c
}

// Check reports a config that cannot train (after defaults).
func (c Config) Check() error {
	c = c.withDefaults()
	if _, err := lookup(schedules, "schedule", c.Schedule); err != nil {
		return err
	}
	if _, err := lookup(optimizers, "optimizer", c.Optimizer); err != nil {
		return err
	}
	if c.Steps <= 0 && c.Duration <= 0 {
		return errors.New("set a step budget or a time budget")
	}
	if c.Items < 2 || c.Pairs < 1 {
		return fmt.Errorf("batch needs at least 2 items and 1 pair, got %d and %d", c.Items, c.Pairs)
	}
	if c.LR <= 0 || math.IsNaN(c.LR) {
		return fmt.Errorf("learning rate must be positive, got %v", c.LR)
	}
	return nil
}

// Progress is what the loop knows after a step.
type Progress struct {
	Step        int           `json:"step"`
	Steps       int           `json:"steps"` // budget, 0 if none
	Loss        float64       `json:"loss"`  // smoothed
	LR          float64       `json:"lr"`
	PairsPerSec float64       `json:"pairs_per_sec"`
	Elapsed     time.Duration `json:"elapsed"`
	ETA         time.Duration `json:"eta"`      // -1 if unknown
	Fraction    float64       `json:"fraction"` // of the budget done
	Val         *float64      `json:"val,omitempty"`
}

// Result summarises a finished run.
type Result struct {
	Steps     int     `json:"steps"`
	Pairs     int64   `json:"pairs"`
	Seconds   float64 `json:"seconds"`
	Loss      float64 `json:"loss"`
	BestScore float64 `json:"best_score,omitempty"`
	BestStep  int     `json:"best_step,omitempty"`
	Stopped   string  `json:"stopped"` // steps, time, early-stop
}

// State is what a checkpoint keeps of a run so that a resumed run
// continues the same run.
type State struct {
	Step      int     `json:"step"`
	Pairs     int64   `json:"pairs"`
	Seconds   float64 `json:"seconds"`
	Config    Config  `json:"config"`
	BestScore float64 `json:"best_score"`
	BestStep  int     `json:"best_step"` // 0: no validation yet
	Bad       int     `json:"bad_validations"`
	OptStep   int     `json:"opt_step"`
}

// ErrInterrupted is wrapped by Run's error when ctx was cancelled; a
// checkpoint was written if the config names one.
var ErrInterrupted = errors.New("training interrupted")

// Hook runs after every step of a Loop, in the order given; it may stop
// the loop with Loop.Stop.
type Hook interface {
	OnStep(ctx context.Context, l *Loop) error
}

// Ender is a Hook that also runs once when the loop ends: after the budget
// or an early stop (the best weights restored), or on an interrupt.
type Ender interface {
	OnEnd(ctx context.Context, l *Loop, interrupted bool) error
}

// Loop runs training steps until the budget is spent, a hook stops it or
// ctx is cancelled.
type Loop struct {
	Model  *core.Model
	Domain core.Domain
	Config Config // defaults applied by Run
	Hooks  []Hook

	State     State
	Params    []*core.Param // the training net's parameters
	Optimizer Optimizer
	// Best is the snapshot of the best-validated weights (nil: none yet).
	Best []*core.Param
	// Progress is the last step's figures; hooks may add to it (Val).
	Progress Progress

	stopped string
	saved   map[string][]float32 // tensors of the checkpoint resumed from
	resumed bool
}

// Stop ends the loop after the current step's hooks, giving a reason.
func (l *Loop) Stop(reason string) { l.stopped = reason }

// Run trains and returns the summary of the run.
func (l *Loop) Run(ctx context.Context) (*Result, error) {
	c := l.Config.withDefaults()
	if err := c.Check(); err != nil {
		return nil, err
	}
	l.Config = c
	m := l.Model
	net, err := m.NewTrainNet(c.Items, c.Pairs)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	l.Params = net.Params()
	newOpt, _ := lookup(optimizers, "optimizer", c.Optimizer)
	if l.Optimizer, err = newOpt(c, l.Params); err != nil {
		return nil, err
	}
	newSched, _ := lookup(schedules, "schedule", c.Schedule)
	sched, err := newSched(c)
	if err != nil {
		return nil, err
	}
	if l.resumed {
		l.State.Config = c
		if err := l.Optimizer.Restore(l.Params, l.State.OptStep, l.saved); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if _, ok := l.saved["best/"+l.Params[0].Name]; ok {
			l.Best = snapshot(l.Params)
			for _, p := range l.Best {
				copy(p.Data, l.saved["best/"+p.Name])
			}
		}
	} else {
		l.State = State{Config: c}
	}
	st := &l.State
	stream, err := l.Domain.Pairs(ctx, core.PairRequest{Split: c.Split, Seed: c.Seed, Start: st.Step, Items: c.Items, Pairs: c.Pairs, Augment: c.Augment})
	if err != nil {
		return nil, fmt.Errorf("open pair stream: %w", err)
	}
	defer stream.Close()

	grads := make([][]float32, len(l.Params))
	start := time.Now()
	base := st.Seconds
	smooth := math.NaN()
	startStep := st.Step
	res := &Result{}
	for {
		st.Seconds = base + time.Since(start).Seconds()
		if c.Steps > 0 && st.Step >= c.Steps {
			res.Stopped = "steps"
			break
		}
		if c.Duration > 0 && st.Seconds >= c.Duration.Seconds() {
			res.Stopped = "time"
			break
		}
		if ctx.Err() != nil {
			return nil, l.interrupted(ctx)
		}
		bt, err := stream.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, l.interrupted(ctx)
			}
			return nil, fmt.Errorf("step %d: next batch: %w", st.Step, err)
		}
		loss, _, err := net.Forward(bt)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", st.Step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("step %d: loss is %v; lower the learning rate", st.Step, loss)
		}
		for i := range l.Params {
			if grads[i], err = net.Grad32(i); err != nil {
				return nil, err
			}
		}
		timeFrac := 0.0
		if c.Duration > 0 {
			timeFrac = st.Seconds / c.Duration.Seconds()
		}
		lr := c.learningRate(sched, st.Step, timeFrac)
		l.Optimizer.Update(l.Params, grads, net.Sparse(), lr)
		st.Step++
		st.Pairs += int64(len(bt.A))
		if math.IsNaN(smooth) {
			smooth = loss
		} else {
			smooth = 0.95*smooth + 0.05*loss
		}
		st.Seconds = base + time.Since(start).Seconds()
		l.Progress = progress(c, st, startStep, start, smooth, lr)
		for _, h := range l.Hooks {
			if err := h.OnStep(ctx, l); err != nil {
				if ctx.Err() != nil {
					return nil, l.interrupted(ctx)
				}
				return nil, fmt.Errorf("step %d: %w", st.Step, err)
			}
		}
		res.Loss = smooth
		if l.stopped != "" {
			res.Stopped = l.stopped
			break
		}
	}
	if l.Best != nil {
		for i, p := range l.Params {
			copy(p.Data, l.Best[i].Data)
		}
	}
	res.Steps, res.Pairs, res.Seconds = st.Step, st.Pairs, st.Seconds
	res.BestScore, res.BestStep = st.BestScore, st.BestStep
	m.Info.Seed, m.Info.Steps, m.Info.Pairs, m.Info.Seconds = c.Seed, st.Step, st.Pairs, st.Seconds
	m.Info.Optimizer, m.Info.LastLoss = c.Optimizer, res.Loss
	if err := l.end(ctx, false); err != nil {
		return nil, err
	}
	return res, nil
}

// learningRate is the schedule's rate at step (0-based) after the linear
// warm-up. timeFrac is the share of the wall-time budget spent; a schedule
// follows it when there is no step budget.
func (c Config) learningRate(s Schedule, step int, timeFrac float64) float64 {
	if c.Warmup > 0 && step < c.Warmup {
		return c.LR * float64(step+1) / float64(c.Warmup)
	}
	frac := timeFrac
	if c.Steps > 0 {
		frac = float64(step) / float64(c.Steps)
	}
	return s.Rate(c.LR, step, frac)
}

func progress(c Config, st *State, startStep int, start time.Time, loss, lr float64) Progress {
	p := Progress{Step: st.Step, Steps: c.Steps, Loss: loss, LR: lr, Elapsed: time.Duration(st.Seconds * float64(time.Second)), ETA: -1}
	el := time.Since(start).Seconds()
	if el <= 0 {
		return p
	}
	p.PairsPerSec = float64(int64(st.Step-startStep)*int64(c.Pairs)) / el
	perStep := el / float64(st.Step-startStep)
	if c.Steps > 0 {
		p.Fraction = float64(st.Step) / float64(c.Steps)
		p.ETA = time.Duration(perStep * float64(c.Steps-st.Step) * float64(time.Second))
	}
	if c.Duration > 0 {
		f := st.Seconds / c.Duration.Seconds()
		if f > p.Fraction {
			p.Fraction, p.ETA = f, time.Duration((c.Duration.Seconds()-st.Seconds)*float64(time.Second))
		}
	}
	return p
}

func (l *Loop) end(ctx context.Context, interrupted bool) error {
	for _, h := range l.Hooks {
		if e, ok := h.(Ender); ok {
			if err := e.OnEnd(ctx, l, interrupted); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Loop) interrupted(ctx context.Context) error {
	if err := l.end(ctx, true); err != nil {
		return fmt.Errorf("%w at step %d; %v", ErrInterrupted, l.State.Step, err)
	}
	for _, h := range l.Hooks {
		if ck, ok := h.(*Checkpoint); ok && ck.Path != "" {
			return fmt.Errorf("%w at step %d: checkpoint saved to %s", ErrInterrupted, l.State.Step, ck.Path)
		}
	}
	return fmt.Errorf("%w at step %d (no checkpoint path set)", ErrInterrupted, l.State.Step)
}

func snapshot(ps []*core.Param) []*core.Param {
	out := make([]*core.Param, len(ps))
	for i, p := range ps {
		out[i] = &core.Param{Name: p.Name, Shape: p.Shape, Data: append([]float32(nil), p.Data...)}
	}
	return out
}

// Trainer is the usual loop: validation and early stopping when Validate
// is set, progress reports, debug logging and checkpoints as the config
// says, then any extra hooks.
type Trainer struct {
	Model  *core.Model
	Domain core.Domain
	Config Config
	// Validate returns a score to maximise (for example one-shot accuracy).
	Validate   func(ctx context.Context, m *core.Model) (float64, error)
	OnProgress func(Progress)
	Log        *slog.Logger
	Hooks      []Hook // run after the usual ones

	state *State
	saved map[string][]float32
}

// Resume loads a checkpoint written by a Trainer and returns a trainer that
// continues the same run: same config, step, optimizer state and stream.
func Resume(path string) (*Trainer, error) {
	m, raw, extra, err := core.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("resume %s: a model file, not a checkpoint", path)
	}
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("resume %s: trainer state: %w", path, err)
	}
	c := st.Config
	c.Checkpoint = path
	return &Trainer{Model: m, Config: c, state: &st, saved: extra}, nil
}

// Loop returns the loop Run runs.
func (t *Trainer) Loop() *Loop {
	c := t.Config.withDefaults()
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var hooks []Hook
	if t.Validate != nil && c.ValEvery > 0 {
		hooks = append(hooks, &Validation{Every: c.ValEvery, Validate: t.Validate})
		if c.Patience > 0 {
			hooks = append(hooks, EarlyStopping{Patience: c.Patience})
		}
	}
	hooks = append(hooks, Logging{Log: log})
	if t.OnProgress != nil {
		hooks = append(hooks, ProgressFunc(t.OnProgress))
	}
	if c.Checkpoint != "" {
		hooks = append(hooks, &Checkpoint{Path: c.Checkpoint, Every: c.CkptEvery})
	}
	l := &Loop{Model: t.Model, Domain: t.Domain, Config: t.Config, Hooks: append(hooks, t.Hooks...), saved: t.saved}
	if t.state != nil {
		l.State, l.resumed = *t.state, true
	}
	return l
}

// Run trains until the step or time budget is spent, early stopping fires
// or ctx is cancelled (then it checkpoints and returns ErrInterrupted).
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	l := t.Loop()
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Debug("training", "params", core.CountParams(t.Model.Params()), "items", l.Config.Items, "pairs", l.Config.Pairs,
		"steps", l.Config.Steps, "duration", l.Config.Duration, "start_step", l.State.Step)
	return l.Run(ctx)
}
