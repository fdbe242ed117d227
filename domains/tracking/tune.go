package tracking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/siamesenet/siamese/core"
)

// String lists the settings that tuning searches.
func (p Params) String() string {
	return fmt.Sprintf("window %.3g, scale step %.4g, scale penalty %.4g, scale lr %.2g, upsample %d, focus %.2g",
		p.WindowInfluence, p.ScaleStep, p.ScalePenalty, p.ScaleLR, p.Upsample, p.Focus)
}

// ParamsOf returns the tracker settings stored in a model (by SetParams,
// after tuning), or the defaults for its geometry.
func ParamsOf(m *core.Model) (Params, error) {
	geo, err := GeometryOf(m)
	if err != nil {
		return Params{}, err
	}
	var p Params
	if len(m.Scoring) > 0 {
		var s scoring
		if err := json.Unmarshal(m.Scoring, &s); err != nil {
			return Params{}, fmt.Errorf("tracker settings in the model: %w", err)
		}
		p = s.Tracker
	}
	return p.withDefaults(geo.Stride), nil
}

// scoring is what a tracking model keeps in Model.Scoring.
type scoring struct {
	Tracker Params `json:"tracker"`
}

// SetParams stores tracker settings in a model (Model.Scoring).
func SetParams(m *core.Model, p Params) error {
	raw, err := json.Marshal(scoring{Tracker: p})
	if err != nil {
		return err
	}
	m.Scoring = raw
	return nil
}

// Trial is one setting tried by Tune: the success AUC on each validation
// sequence and their mean.
type Trial struct {
	Params Params             `json:"params"`
	AUC    map[string]float64 `json:"auc"`
	Mean   float64            `json:"mean"`
}

// Grid is the values Tune tries for each setting, one setting at a time.
var Grid = struct {
	Window, ScaleStep, ScalePenalty, ScaleLR, Focus []float64
	Upsample                                        []int
}{
	Window:       []float64{0.1, 0.176, 0.25, 0.35, 0.45},
	ScaleStep:    []float64{1.02, 1.0375, 1.06},
	ScalePenalty: []float64{0.94, 0.96, 0.9745, 0.99},
	ScaleLR:      []float64{0.3, 0.59, 0.8},
	Focus:        []float64{0.35, 0.5, 0.7},
	Upsample:     []int{2, 4, 8},
}

// Tuned is the outcome of Tune: the chosen settings, their validation
// scores, and every trial.
type Tuned struct {
	Trial
	Trials []Trial `json:"trials"`
}

// Tune chooses the tracker's settings on validation videos only: from
// start (zero fields: the defaults), each setting in turn takes the value
// of Grid that maximises the mean success AUC over the videos with the
// others held (one round of coordinate ascent: about 17 runs over the
// videos); a change must gain over the current choice. report, if set,
// sees every trial.
func Tune(ctx context.Context, m *core.Model, videos []*Video, start Params, report func(Trial)) (Tuned, error) {
	if len(videos) == 0 {
		return Tuned{}, errors.New("tune: no validation sequence (the domain declares them; see option validation)")
	}
	geo, err := GeometryOf(m)
	if err != nil {
		return Tuned{}, err
	}
	cache := map[Params]Trial{}
	var out Tuned
	try := func(p Params) (Trial, error) {
		if t, ok := cache[p]; ok {
			return t, nil
		}
		t := Trial{Params: p, AUC: map[string]float64{}}
		for _, v := range videos {
			run, err := RunTracker(ctx, m, p, v.Frames, v.Boxes)
			if err != nil {
				return Trial{}, fmt.Errorf("tune: %s: %w", v.Name, err)
			}
			t.AUC[v.Name] = run.Scores.SuccessAUC
			t.Mean += run.Scores.SuccessAUC / float64(len(videos))
		}
		cache[p] = t
		out.Trials = append(out.Trials, t)
		if report != nil {
			report(t)
		}
		return t, nil
	}
	best, err := try(start.withDefaults(geo.Stride))
	if err != nil {
		return Tuned{}, err
	}
	floats := func(set func(*Params, float64), values []float64) error {
		for _, v := range values {
			p := best.Params
			set(&p, v)
			t, err := try(p)
			if err != nil {
				return err
			}
			if t.Mean > best.Mean {
				best = t
			}
		}
		return nil
	}
	{
		steps := []func() error{
			func() error { return floats(func(p *Params, v float64) { p.WindowInfluence = v }, Grid.Window) },
			func() error { return floats(func(p *Params, v float64) { p.ScalePenalty = v }, Grid.ScalePenalty) },
			func() error { return floats(func(p *Params, v float64) { p.ScaleStep = v }, Grid.ScaleStep) },
			func() error { return floats(func(p *Params, v float64) { p.ScaleLR = v }, Grid.ScaleLR) },
			func() error { return floats(func(p *Params, v float64) { p.Focus = v }, Grid.Focus) },
			func() error {
				var up []float64
				for _, u := range Grid.Upsample {
					up = append(up, float64(u))
				}
				return floats(func(p *Params, v float64) { p.Upsample = int(v) }, up)
			},
		}
		for _, s := range steps {
			if err := s(); err != nil {
				return Tuned{}, err
			}
		}
	}
	out.Trial = best
	return out, nil
}
