package tracking

import (
	"fmt"
	"image"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"
)

// NCC is the second baseline: the first frame's patch under the initial
// box, found again in each frame by normalised cross-correlation on raw
// gray pixels, searched within the box's width and height around the last
// position. The box keeps its size.
//
// Each frame's correlations come from one FFT of the search region (gonum's
// dsp/fourier) and the patch norms from integral images, so a frame costs
// O(N log N) in the region's N pixels whatever the target's size; it gives
// the positions that trying every offset directly would.
func NCC(frames []*image.Gray, init Box) ([]Box, error) {
	if len(frames) == 0 {
		return nil, fmt.Errorf("no frames")
	}
	w, h := frames[0].Rect.Dx(), frames[0].Rect.Dy()
	if err := CheckInit(init, w, h); err != nil {
		return nil, err
	}
	x0, y0, tw, th, tpl := template(frames[0], init)
	c := newCorrelator(tpl, tw, th, min(w, 3*tw), min(h, 3*th))
	out := []Box{init}
	cx, cy := x0, y0
	for _, f := range frames[1:] {
		cx, cy = c.best(f, cx, cy)
		out = append(out, Box{X: float64(cx), Y: float64(cy), W: init.W, H: init.H})
	}
	return out, nil
}

// template cuts the initial box, clipped to the frame, as a standardised
// patch (zero mean, unit norm) with its top-left corner and size.
func template(f *image.Gray, init Box) (x0, y0, tw, th int, tpl []float64) {
	w, h := f.Rect.Dx(), f.Rect.Dy()
	x0, y0 = clamp(int(math.Round(init.X)), 0, w-1), clamp(int(math.Round(init.Y)), 0, h-1)
	tw, th = clamp(int(math.Round(init.W)), 1, w-x0), clamp(int(math.Round(init.H)), 1, h-y0)
	tpl = make([]float64, tw*th)
	for y := 0; y < th; y++ {
		for x := 0; x < tw; x++ {
			tpl[y*tw+x] = float64(f.Pix[(y0+y)*f.Stride+x0+x])
		}
	}
	standardise(tpl)
	return x0, y0, tw, th, tpl
}

// correlator finds a template in search regions of at most rw×rh pixels
// by FFT: the template's spectrum is computed once.
type correlator struct {
	tw, th  int
	pw, ph  int // FFT sizes
	tplSum  float64
	spec    []complex128 // conjugate spectrum of the zero-padded template
	region  []complex128
	rows    *fourier.CmplxFFT
	cols    *fourier.CmplxFFT
	col     []complex128
	sum, sq []int64 // integral images of the region and of its squares
	iw      int     // their row length
}

func newCorrelator(tpl []float64, tw, th, rw, rh int) *correlator {
	c := &correlator{tw: tw, th: th, pw: fftSize(rw), ph: fftSize(rh)}
	c.rows, c.cols = fourier.NewCmplxFFT(c.pw), fourier.NewCmplxFFT(c.ph)
	c.col = make([]complex128, c.ph)
	c.spec = make([]complex128, c.pw*c.ph)
	for y := 0; y < th; y++ {
		for x := 0; x < tw; x++ {
			c.spec[y*c.pw+x] = complex(tpl[y*tw+x], 0)
			c.tplSum += tpl[y*tw+x]
		}
	}
	c.fft2(c.spec, false)
	for i, v := range c.spec {
		c.spec[i] = complex(real(v), -imag(v))
	}
	c.region = make([]complex128, c.pw*c.ph)
	return c
}

// fftSize is the least n ≥ m of the form 2^a·3^b·5^c, where FFTs are fast.
func fftSize(m int) int {
	for n := max(m, 1); ; n++ {
		k := n
		for _, p := range []int{2, 3, 5} {
			for k%p == 0 {
				k /= p
			}
		}
		if k == 1 {
			return n
		}
	}
}

