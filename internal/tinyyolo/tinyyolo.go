// Package tinyyolo is the Tiny-YOLOv2 detector with depthwise-separable
// convolutions that face-api.js ships as its tiny face detector: a 3×3
// convolution, five separable blocks with 2×2 max-pools between them, and a
// 1×1 convolution giving five anchor boxes per cell of a 13×13 grid (at a
// 416-pixel input). It runs inference only, in plain Go over float32 with
// the project's matrix product: nothing here trains, so it needs no graph.
package tinyyolo

import (
	"fmt"
	"image"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/siamesenet/siamese/internal/gemm"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/tfjs"
)

// Net is a loaded detector.
type Net struct {
	conv0   conv
	blocks  []separable
	head    conv // 1×1, 5 values per anchor
	Anchors [][2]float64
	MeanRGB [3]float64
}

type conv struct {
	w    []float32 // [F, C·K·K]
	b    []float32
	f, c int
	k    int
}

type separable struct {
	dw   []float32 // [C, 9]
	pw   []float32 // [F, C]
	b    []float32
	c, f int
}

// Box is one detection, in the pixels of the image it was found in.
type Box struct {
	X, Y, W, H float64
	Score      float64
}

// Rect is the box rounded to whole pixels.
func (b Box) Rect() image.Rectangle {
	return image.Rect(int(math.Round(b.X)), int(math.Round(b.Y)), int(math.Round(b.X+b.W)), int(math.Round(b.Y+b.H)))
}

// FaceDetector is face-api.js's tiny_face_detector_model.
const FaceDetector = "tiny_face_detector_model"

// Face-api.js's anchors and mean for its face detector.
var (
	faceAnchors = [][2]float64{{1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061}, {4.266906, 5.178857}, {9.041765, 10.66308}}
	faceMean    = [3]float64{117.001, 114.697, 97.404}
)

// LoadFace builds face-api.js's tiny face detector from its weights.
func LoadFace(w tfjs.Weights) (*Net, error) {
	n := &Net{Anchors: faceAnchors, MeanRGB: faceMean}
	var err error
	if n.conv0, err = loadConv(w, "conv0", 3, 3, 16); err != nil {
		return nil, err
	}
	widths := []int{16, 32, 64, 128, 256, 512}
	for i := 1; i < len(widths); i++ {
		s, err := loadSeparable(w, fmt.Sprintf("conv%d", i), widths[i-1], widths[i])
		if err != nil {
			return nil, err
		}
		n.blocks = append(n.blocks, s)
	}
	if n.head, err = loadConv(w, "conv8", 1, 512, 5*len(n.Anchors)); err != nil {
		return nil, err
	}
	return n, nil
}

func loadConv(w tfjs.Weights, prefix string, k, c, f int) (conv, error) {
	fl, err := w.Get(prefix+"/filters", k, k, c, f)
	if err != nil {
		return conv{}, err
	}
	b, err := w.Get(prefix+"/bias", f)
	if err != nil {
		return conv{}, err
	}
	cv := conv{w: make([]float32, f*c*k*k), b: b.Data, f: f, c: c, k: k}
	for o := 0; o < f; o++ {
		for ci := 0; ci < c; ci++ {
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					cv.w[o*c*k*k+(ci*k+ky)*k+kx] = fl.Data[((ky*k+kx)*c+ci)*f+o]
				}
			}
		}
	}
	return cv, nil
}

func loadSeparable(w tfjs.Weights, prefix string, c, f int) (separable, error) {
	dw, err := w.Get(prefix+"/depthwise_filter", 3, 3, c, 1)
	if err != nil {
		return separable{}, err
	}
	pw, err := w.Get(prefix+"/pointwise_filter", 1, 1, c, f)
	if err != nil {
		return separable{}, err
	}
	b, err := w.Get(prefix+"/bias", f)
	if err != nil {
		return separable{}, err
	}
	s := separable{dw: make([]float32, c*9), pw: make([]float32, f*c), b: b.Data, c: c, f: f}
	for ci := 0; ci < c; ci++ {
		for k := 0; k < 9; k++ {
			s.dw[ci*9+k] = dw.Data[k*c+ci]
		}
		for o := 0; o < f; o++ {
			s.pw[o*c+ci] = pw.Data[ci*f+o]
		}
	}
	return s, nil
}

