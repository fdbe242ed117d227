package tracking

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Scores are the OTB one-pass metrics of a run.
type Scores struct {
	Frames      int       `json:"frames"`
	SuccessAUC  float64   `json:"success_auc"`  // mean success rate over IoU thresholds 0, 0.05, …, 1
	PrecisionAt float64   `json:"precision_20"` // share of frames with centre error ≤ 20 px
	Success     []float64 `json:"success"`      // success rate at each of the 21 thresholds
	Precision   []float64 `json:"precision"`    // precision at centre errors 0…50 px
}

// Evaluate scores predicted boxes against the ground truth, frame by
// frame. Frames whose ground truth is absent (Box.Absent) are left out;
// Frames counts those scored.
func Evaluate(pred, truth []Box) (Scores, error) {
	if len(pred) != len(truth) || len(pred) == 0 {
		return Scores{}, fmt.Errorf("%d predicted boxes for %d ground-truth boxes", len(pred), len(truth))
	}
	s := Scores{Success: make([]float64, 21), Precision: make([]float64, 51)}
	for i := range pred {
		if truth[i].Absent() {
			continue
		}
		s.Frames++
		iou := IoU(pred[i], truth[i])
		for k := range s.Success {
			if iou > float64(k)/20 {
				s.Success[k]++
			}
		}
		px, py := pred[i].Center()
		tx, ty := truth[i].Center()
		d := math.Hypot(px-tx, py-ty)
		for k := range s.Precision {
			if d <= float64(k) {
				s.Precision[k]++
			}
		}
	}
	if s.Frames == 0 {
		return Scores{}, fmt.Errorf("the target is absent from all %d frames: nothing to score", len(truth))
	}
	n := float64(s.Frames)
	for k := range s.Success {
		s.Success[k] /= n
		s.SuccessAUC += s.Success[k] / float64(len(s.Success))
	}
	for k := range s.Precision {
		s.Precision[k] /= n
	}
	s.PrecisionAt = s.Precision[20]
	return s, nil
}

// Frames decodes every frame of a sequence as gray, checking that all
// have the first frame's size.
func Frames(s *Sequence) ([]*image.Gray, error) {
	out := make([]*image.Gray, len(s.Frames))
	for i := range s.Frames {
		img, err := s.Frame(i)
		if err != nil {
			return nil, err
		}
		g := image.NewGray(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
		b := img.Bounds()
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				g.Pix[y*g.Stride+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
		if i > 0 && g.Rect != out[0].Rect {
			return nil, fmt.Errorf("%s: frame of %d×%d pixels, the first is %d×%d", s.Source.Where(s.Frames[i]), b.Dx(), b.Dy(), out[0].Rect.Dx(), out[0].Rect.Dy())
		}
		out[i] = g
	}
	return out, nil
}

// Still is the first baseline: the first box, held in every frame.
func Still(init Box, n int) []Box {
	out := make([]Box, n)
	for i := range out {
		out[i] = init
	}
	return out
}

func standardise(v []float64) {
	var m, s float64
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	s = math.Sqrt(s) + 1e-9
	for i := range v {
		v[i] = (v[i] - m) / s
	}
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }
