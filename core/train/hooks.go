package train

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/siamesenet/siamese/core"
)

// Validation scores the model every Every steps, keeps the best weights
// in Loop.Best and counts validations without gain in State.Bad.
type Validation struct {
	Every    int
	Validate func(ctx context.Context, m *core.Model) (float64, error)
}

// OnStep implements Hook.
func (v *Validation) OnStep(ctx context.Context, l *Loop) error {
	if v.Every <= 0 || l.State.Step%v.Every != 0 {
		return nil
	}
	score, err := v.Validate(ctx, l.Model)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	l.Progress.Val = &score
	st := &l.State
	if st.BestStep == 0 || score > st.BestScore {
		st.BestScore, st.BestStep, st.Bad = score, st.Step, 0
		l.Best = snapshot(l.Params)
	} else {
		st.Bad++
	}
	return nil
}

// EarlyStopping stops the loop after Patience validations in a row
// without gain.
type EarlyStopping struct{ Patience int }

// OnStep implements Hook.
func (e EarlyStopping) OnStep(_ context.Context, l *Loop) error {
	if l.Progress.Val != nil && e.Patience > 0 && l.State.Bad >= e.Patience {
		l.Stop("early-stop")
	}
	return nil
}

// Logging writes each validation and the end of the run at debug level.
type Logging struct{ Log *slog.Logger }

// OnStep implements Hook.
func (g Logging) OnStep(_ context.Context, l *Loop) error {
	if l.Progress.Val != nil {
		g.Log.Debug("validation", "step", l.State.Step, "score", *l.Progress.Val, "loss", l.Progress.Loss)
	}
	return nil
}

// OnEnd implements Ender.
func (g Logging) OnEnd(_ context.Context, l *Loop, interrupted bool) error {
	g.Log.Debug("trained", "steps", l.State.Step, "seconds", l.State.Seconds, "interrupted", interrupted)
	return nil
}

// ProgressFunc reports each step's Progress.
type ProgressFunc func(Progress)

// OnStep implements Hook.
func (f ProgressFunc) OnStep(_ context.Context, l *Loop) error {
	f(l.Progress)
	return nil
}

// Checkpoint writes the run to Path every Every steps (0: never during the
// run), at its end and on an interrupt, atomically: the model, the
// optimizer's state, the best weights and State, so that Resume continues
// the same run.
type Checkpoint struct {
	Path  string
	Every int
}

// OnStep implements Hook.
func (k *Checkpoint) OnStep(_ context.Context, l *Loop) error {
	if k.Every > 0 && l.State.Step%k.Every == 0 && l.stopped == "" {
		return k.save(l)
	}
	return nil
}

// OnEnd implements Ender.
func (k *Checkpoint) OnEnd(_ context.Context, l *Loop, interrupted bool) error {
	if err := k.save(l); err != nil {
		if interrupted {
			return fmt.Errorf("saving the checkpoint failed: %w", err)
		}
		return err
	}
	return nil
}

func (k *Checkpoint) save(l *Loop) error {
	if k.Path == "" {
		return nil
	}
	st := l.State
	step, extra := l.Optimizer.State(l.Params)
	st.OptStep = step
	for _, p := range l.Best {
		extra = append(extra, &core.Param{Name: "best/" + p.Name, Shape: p.Shape, Data: p.Data})
	}
	m := l.Model
	m.Info.Steps, m.Info.Pairs, m.Info.Seconds = st.Step, st.Pairs, st.Seconds
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return m.SaveCheckpoint(k.Path, raw, extra)
}
