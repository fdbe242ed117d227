package tracking

import (
	"context"
	"fmt"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/plots"
)

// Run is one tracker's boxes on a sequence and their scores.
type Run struct {
	Name   string  `json:"name"`
	Boxes  []Box   `json:"-"`
	Scores Scores  `json:"scores"`
	FPS    float64 `json:"fps,omitempty"` // frames per second after decoding (the tracker only)
}

// RunTracker tracks frames from the first ground-truth box and scores the
// result; FPS counts the frames after the first over the time spent in
// the tracker (frames are decoded beforehand).
func RunTracker(ctx context.Context, m *core.Model, p Params, frames []*Image, truth []Box) (Run, error) {
	if len(frames) < 2 || len(truth) < len(frames) {
		return Run{}, fmt.Errorf("%d frames and %d ground-truth boxes: need 2 frames and a box for each", len(frames), len(truth))
	}
	t, err := NewTracker(m, p)
	if err != nil {
		return Run{}, err
	}
	if err := t.Init(ctx, frames[0], truth[0]); err != nil {
		return Run{}, err
	}
	boxes := []Box{truth[0]}
	start := time.Now()
	for i, f := range frames[1:] {
		if err := ctx.Err(); err != nil {
			return Run{}, err
		}
		b, err := t.Update(ctx, f)
		if err != nil {
			return Run{}, fmt.Errorf("frame %d: %w", i+2, err)
		}
		boxes = append(boxes, b)
	}
	fps := float64(len(frames)-1) / time.Since(start).Seconds()
	s, err := Evaluate(boxes, truth[:len(frames)])
	if err != nil {
		return Run{}, err
	}
	return Run{Name: "siamese", Boxes: boxes, Scores: s, FPS: fps}, nil
}

// RunBaselines runs the two reference trackers on a sequence: the first
// box held still, and template matching by normalised cross-correlation.
func RunBaselines(s *Sequence) ([]Run, error) {
	gray, err := Frames(s)
	if err != nil {
		return nil, err
	}
	ncc, err := NCC(gray, s.Boxes[0])
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, r := range []struct {
		name  string
		boxes []Box
	}{{"first box held still", Still(s.Boxes[0], len(gray))}, {"NCC template matching", ncc}} {
		sc, err := Evaluate(r.boxes, s.Boxes)
		if err != nil {
			return nil, err
		}
		runs = append(runs, Run{Name: r.name, Boxes: r.boxes, Scores: sc})
	}
	return runs, nil
}

// SavePlots writes the OTB success plot (success rate against IoU
// threshold) and precision plot (against centre error) of runs as PNG.
func SavePlots(success, precision, title string, runs []Run) error {
	var sc, pc []plots.Curve
	for _, r := range runs {
		c := plots.Curve{Name: fmt.Sprintf("%s [%.3f]", r.Name, r.Scores.SuccessAUC)}
		for k, v := range r.Scores.Success {
			c.X, c.Y = append(c.X, float64(k)/20), append(c.Y, v)
		}
		sc = append(sc, c)
		c = plots.Curve{Name: fmt.Sprintf("%s [%.3f]", r.Name, r.Scores.PrecisionAt)}
		for k, v := range r.Scores.Precision {
			c.X, c.Y = append(c.X, float64(k)), append(c.Y, v)
		}
		pc = append(pc, c)
	}
	if success != "" {
		if err := plots.Curves(success, "success plot: "+title, "overlap (IoU) threshold", "success rate", sc); err != nil {
			return err
		}
	}
	if precision != "" {
		if err := plots.Curves(precision, "precision plot: "+title, "location error threshold (pixels)", "precision", pc); err != nil {
			return err
		}
	}
	return nil
}
