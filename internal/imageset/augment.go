package imageset

import (
	"math"
	"math/rand/v2"
)

// Affine is Koch et al.'s random distortion: each of rotation, shear,
// scale and translation is applied with probability 1/2, drawn uniformly
// from the ranges below (translation in pixels of a 105-pixel image,
// scaled to the input).
type Affine struct {
	Rotate    float64 // degrees, ±; default 10
	Shear     float64 // ±; default 0.3
	ScaleLo   float64 // default 0.8
	ScaleHi   float64 // default 1.2
	Translate float64 // pixels at 105×105, ±; default 2
}

// KochAffine is the distortion of the paper.
var KochAffine = Affine{Rotate: 10, Shear: 0.3, ScaleLo: 0.8, ScaleHi: 1.2, Translate: 2}

// Apply returns a distorted copy of x [C,H,W]; pixels mapped from outside
// the image take the value of x's top-left pixel (the background).
func (a Affine) Apply(x []float32, c, h, w int, rng *rand.Rand) []float32 {
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	coin := func() bool { return rng.IntN(2) == 0 }
	theta, shx, shy, sx, sy, tx, ty := 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0
	if coin() {
		theta = u(-a.Rotate, a.Rotate) * math.Pi / 180
	}
	if coin() {
		shx, shy = u(-a.Shear, a.Shear), u(-a.Shear, a.Shear)
	}
	if coin() {
		sx, sy = u(a.ScaleLo, a.ScaleHi), u(a.ScaleLo, a.ScaleHi)
	}
	if coin() {
		k := float64(w) / 105
		tx, ty = u(-a.Translate, a.Translate)*k, u(-a.Translate, a.Translate)*k
	}
	// Forward map M = R·Sh·S about the centre; sample with its inverse.
	cos, sin := math.Cos(theta), math.Sin(theta)
	m00, m01 := cos*sx+(-sin)*shy*sx, cos*shx*sy-sin*sy
	m10, m11 := sin*sx+cos*shy*sx, sin*shx*sy+cos*sy
	det := m00*m11 - m01*m10
	if math.Abs(det) < 1e-6 {
		return append([]float32(nil), x...)
	}
	i00, i01, i10, i11 := m11/det, -m01/det, -m10/det, m00/det
	cx, cy := float64(w-1)/2, float64(h-1)/2
	out := make([]float32, len(x))
	for ch := 0; ch < c; ch++ {
		src := x[ch*h*w : (ch+1)*h*w]
		dst := out[ch*h*w : (ch+1)*h*w]
		bg := src[0]
		for yy := 0; yy < h; yy++ {
			for xx := 0; xx < w; xx++ {
				dx, dy := float64(xx)-cx-tx, float64(yy)-cy-ty
				sxp := i00*dx + i01*dy + cx
				syp := i10*dx + i11*dy + cy
				dst[yy*w+xx] = bilinear(src, h, w, sxp, syp, bg)
			}
		}
	}
	return out
}

func bilinear(src []float32, h, w int, x, y float64, bg float32) float32 {
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	at := func(xx, yy int) float32 {
		if xx < 0 || yy < 0 || xx >= w || yy >= h {
			return bg
		}
		return src[yy*w+xx]
	}
	top := at(x0, y0)*(1-fx) + at(x0+1, y0)*fx
	bot := at(x0, y0+1)*(1-fx) + at(x0+1, y0+1)*fx
	return top*(1-fy) + bot*fy
}

// Photo is the augmentation of photographs (faces): a horizontal flip with
// probability 1/2, a small affine distortion, and a brightness shift.
type Photo struct {
	Affine     Affine
	Brightness float32 // ± shift, in the item's units
}

// FaceAugment is the default augmentation of face images.
var FaceAugment = Photo{Affine: Affine{Rotate: 8, Shear: 0.1, ScaleLo: 0.92, ScaleHi: 1.08, Translate: 3}, Brightness: 0.1}

// Apply implements Augmenter.
func (p Photo) Apply(x []float32, c, h, w int, rng *rand.Rand) []float32 {
	y := p.Affine.Apply(x, c, h, w, rng)
	if rng.IntN(2) == 0 {
		for ch := 0; ch < c; ch++ {
			for r := 0; r < h; r++ {
				row := y[(ch*h+r)*w : (ch*h+r+1)*w]
				for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
					row[i], row[j] = row[j], row[i]
				}
			}
		}
	}
	shift := (2*rng.Float32() - 1) * p.Brightness
	for i := range y {
		y[i] += shift
	}
	return y
}
