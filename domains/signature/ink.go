package signature

import (
	"errors"
	"fmt"
	"image"
	"image/color"

	"github.com/siamesenet/siamese/core"
	"golang.org/x/image/draw"
)

// ErrNoInk is returned (wrapped, saying why) for a page without ink:
// blank, uniform, or all background after Otsu's threshold.
var ErrNoInk = errors.New("no ink found")

// minInkContrast is how much darker (of 255) ink must be than the paper
// (the faintest of the shared sets, an NFI forgery, is 60 darker):
// Otsu's threshold splits any page in two, and a page of paper shading or
// scanner noise alone splits into two classes of near the same gray.
const minInkContrast = 48

// inkWorkSide bounds the side of the reduced copy on which the ink is
// found: a large scan is averaged down to it first, so the scan itself can
// be dropped at once.
const inkWorkSide = 1024

// PrepareInk is the preprocessing of the input kind "ink", as in SigNet: gray, reduced by area
// averaging, background removed by Otsu's threshold, inverted so that ink is
// bright on zero, cropped to the ink's bounding box, scaled keeping the
// aspect ratio, centred on a zero background, stretched so that the
// strongest ink is 1, then (v − Mean)/Std.
func PrepareInk(img image.Image, pre core.Preprocess) ([]float32, error) {
	g := reduceGray(img, max(inkWorkSide, 2*pre.Width, 2*pre.Height))
	t, ok := otsu(g.Pix)
	if !ok {
		return nil, fmt.Errorf("%w: the page is blank", ErrNoInk)
	}
	// Ink is darker than t; everything else becomes background (0 once
	// inverted). Find the ink's bounding box.
	w, h := g.Rect.Dx(), g.Rect.Dy()
	x0, y0, x1, y1, n := w, h, -1, -1, 0
	var inkSum, paperSum int
	for y := 0; y < h; y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+w]
		for x, v := range row {
			if v <= t {
				inkSum += int(v)
				row[x] = 255 - v
				n++
				x0, x1, y0, y1 = min(x0, x), max(x1, x), min(y0, y), max(y1, y)
			} else {
				paperSum += int(v)
				row[x] = 0
			}
		}
	}
	if n < 8 || n > w*h*3/4 {
		return nil, fmt.Errorf("%w: %d of %d pixels are darker than Otsu's threshold %d", ErrNoInk, n, w*h, t)
	}
	if paper, ink := paperSum/(w*h-n), inkSum/n; paper-ink < minInkContrast {
		return nil, fmt.Errorf("%w: the page is all background after Otsu's threshold (the darker class, gray %d, is within %d of the paper's %d)", ErrNoInk, ink, minInkContrast, paper)
	}
	crop := g.SubImage(image.Rect(x0, y0, x1+1, y1+1))
	cw, ch := x1-x0+1, y1-y0+1
	scale := min(float64(pre.Width)/float64(cw), float64(pre.Height)/float64(ch))
	sw, sh := max(1, int(float64(cw)*scale+0.5)), max(1, int(float64(ch)*scale+0.5))
	dst := image.NewGray(image.Rect(0, 0, pre.Width, pre.Height))
	ox, oy := (pre.Width-sw)/2, (pre.Height-sh)/2
	draw.CatmullRom.Scale(dst, image.Rect(ox, oy, ox+sw, oy+sh), crop, crop.Bounds(), draw.Src, nil)
	// Stretch the contrast so that the strongest ink is 1: thin strokes
	// scaled down several times would otherwise fade.
	peak := uint8(1)
	for _, v := range dst.Pix {
		peak = max(peak, v)
	}
	std := pre.Std
	if std == 0 {
		std = 1
	}
	out := make([]float32, pre.Width*pre.Height)
	for i, v := range dst.Pix {
		out[i] = (float32(v)/float32(peak) - pre.Mean) / std
	}
	return out, nil
}

// reduceGray returns a gray copy of img whose longer side is at most side,
// averaging whole blocks of pixels (so thin strokes survive the reduction).
func reduceGray(img image.Image, side int) *image.Gray {
	b := img.Bounds()
	f := max(1, (max(b.Dx(), b.Dy())+side-1)/side)
	w, h := (b.Dx()+f-1)/f, (b.Dy()+f-1)/f
	sum := make([]uint32, w*h)
	cnt := make([]uint32, w*h)
	lum := luminance(img)
	for y := 0; y < b.Dy(); y++ {
		ro := (y / f) * w
		for x := 0; x < b.Dx(); x++ {
			i := ro + x/f
			sum[i] += uint32(lum(b.Min.X+x, b.Min.Y+y))
			cnt[i]++
		}
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = uint8((sum[i] + cnt[i]/2) / cnt[i])
	}
	return g
}

// luminance returns a fast 8-bit gray reader for the common image types.
func luminance(img image.Image) func(x, y int) uint8 {
	switch m := img.(type) {
	case *image.Gray:
		return func(x, y int) uint8 { return m.Pix[m.PixOffset(x, y)] }
	case *image.RGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
		}
	case *image.NRGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			// Transparent pixels are paper.
			a := uint32(p[3])
			l := (19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16
			return uint8((l*a + 255*(255-a)) / 255)
		}
	case *image.YCbCr:
		return func(x, y int) uint8 { return m.Y[m.YOffset(x, y)] }
	case *image.Paletted:
		// A palette scan (a TIFF or GIF in palette mode): each index's gray
		// on white paper, once; indices beyond the palette are paper.
		var lut [256]uint8
		for i := range lut {
			lut[i] = 255
			if i < len(m.Palette) {
				r, g, b, a := m.Palette[i].RGBA()
				r, g, b = r+0xffff-a, g+0xffff-a, b+0xffff-a
				lut[i] = uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 24)
			}
		}
		return func(x, y int) uint8 { return lut[m.Pix[m.PixOffset(x, y)]] }
	}
	return func(x, y int) uint8 { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y }
}

// otsu returns Otsu's threshold of 8-bit values (values ≤ t are the dark
// class) and false when the values are too uniform to split (a blank page).
func otsu(pix []uint8) (uint8, bool) {
	var hist [256]float64
	lo, hi := 255, 0
	for _, v := range pix {
		hist[v]++
		lo, hi = min(lo, int(v)), max(hi, int(v))
	}
	if hi-lo < 48 {
		return 0, false
	}
	total := float64(len(pix))
	var sumAll float64
	for i, c := range hist {
		sumAll += float64(i) * c
	}
	var wB, sumB, best float64
	t := 0
	for i := 0; i < 255; i++ {
		wB += hist[i]
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(i) * hist[i]
		mB, mF := sumB/wB, (sumAll-sumB)/wF
		if v := wB * wF * (mB - mF) * (mB - mF); v > best {
			best, t = v, i
		}
	}
	return uint8(t), true
}
