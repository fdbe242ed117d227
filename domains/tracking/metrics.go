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

// Evaluate scores predicted boxes against the ground truth, frame by frame.
func Evaluate(pred, truth []Box) (Scores, error) {
	if len(pred) != len(truth) || len(pred) == 0 {
		return Scores{}, fmt.Errorf("%d predicted boxes for %d ground-truth boxes", len(pred), len(truth))
	}
	s := Scores{Frames: len(pred), Success: make([]float64, 21), Precision: make([]float64, 51)}
	for i := range pred {
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
	n := float64(len(pred))
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

// NCC is the second baseline: the first frame's patch under the initial
// box, found again in each frame by normalised cross-correlation on raw
// gray pixels, searched within twice the box's size around the last
// position. The box keeps its size.
func NCC(frames []*image.Gray, init Box) ([]Box, error) {
	if len(frames) == 0 {
		return nil, fmt.Errorf("no frames")
	}
	w, h := frames[0].Rect.Dx(), frames[0].Rect.Dy()
	if err := CheckInit(init, w, h); err != nil {
		return nil, err
	}
	// The template, clipped to the frame.
	x0, y0 := clamp(int(math.Round(init.X)), 0, w-1), clamp(int(math.Round(init.Y)), 0, h-1)
	tw, th := clamp(int(math.Round(init.W)), 1, w-x0), clamp(int(math.Round(init.H)), 1, h-y0)
	tpl := make([]float64, tw*th)
	for y := 0; y < th; y++ {
		for x := 0; x < tw; x++ {
			tpl[y*tw+x] = float64(frames[0].Pix[(y0+y)*frames[0].Stride+x0+x])
		}
	}
	standardise(tpl)
	out := []Box{init}
	cx, cy := x0, y0
	patch := make([]float64, tw*th)
	for _, f := range frames[1:] {
		best, bx, by := math.Inf(-1), cx, cy
		rx, ry := tw, th
		for y := max(0, cy-ry); y <= min(h-th, cy+ry); y++ {
			for x := max(0, cx-rx); x <= min(w-tw, cx+rx); x++ {
				for j := 0; j < th; j++ {
					row := f.Pix[(y+j)*f.Stride+x : (y+j)*f.Stride+x+tw]
					for i, v := range row {
						patch[j*tw+i] = float64(v)
					}
				}
				standardise(patch)
				var s float64
				for i, v := range patch {
					s += v * tpl[i]
				}
				if s > best {
					best, bx, by = s, x, y
				}
			}
		}
		cx, cy = bx, by
		out = append(out, Box{X: float64(bx), Y: float64(by), W: init.W, H: init.H})
	}
	return out, nil
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