// fft2 transforms a pw×ph grid in place (inverse: unscaled).
func (c *correlator) fft2(g []complex128, inverse bool) {
	for y := 0; y < c.ph; y++ {
		row := g[y*c.pw : (y+1)*c.pw]
		if inverse {
			c.rows.Sequence(row, row)
		} else {
			c.rows.Coefficients(row, row)
		}
	}
	for x := 0; x < c.pw; x++ {
		for y := 0; y < c.ph; y++ {
			c.col[y] = g[y*c.pw+x]
		}
		if inverse {
			c.cols.Sequence(c.col, c.col)
		} else {
			c.cols.Coefficients(c.col, c.col)
		}
		for y := 0; y < c.ph; y++ {
			g[y*c.pw+x] = c.col[y]
		}
	}
}

// best returns the top-left corner of the best match in f among corners
// within (tw, th) of (cx, cy), scanning rows then columns and keeping the
// first of equal scores, as the direct search does.
func (c *correlator) best(f *image.Gray, cx, cy int) (int, int) {
	w, h := f.Rect.Dx(), f.Rect.Dy()
	xlo, xhi := max(0, cx-c.tw), min(w-c.tw, cx+c.tw)
	ylo, yhi := max(0, cy-c.th), min(h-c.th, cy+c.th)
	if xlo > xhi || ylo > yhi {
		return cx, cy
	}
	rw, rh := xhi-xlo+c.tw, yhi-ylo+c.th
	clear(c.region)
	c.iw = rw + 1
	if n := c.iw * (rh + 1); len(c.sum) < n {
		c.sum, c.sq = make([]int64, n), make([]int64, n)
	}
	clear(c.sum[:c.iw])
	clear(c.sq[:c.iw])
	for y := 0; y < rh; y++ {
		row := f.Pix[(ylo+y)*f.Stride+xlo:]
		var rs, rq int64
		c.sum[(y+1)*c.iw], c.sq[(y+1)*c.iw] = 0, 0
		for x := 0; x < rw; x++ {
			v := int64(row[x])
			c.region[y*c.pw+x] = complex(float64(v), 0)
			rs += v
			rq += v * v
			c.sum[(y+1)*c.iw+x+1] = c.sum[y*c.iw+x+1] + rs
			c.sq[(y+1)*c.iw+x+1] = c.sq[y*c.iw+x+1] + rq
		}
	}
	c.fft2(c.region, false)
	for i := range c.region {
		c.region[i] *= c.spec[i]
	}
	c.fft2(c.region, true)
	scale := 1 / float64(c.pw*c.ph)
	n := int64(c.tw * c.th)
	best, bx, by := math.Inf(-1), cx, cy
	for y := ylo; y <= yhi; y++ {
		for x := xlo; x <= xhi; x++ {
			i, j := x-xlo, y-ylo
			s := c.window(c.sum, i, j)
			q := c.window(c.sq, i, j)
			v := q*n - s*s // n² times the patch's variance, exact
			score := 0.0
			if v > 0 {
				corr := real(c.region[j*c.pw+i])*scale - float64(s)/float64(n)*c.tplSum
				score = corr / (math.Sqrt(float64(v)/float64(n)) + 1e-9)
			}
			if score > best {
				best, bx, by = score, x, y
			}
		}
	}
	return bx, by
}

// window sums an integral image over the template-sized window at (i, j).
func (c *correlator) window(ii []int64, i, j int) int64 {
	a, b := j*c.iw+i, (j+c.th)*c.iw+i
	return ii[b+c.tw] - ii[b] - ii[a+c.tw] + ii[a]
}

// nccDirect is NCC trying every offset directly: the reference the FFT
// search is tested against.
func nccDirect(frames []*image.Gray, init Box) []Box {
	w, h := frames[0].Rect.Dx(), frames[0].Rect.Dy()
	x0, y0, tw, th, tpl := template(frames[0], init)
	out := []Box{init}
	cx, cy := x0, y0
	patch := make([]float64, tw*th)
	for _, f := range frames[1:] {
		best, bx, by := math.Inf(-1), cx, cy
		for y := max(0, cy-th); y <= min(h-th, cy+th); y++ {
			for x := max(0, cx-tw); x <= min(w-tw, cx+tw); x++ {
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
	return out
}