// Options tune Detect.
type Options struct {
	InputSize      int     // a multiple of 32 (default 416)
	ScoreThreshold float64 // default 0.5
	IoUThreshold   float64 // non-maximum suppression (default 0.4)
}

func (o Options) withDefaults() Options {
	if o.InputSize == 0 {
		o.InputSize = 416
	}
	if o.ScoreThreshold == 0 {
		o.ScoreThreshold = 0.5
	}
	if o.IoUThreshold == 0 {
		o.IoUThreshold = 0.4
	}
	return o
}

// Detect finds the objects in img, best first, as face-api.js does: the
// image padded at the bottom or right to a square, resized (bilinear) to
// the input size, boxes decoded from the anchors, then non-maximum
// suppression.
func (n *Net) Detect(img image.Image, o Options) ([]Box, error) {
	o = o.withDefaults()
	if o.InputSize%32 != 0 || o.InputSize < 32 || o.InputSize > 1024 {
		return nil, fmt.Errorf("detector input size %d: want a multiple of 32 up to 1024", o.InputSize)
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("empty image")
	}
	x := Input(img, o.InputSize)
	for c := 0; c < 3; c++ {
		plane := x[c*o.InputSize*o.InputSize : (c+1)*o.InputSize*o.InputSize]
		for i := range plane {
			plane[i] = (plane[i] - float32(n.MeanRGB[c])) / 255
		}
	}
	out, cells := n.Forward(x, o.InputSize)
	side := float64(max(b.Dx(), b.Dy()))
	scale := float64(o.InputSize) / side
	rw, rh := math.Round(float64(b.Dx())*scale), math.Round(float64(b.Dy())*scale)
	cx, cy := float64(o.InputSize)/rw, float64(o.InputSize)/rh
	var boxes []Box
	na := len(n.Anchors)
	at := func(ch, row, col int) float64 { return float64(out[(ch*cells+row)*cells+col]) }
	for row := 0; row < cells; row++ {
		for col := 0; col < cells; col++ {
			for a := 0; a < na; a++ {
				score := sigmoid(at(a*5+4, row, col))
				if score <= o.ScoreThreshold {
					continue
				}
				ctx := (float64(col) + sigmoid(at(a*5, row, col))) / float64(cells) * cx
				cty := (float64(row) + sigmoid(at(a*5+1, row, col))) / float64(cells) * cy
				w := math.Exp(at(a*5+2, row, col)) * n.Anchors[a][0] / float64(cells) * cx
				h := math.Exp(at(a*5+3, row, col)) * n.Anchors[a][1] / float64(cells) * cy
				bx := Box{X: (ctx - w/2) * float64(b.Dx()), Y: (cty - h/2) * float64(b.Dy()), W: w * float64(b.Dx()), H: h * float64(b.Dy()), Score: score}
				bx.X += float64(b.Min.X)
				bx.Y += float64(b.Min.Y)
				boxes = append(boxes, bx)
			}
		}
	}
	return Suppress(boxes, o.IoUThreshold), nil
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// Suppress keeps the best-scoring boxes that overlap no better one by more
// than iou (non-maximum suppression), best first.
func Suppress(boxes []Box, iou float64) []Box {
	sort.SliceStable(boxes, func(i, j int) bool { return boxes[i].Score > boxes[j].Score })
	var keep []Box
	for _, b := range boxes {
		ok := true
		for _, k := range keep {
			if IoU(b, k) > iou {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, b)
		}
	}
	return keep
}

// IoU is the intersection over union of two boxes.
func IoU(a, b Box) float64 {
	w := math.Max(0, math.Min(a.X+a.W, b.X+b.W)-math.Max(a.X, b.X))
	h := math.Max(0, math.Min(a.Y+a.H, b.Y+b.H)-math.Max(a.Y, b.Y))
	in := w * h
	return in / (a.W*a.H + b.W*b.H - in)
}

// Input is img as the detector sees it before normalisation: padded with
// black at the bottom or right to a square, resized to size×size as
// TensorFlow's resizeBilinear does (no corner alignment, no half-pixel
// centres), RGB planes of 0–255 values [3, size, size]. Only the pixels
// sampled are read, so a large photo costs no more memory than its image.
func Input(img image.Image, size int) []float32 {
	b := img.Bounds()
	side := max(b.Dx(), b.Dy())
	scale := float64(side) / float64(size)
	out := make([]float32, 3*size*size)
	at := imageset.RGBAt(img)
	px := func(x, y int) [3]float32 {
		if x >= b.Dx() || y >= b.Dy() {
			return [3]float32{}
		}
		return at(b.Min.X+x, b.Min.Y+y)
	}
	for oy := 0; oy < size; oy++ {
		sy := float64(oy) * scale
		y0 := int(sy)
		y1 := min(y0+1, side-1)
		fy := float32(sy - float64(y0))
		for ox := 0; ox < size; ox++ {
			sx := float64(ox) * scale
			x0 := int(sx)
			x1 := min(x0+1, side-1)
			fx := float32(sx - float64(x0))
			p00, p01, p10, p11 := px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1)
			for c := 0; c < 3; c++ {
				top := p00[c] + (p01[c]-p00[c])*fx
				bot := p10[c] + (p11[c]-p10[c])*fx
				out[(c*size+oy)*size+ox] = top + (bot-top)*fy
			}
		}
	}
	return out
}

