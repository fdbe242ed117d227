package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// TrainConfig sets up a training run. Zero values take the defaults noted.
type TrainConfig struct {
	Optimizer   string        `json:"optimizer"`    // adam (default) or sgd
	LR          float64       `json:"lr"`           // default 1e-3 (adam), 1e-2 (sgd)
	Momentum    float64       `json:"momentum"`     // sgd; default 0.9
	WeightDecay float64       `json:"weight_decay"` // L2 on weights (not biases)
	Schedule    string        `json:"schedule"`     // constant (default), step or cosine (over Steps, else over Duration)
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
	CkptEvery   int           `json:"ckpt_every"` // checkpoint every N steps (0: only on interrupt)
	Checkpoint  string        `json:"checkpoint"` // checkpoint path (empty: no checkpoints)
}

func (c TrainConfig) withDefaults() TrainConfig {
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

func (c TrainConfig) check() error {
	switch c.Schedule {
	case "constant", "step", "cosine":
	default:
		return fmt.Errorf("unknown schedule %q (want constant, step or cosine)", c.Schedule)
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

// Progress is reported to Trainer.OnProgress after every step.
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

// ErrInterrupted is wrapped by Run's error when ctx was cancelled; a
// checkpoint was written if the config names one.
var ErrInterrupted = errors.New("training interrupted")

// Trainer trains a model on pairs streamed from a domain.
type Trainer struct {
	Model  *Model
	Domain Domain
	Config TrainConfig
	// Validate returns a score to maximise (for example one-shot accuracy).
	Validate   func(ctx context.Context, m *Model) (float64, error)
	OnProgress func(Progress)
	Log        *slog.Logger

	state *TrainerState
	saved map[string][]float32
}

// Resume loads a checkpoint written by a Trainer and returns a trainer that
// continues the same run: same config, step, optimizer state and stream.
func Resume(path string) (*Trainer, error) {
	m, st, extra, err := load(path)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("resume %s: a model file, not a checkpoint", path)
	}
	c := st.Config
	c.Checkpoint = path
	return &Trainer{Model: m, Config: c, state: st, saved: extra}, nil
}

// Run trains until the step or time budget is spent, early stopping fires
// or ctx is cancelled (then it checkpoints and returns ErrInterrupted).
func (t *Trainer) Run(ctx context.Context) (*Result, error) {
	c := t.Config.withDefaults()
	if err := c.check(); err != nil {
		return nil, err
	}
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := t.Model
	net, err := m.NewTrainNet(c.Items, c.Pairs)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	params := net.Params()
	opt, err := newOptimizer(c, params)
	if err != nil {
		return nil, err
	}
	st := TrainerState{Config: c}
	var best []*Param
	if t.state != nil {
		st = *t.state
		st.Config = c
		opt.step = st.OptStep
		if err := opt.restore(params, t.saved); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if _, ok := t.saved["best/"+params[0].Name]; ok {
			best = snapshot(params)
			for _, p := range best {
				copy(p.Data, t.saved["best/"+p.Name])
			}
		}
	}
	stream, err := t.Domain.Pairs(ctx, PairRequest{Split: c.Split, Seed: c.Seed, Start: st.Step, Items: c.Items, Pairs: c.Pairs, Augment: c.Augment})
	if err != nil {
		return nil, fmt.Errorf("open pair stream: %w", err)
	}
	defer stream.Close()

	checkpoint := func() error {
		if c.Checkpoint == "" {
			return nil
		}
		st.OptStep = opt.step
		extra := opt.moments(params)
		for _, p := range best {
			extra = append(extra, &Param{Name: "best/" + p.Name, Shape: p.Shape, Data: p.Data})
		}
		m.Info.Steps, m.Info.Pairs, m.Info.Seconds = st.Step, st.Pairs, st.Seconds
		s := st
		return m.save(c.Checkpoint, &s, extra)
	}

	grads := make([][]float32, len(params))
	start := time.Now()
	base := st.Seconds
	smooth := math.NaN()
	startStep := st.Step
	res := &Result{}
	log.Debug("training", "params", CountParams(params), "items", c.Items, "pairs", c.Pairs, "steps", c.Steps, "duration", c.Duration, "start_step", st.Step)
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
			return t.interrupted(checkpoint, st.Step)
		}
		bt, err := stream.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return t.interrupted(checkpoint, st.Step)
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
		for i := range params {
			if grads[i], err = net.grad32(i); err != nil {
				return nil, err
			}
		}
		timeFrac := 0.0
		if c.Duration > 0 {
			timeFrac = st.Seconds / c.Duration.Seconds()
		}
		lr := c.learningRate(st.Step, timeFrac)
		opt.update(params, grads, lr, net.sparse)
		st.Step++
		st.Pairs += int64(len(bt.A))
		if math.IsNaN(smooth) {
			smooth = loss
		} else {
			smooth = 0.95*smooth + 0.05*loss
		}
		st.Seconds = base + time.Since(start).Seconds()
		p := Progress{Step: st.Step, Steps: c.Steps, Loss: smooth, LR: lr, Elapsed: time.Duration(st.Seconds * float64(time.Second)), ETA: -1}
		if el := time.Since(start).Seconds(); el > 0 {
			p.PairsPerSec = float64(int64(st.Step-startStep)*int64(c.Pairs)) / el
			perStep := el / float64(st.Step-startStep)
			if c.Steps > 0 {
				p.Fraction = float64(st.Step) / float64(c.Steps)
				p.ETA = time.Duration(perStep * float64(c.Steps-st.Step) * float64(time.Second))
			}
			if c.Duration > 0 {
				f := st.Seconds / c.Duration.Seconds()
				eta := time.Duration((c.Duration.Seconds() - st.Seconds) * float64(time.Second))
				if f > p.Fraction {
					p.Fraction, p.ETA = f, eta
				}
			}
		}
		stop := false
		if t.Validate != nil && c.ValEvery > 0 && st.Step%c.ValEvery == 0 {
			score, err := t.Validate(ctx, m)
			if err != nil {
				if ctx.Err() != nil {
					return t.interrupted(checkpoint, st.Step)
				}
				return nil, fmt.Errorf("step %d: validate: %w", st.Step, err)
			}
			p.Val = &score
			log.Debug("validation", "step", st.Step, "score", score, "loss", smooth)
			if st.BestStep == 0 || score > st.BestScore {
				st.BestScore, st.BestStep, st.Bad = score, st.Step, 0
				best = snapshot(params)
			} else {
				st.Bad++
				if c.Patience > 0 && st.Bad >= c.Patience {
					stop = true
				}
			}
		}
		if t.OnProgress != nil {
			t.OnProgress(p)
		}
		res.Loss = smooth
		if stop {
			res.Stopped = "early-stop"
			break
		}
		if c.CkptEvery > 0 && st.Step%c.CkptEvery == 0 {
			if err := checkpoint(); err != nil {
				return nil, err
			}
		}
	}
	if best != nil {
		for i, p := range params {
			copy(p.Data, best[i].Data)
		}
	}
	res.Steps, res.Pairs, res.Seconds = st.Step, st.Pairs, st.Seconds
	res.BestScore, res.BestStep = st.BestScore, st.BestStep
	m.Info.Seed, m.Info.Steps, m.Info.Pairs, m.Info.Seconds = c.Seed, st.Step, st.Pairs, st.Seconds
	m.Info.Optimizer, m.Info.LastLoss = c.Optimizer, res.Loss
	if err := checkpoint(); err != nil {
		return nil, err
	}
	log.Debug("trained", "steps", res.Steps, "seconds", res.Seconds, "stopped", res.Stopped)
	return res, nil
}

func (t *Trainer) interrupted(checkpoint func() error, step int) (*Result, error) {
	if err := checkpoint(); err != nil {
		return nil, fmt.Errorf("%w at step %d; saving the checkpoint failed: %v", ErrInterrupted, step, err)
	}
	if t.Config.Checkpoint == "" {
		return nil, fmt.Errorf("%w at step %d (no checkpoint path set)", ErrInterrupted, step)
	}
	return nil, fmt.Errorf("%w at step %d: checkpoint saved to %s", ErrInterrupted, step, t.Config.Checkpoint)
}

func snapshot(ps []*Param) []*Param {
	out := make([]*Param, len(ps))
	for i, p := range ps {
		out[i] = &Param{Name: p.Name, Shape: p.Shape, Data: append([]float32(nil), p.Data...)}
	}
	return out
}
