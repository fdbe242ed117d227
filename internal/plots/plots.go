// Package plots draws the evaluation figures as PNG with gonum/plot: the
// ROC curve and the histograms of genuine and impostor scores.
package plots

import (
	"fmt"
	"image/color"
	"math"

	"github.com/siamesenet/siamese/core/metrics"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// ROC writes the ROC curve (TAR against FAR, FAR on a log axis) to path.
func ROC(path, title string, v *metrics.Verification) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "false accept rate"
	p.Y.Label.Text = "true accept rate"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	minFAR := 1.0
	for _, pt := range v.ROC {
		if pt.FAR > 0 {
			minFAR = math.Min(minFAR, pt.FAR)
		}
	}
	var pts plotter.XYs
	for _, pt := range v.ROC {
		pts = append(pts, plotter.XY{X: math.Max(pt.FAR, minFAR/2), Y: pt.TAR})
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = color.RGBA{R: 200, A: 255}
	p.Add(line, plotter.NewGrid())
	p.Legend.Add(fmt.Sprintf("AUC %.4f, EER %.2f%%", v.AUC, 100*v.EER), line)
	p.Legend.Top, p.Legend.Left = false, false
	p.Y.Min, p.Y.Max = 0, 1
	return p.Save(5*vg.Inch, 4*vg.Inch, path)
}

// Scores writes histograms of the genuine and impostor scores, with the
// threshold, to path.
func Scores(path, title string, scores []float64, same []bool, threshold float64) error {
	var gen, imp plotter.Values
	for i, s := range scores {
		if same[i] {
			gen = append(gen, s)
		} else {
			imp = append(imp, s)
		}
	}
	if len(gen) == 0 || len(imp) == 0 {
		return fmt.Errorf("score histogram needs genuine and impostor scores")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "score"
	p.Y.Label.Text = "share of pairs"
	for _, h := range []struct {
		v    plotter.Values
		name string
		c    color.NRGBA
	}{{imp, "impostor", color.NRGBA{R: 210, G: 40, B: 40, A: 150}}, {gen, "genuine", color.NRGBA{R: 30, G: 140, B: 60, A: 150}}} {
		hist, err := plotter.NewHist(h.v, 40)
		if err != nil {
			return err
		}
		hist.Normalize(1)
		hist.FillColor = h.c
		hist.LineStyle.Width = 0
		p.Add(hist)
		p.Legend.Add(h.name, hist)
	}
	line, err := plotter.NewLine(plotter.XYs{{X: threshold, Y: 0}, {X: threshold, Y: p.Y.Max}})
	if err == nil {
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("threshold %.3f", threshold), line)
	}
	return p.Save(5*vg.Inch, 4*vg.Inch, path)
}

// Curve is one named line of a Curves plot.
type Curve struct {
	Name string
	X, Y []float64
}

// Curves writes lines (for example the OTB success and precision plots of
// several trackers) to path, y in [0,1].
func Curves(path, title, xLabel, yLabel string, curves []Curve) error {
	if len(curves) == 0 {
		return fmt.Errorf("no curve to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	palette := []color.RGBA{{R: 200, A: 255}, {B: 200, A: 255}, {G: 140, A: 255}, {R: 120, G: 120, B: 120, A: 255}, {R: 200, G: 120, A: 255}}
	for i, c := range curves {
		if len(c.X) != len(c.Y) || len(c.X) == 0 {
			return fmt.Errorf("curve %q: %d x for %d y", c.Name, len(c.X), len(c.Y))
		}
		pts := make(plotter.XYs, len(c.X))
		for k := range c.X {
			pts[k] = plotter.XY{X: c.X[k], Y: c.Y[k]}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(c.Name, line)
	}
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = 0, 1
	return p.Save(5*vg.Inch, 4*vg.Inch, path)
}