// Forward runs the network on a normalised input [3, size, size] and
// returns the head's output [5·anchors, cells, cells] and the cells.
func (n *Net) Forward(x []float32, size int) ([]float32, int) {
	h := size
	y := n.conv0.apply(x, h, h, 0) // valid
	h -= 2
	Channels(n.conv0.f, func(f int) { leaky(y[f*h*h : (f+1)*h*h]) })
	y, h = maxPool(y, n.conv0.f, h, 2)
	for i, s := range n.blocks {
		y = s.apply(y, h)
		if i < len(n.blocks)-1 {
			y, h = maxPool(y, s.f, h, 2)
		} else {
			y, h = maxPool(y, s.f, h, 1)
		}
	}
	return n.head.apply(y, h, h, 0), h
}

func leaky(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0.1 * v
		}
	}
}

// apply is a stride-1 convolution with pad zeros on every side, plus bias:
// im2col, then one matrix product per input.
func (c conv) apply(x []float32, h, w, pad int) []float32 {
	oh, ow := h+2*pad-c.k+1, w+2*pad-c.k+1
	p := oh * ow
	ckk := c.c * c.k * c.k
	col := x
	if c.k > 1 || pad > 0 {
		col = make([]float32, ckk*p)
		for ci := 0; ci < c.c; ci++ {
			for ky := 0; ky < c.k; ky++ {
				for kx := 0; kx < c.k; kx++ {
					row := col[((ci*c.k+ky)*c.k+kx)*p:][:p]
					if pad == 0 {
						for oy := 0; oy < oh; oy++ {
							copy(row[oy*ow:(oy+1)*ow], x[(ci*h+oy+ky)*w+kx:])
						}
						continue
					}
					for oy := 0; oy < oh; oy++ {
						iy := oy + ky - pad
						for ox := 0; ox < ow; ox++ {
							ix := ox + kx - pad
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								row[oy*ow+ox] = x[(ci*h+iy)*w+ix]
							}
						}
					}
				}
			}
		}
	}
	out := make([]float32, c.f*p)
	for f := 0; f < c.f; f++ {
		for i := range out[f*p : (f+1)*p] {
			out[f*p+i] = c.b[f]
		}
	}
	gemm.Sgemm(false, false, c.f, p, ckk, 1, c.w, ckk, col, p, 1, out, p)
	return out
}

