package tracking

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/siamesenet/siamese/internal/imageset"
)

// Image is a decoded RGB frame, 8 bits per channel, interleaved, with its
// mean colour (the padding of crops that leave the frame).
type Image struct {
	W, H int
	Pix  []uint8 // len 3·W·H
	Mean [3]float32
}

// NewImage converts a decoded image to RGB.
func NewImage(img image.Image) *Image {
	b := img.Bounds()
	im := &Image{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	switch src := img.(type) {
	case *image.YCbCr:
		for y := 0; y < im.H; y++ {
			for x := 0; x < im.W; x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				o := 3 * (y*im.W + x)
				im.Pix[o], im.Pix[o+1], im.Pix[o+2] = r, g, bl
			}
		}
	case *image.Gray:
		for y := 0; y < im.H; y++ {
			for x := 0; x < im.W; x++ {
				v := src.Pix[(y)*src.Stride+x]
				o := 3 * (y*im.W + x)
				im.Pix[o], im.Pix[o+1], im.Pix[o+2] = v, v, v
			}
		}
	default:
		for y := 0; y < im.H; y++ {
			for x := 0; x < im.W; x++ {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				o := 3 * (y*im.W + x)
				im.Pix[o], im.Pix[o+1], im.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
		}
	}
	var sum [3]float64
	for i, v := range im.Pix {
		sum[i%3] += float64(v)
	}
	for c := range sum {
		im.Mean[c] = float32(sum[c] / float64(im.W*im.H) / 255)
	}
	return im
}

// Crop samples the square of side side (pixels) centred on (cx, cy) into
// dst [3,out,out] (channel planes, values in [0,1]); what lies outside
// the frame takes the mean colour. A square much larger than out is
// averaged over up to 4×4 samples per pixel rather than aliased.
func (im *Image) Crop(cx, cy, side float64, out int, dst []float32) {
	step := side / float64(out)
	k := min(4, max(1, int(math.Ceil(step-0.25))))
	x0, y0 := cx-side/2, cy-side/2
	plane := out * out
	inv := 1 / float32(255*k*k)
	for i := 0; i < out; i++ {
		for j := 0; j < out; j++ {
			var acc [3]float32
			for a := 0; a < k; a++ {
				for b := 0; b < k; b++ {
					// centre of the sub-sample, in frame pixel coordinates
					y := y0 + (float64(i)+(float64(a)+0.5)/float64(k))*step - 0.5
					x := x0 + (float64(j)+(float64(b)+0.5)/float64(k))*step - 0.5
					im.sample(x, y, &acc)
				}
			}
			for c := 0; c < 3; c++ {
				dst[c*plane+i*out+j] = acc[c] * inv
			}
		}
	}
}

// Standardize rescales each channel plane of a [3,plane] crop to zero mean
// and unit variance, so that a dim or low-contrast scene gives the tower
// the same input as a bright one. Every crop the tracker and its training
// see goes through it.
func Standardize(x []float32, plane int) {
	for c := 0; c < 3; c++ {
		p := x[c*plane : (c+1)*plane]
		var m, v float64
		for _, a := range p {
			m += float64(a)
		}
		m /= float64(plane)
		for _, a := range p {
			v += (float64(a) - m) * (float64(a) - m)
		}
		s := 1 / math.Sqrt(v/float64(plane)+1e-4)
		for k, a := range p {
			p[k] = float32((float64(a) - m) * s)
		}
	}
}

// sample adds the bilinear sample at (x, y) (0..255 per channel; the mean
// colour outside the frame) into acc.
func (im *Image) sample(x, y float64, acc *[3]float32) {
	if x < -0.5 || y < -0.5 || x > float64(im.W)-0.5 || y > float64(im.H)-0.5 {
		for c := range acc {
			acc[c] += im.Mean[c] * 255
		}
		return
	}
	x, y = max(0, min(x, float64(im.W-1))), max(0, min(y, float64(im.H-1)))
	xi, yi := int(x), int(y)
	fx, fy := float32(x-float64(xi)), float32(y-float64(yi))
	x1, y1 := min(xi+1, im.W-1), min(yi+1, im.H-1)
	p00, p01 := 3*(yi*im.W+xi), 3*(yi*im.W+x1)
	p10, p11 := 3*(y1*im.W+xi), 3*(y1*im.W+x1)
	for c := 0; c < 3; c++ {
		top := float32(im.Pix[p00+c])*(1-fx) + float32(im.Pix[p01+c])*fx
		bot := float32(im.Pix[p10+c])*(1-fx) + float32(im.Pix[p11+c])*fx
		acc[c] += top*(1-fy) + bot*fy
	}
}

// ContextSide is the side of SiamFC's exemplar square around box b: the
// box with a margin p = (w+h)/4 on each side, made square of the same area,
// √((w+2p)(h+2p)).
func ContextSide(b Box) float64 {
	p := (b.W + b.H) / 4
	return math.Sqrt((b.W + 2*p) * (b.H + 2*p))
}

// Images decodes every frame of a sequence to RGB, one per core, checking
// that all have the first frame's size.
func Images(s *Sequence) ([]*Image, error) {
	out := make([]*Image, len(s.Frames))
	errs := make([]error, len(s.Frames))
	imageset.Each(len(s.Frames), func(i int) {
		img, err := s.Frame(i)
		if err != nil {
			errs[i] = err
			return
		}
		out[i] = NewImage(img)
	})
	for i, err := range errs {
		if err != nil {
			return nil, err
		}
		if out[i].W != out[0].W || out[i].H != out[0].H {
			return nil, fmt.Errorf("%s: frame of %d×%d pixels, the first is %d×%d", s.Source.Where(s.Frames[i]), out[i].W, out[i].H, out[0].W, out[0].H)
		}
	}
	return out, nil
}

// OpenAll finds the sequences of p: a sequence folder or zip, or a folder
// of them (every zip in it and every sequence folder under it). Close the
// returned closer when done.
func OpenAll(p string) ([]*Sequence, func(), error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open sequences: %w", err)
	}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	var seqs []*Sequence
	if st.IsDir() {
		zips, _ := filepath.Glob(filepath.Join(p, "*.zip"))
		for _, z := range zips {
			s, src, err := Open(z)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			closers = append(closers, func() { src.Close() })
			seqs = append(seqs, s...)
		}
		if len(zips) > 0 {
			// Sequence folders beside the zips, if any.
			if s, src, err := Open(p); err == nil {
				closers = append(closers, func() { src.Close() })
				seqs = append(seqs, s...)
			}
			return seqs, closeAll, nil
		}
	}
	s, src, err := Open(p)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { src.Close() }, nil
}

// Find returns the sequence named name (case-insensitive).
func Find(seqs []*Sequence, name string) (*Sequence, error) {
	var names []string
	for _, s := range seqs {
		if strings.EqualFold(s.Name, name) {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return nil, fmt.Errorf("no sequence %q (have %s)", name, strings.Join(names, ", "))
}