// apply is the separable block: pad 1, depthwise 3×3, pointwise 1×1, bias,
// leaky ReLU.
func (s separable) apply(x []float32, h int) []float32 {
	p := h * h
	dw := make([]float32, s.c*p)
	Channels(s.c, func(ci int) { depthwise3(x[ci*p:(ci+1)*p], dw[ci*p:(ci+1)*p], s.dw[ci*9:(ci+1)*9], h) })
	out := make([]float32, s.f*p)
	for f := 0; f < s.f; f++ {
		for i := range out[f*p : (f+1)*p] {
			out[f*p+i] = s.b[f]
		}
	}
	gemm.Sgemm(false, false, s.f, p, s.c, 1, s.pw, s.c, dw, p, 1, out, p)
	Channels(s.f, func(f int) { leaky(out[f*p : (f+1)*p]) })
	return out
}

// Channels runs fn for every channel, split across cores (the detectors
// of this package and of internal/ssd share it).
func Channels(n int, fn func(c int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := wk; c < n; c += workers {
				fn(c)
			}
		}()
	}
	wg.Wait()
}

// depthwise3 is a 3×3 convolution of one h×h plane with one zero pixel of
// padding all round: the interior without bounds checks, the border with.
func depthwise3(in, out, k []float32, h int) {
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	at := func(y, x int) float32 {
		if y < 0 || y >= h || x < 0 || x >= h {
			return 0
		}
		return in[y*h+x]
	}
	edge := func(y, x int) float32 {
		return at(y-1, x-1)*k0 + at(y-1, x)*k1 + at(y-1, x+1)*k2 +
			at(y, x-1)*k3 + at(y, x)*k4 + at(y, x+1)*k5 +
			at(y+1, x-1)*k6 + at(y+1, x)*k7 + at(y+1, x+1)*k8
	}
	for y := 0; y < h; y++ {
		if y == 0 || y == h-1 {
			for x := 0; x < h; x++ {
				out[y*h+x] = edge(y, x)
			}
			continue
		}
		out[y*h] = edge(y, 0)
		out[y*h+h-1] = edge(y, h-1)
		r0, r1, r2, o := in[(y-1)*h:y*h], in[y*h:(y+1)*h], in[(y+1)*h:(y+2)*h], out[y*h:(y+1)*h]
		for x := 1; x < h-1; x++ {
			o[x] = r0[x-1]*k0 + r0[x]*k1 + r0[x+1]*k2 + r1[x-1]*k3 + r1[x]*k4 + r1[x+1]*k5 + r2[x-1]*k6 + r2[x]*k7 + r2[x+1]*k8
		}
	}
}

// maxPool is TensorFlow's 2×2 max-pool with "same" padding at the given
// stride: the output side is ⌈h/stride⌉ and windows past the edge take the
// maximum of what they cover.
func maxPool(x []float32, c, h, stride int) ([]float32, int) {
	oh := (h + stride - 1) / stride
	out := make([]float32, c*oh*oh)
	Channels(c, func(ci int) {
		in := x[ci*h*h : (ci+1)*h*h]
		o := out[ci*oh*oh : (ci+1)*oh*oh]
		for oy := 0; oy < oh; oy++ {
			y0, y1 := oy*stride, min(oy*stride+1, h-1) // a window past the edge repeats the last row or column
			r0, r1 := in[y0*h:(y0+1)*h], in[y1*h:(y1+1)*h]
			for ox := 0; ox < oh; ox++ {
				x0, x1 := ox*stride, min(ox*stride+1, h-1)
				o[oy*oh+ox] = max(max(r0[x0], r0[x1]), max(r1[x0], r1[x1]))
			}
		}
	})
	return out, oh
}
