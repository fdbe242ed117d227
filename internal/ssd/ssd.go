// Package ssd is the SSD MobileNetV1 face detector that face-api.js ships
// (ssd_mobilenetv1_model, the TensorFlow Object Detection API's network):
// a MobileNetV1 backbone of 13 depthwise-separable pairs on a 512×512
// input, eight more convolutions down to 1×1, and six box predictors (at
// 32², 16², 8², 4², 2² and 1² cells) scoring 5,118 anchor boxes, decoded
// and thinned by non-maximum suppression. It runs inference only, in plain
// Go over float32 with the project's matrix product, as internal/tinyyolo
// does for the tiny detector; it is slower than that one and finds faces
// it misses (tight crops, small or turned faces).
package ssd

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sync"

	"github.com/siamesenet/siamese/internal/gemm"
	"github.com/siamesenet/siamese/internal/tfjs"
	"github.com/siamesenet/siamese/internal/tinyyolo"
)

// Model is the file name face-api.js gives the detector's weights.
const Model = "ssd_mobilenetv1_model"

// InputSize is the side of the square the network sees.
const InputSize = 512

// Anchors is how many boxes the network scores.
const Anchors = 5118

// Net is a loaded detector.
type Net struct {
	conv0   conv
	pairs   [13]pair
	extra   [8]conv // the prediction layer's convolutions after the backbone
	box     [6]conv // box encodings: 4 values per anchor
	class   [6]conv // class logits: 3 per anchor (background, face, unused)
	anchors []float32
}

// conv is a k×k convolution plus bias; relu6 clips its output to [0, 6].
type conv struct {
	w      []float32 // [F, C·K·K]
	b      []float32
	f, c   int
	k      int
	stride int
	relu6  bool
}

// pair is a depthwise 3×3 convolution with batch norm and relu6, then a
// pointwise one with its bias and relu6.
type pair struct {
	dw     []float32 // [C, 9], batch norm's scale folded in
	shift  []float32 // per channel: batch norm's shift
	c      int
	stride int
	pw     conv
}

const epsilon = 0.0010000000474974513 // face-api.js's batch norm epsilon

// Load builds the detector from its weights, checking every tensor's shape.
func Load(w tfjs.Weights) (*Net, error) {
	n := &Net{}
	var err error
	if n.conv0, err = loadConv(w, "MobilenetV1/Conv2d_0_pointwise/weights", "MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset", 3, 3, 32, 2, true); err != nil {
		return nil, err
	}
	widths := []int{32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024}
	for i := 1; i <= 13; i++ {
		stride := 1
		if i == 2 || i == 4 || i == 6 || i == 12 {
			stride = 2
		}
		if n.pairs[i-1], err = loadPair(w, i, widths[i-1], widths[i], stride); err != nil {
			return nil, err
		}
	}
	// The prediction layer: 1×1 then 3×3 stride 2, four times.
	extra := []struct{ k, c, f int }{{1, 1024, 256}, {3, 256, 512}, {1, 512, 128}, {3, 128, 256}, {1, 256, 128}, {3, 128, 256}, {1, 256, 64}, {3, 64, 128}}
	for i, e := range extra {
		p := fmt.Sprintf("Prediction/Conv2d_%d_pointwise/", i)
		if n.extra[i], err = loadConv(w, p+"weights", p+"convolution_bn_offset", e.k, e.c, e.f, 1+i%2, true); err != nil {
			return nil, err
		}
	}
	// Box predictors on conv11 (512), the backbone (1024) and the odd
	// extra layers (512, 256, 256, 128); 3 anchors a cell at the first,
	// 6 at the others.
	ins := []int{512, 1024, 512, 256, 256, 128}
	for i, c := range ins {
		a := 6
		if i == 0 {
			a = 3
		}
		p := fmt.Sprintf("Prediction/BoxPredictor_%d/", i)
		if n.box[i], err = loadConv(w, p+"BoxEncodingPredictor/weights", p+"BoxEncodingPredictor/biases", 1, c, 4*a, 1, false); err != nil {
			return nil, err
		}
		if n.class[i], err = loadConv(w, p+"ClassPredictor/weights", p+"ClassPredictor/biases", 1, c, 3*a, 1, false); err != nil {
			return nil, err
		}
	}
	anchors, err := w.Get("Output/extra_dim", 1, Anchors, 4)
	if err != nil {
		return nil, err
	}
	n.anchors = anchors.Data
	return n, nil
}

func loadConv(w tfjs.Weights, filters, bias string, k, c, f, stride int, relu6 bool) (conv, error) {
	fl, err := w.Get(filters, k, k, c, f)
	if err != nil {
		return conv{}, err
	}
	b, err := w.Get(bias, f)
	if err != nil {
		return conv{}, err
	}
	cv := conv{w: make([]float32, f*c*k*k), b: b.Data, f: f, c: c, k: k, stride: stride, relu6: relu6}
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

func loadPair(w tfjs.Weights, i, c, f, stride int) (pair, error) {
	p := fmt.Sprintf("MobilenetV1/Conv2d_%d_depthwise/", i)
	dw, err := w.Get(p+"depthwise_weights", 3, 3, c, 1)
	if err != nil {
		return pair{}, err
	}
	var bn [4]tfjs.Tensor
	for k, name := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
		if bn[k], err = w.Get(p+"BatchNorm/"+name, c); err != nil {
			return pair{}, err
		}
	}
	out := pair{dw: make([]float32, c*9), shift: make([]float32, c), c: c, stride: stride}
	for ci := 0; ci < c; ci++ {
		// (x − mean)/√(var + ε)·γ + β = x·s + (β − mean·s)
		s := float64(bn[0].Data[ci]) / math.Sqrt(float64(bn[3].Data[ci])+epsilon)
		for k := 0; k < 9; k++ {
			out.dw[ci*9+k] = float32(float64(dw.Data[k*c+ci]) * s)
		}
		out.shift[ci] = float32(float64(bn[1].Data[ci]) - float64(bn[2].Data[ci])*s)
	}
	pw := fmt.Sprintf("MobilenetV1/Conv2d_%d_pointwise/", i)
	if out.pw, err = loadConv(w, pw+"weights", pw+"convolution_bn_offset", 1, c, f, 1, true); err != nil {
		return pair{}, err
	}
	return out, nil
}

// same is TensorFlow's "same" padding: the output side and the padding
// before the first row (the rest goes after the last).
func same(in, k, stride int) (out, before int) {
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+k-in, 0)
	return out, total / 2
}

// scratch holds one pass's buffers in the order the pass asks for them:
// every pass asks for the same sizes, so a pass that draws a scratch left
// by an earlier one (scratchPool) allocates nothing (an SSD pass uses
// about 118 MB of activations and lowered inputs).
type scratch struct {
	bufs [][]float32
	next int
}

// take returns the pass's next buffer, n values long (its contents are
// whatever the last pass left).
func (s *scratch) take(n int) []float32 {
	if s.next == len(s.bufs) {
		s.bufs = append(s.bufs, nil)
	}
	if cap(s.bufs[s.next]) < n {
		s.bufs[s.next] = make([]float32, n)
	}
	b := s.bufs[s.next][:n]
	s.next++
	return b
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// apply runs the convolution on x [C, h, h] and returns [F, oh, oh], its
// buffers from s.
func (c conv) apply(s *scratch, x []float32, h int) ([]float32, int) {
	oh, pad := same(h, c.k, c.stride)
	p := oh * oh
	ckk := c.c * c.k * c.k
	col := x
	if c.k > 1 || c.stride > 1 {
		col = s.take(ckk * p)
		clear(col) // the padding's zeros
		tinyyolo.Channels(c.c, func(ci int) {
			for ky := 0; ky < c.k; ky++ {
				for kx := 0; kx < c.k; kx++ {
					row := col[((ci*c.k+ky)*c.k+kx)*p:][:p]
					for oy := 0; oy < oh; oy++ {
						iy := oy*c.stride + ky - pad
						if iy < 0 || iy >= h {
							continue // zeros
						}
						src := x[(ci*h+iy)*h:][:h]
						for ox := 0; ox < oh; ox++ {
							if ix := ox*c.stride + kx - pad; ix >= 0 && ix < h {
								row[oy*oh+ox] = src[ix]
							}
						}
					}
				}
			}
		})
	}
	out := s.take(c.f * p)
	for f := 0; f < c.f; f++ {
		o := out[f*p : (f+1)*p]
		for i := range o {
			o[i] = c.b[f]
		}
	}
	gemm.Sgemm(false, false, c.f, p, ckk, 1, c.w, ckk, col, p, 1, out, p)
	if c.relu6 {
		clip6(out)
	}
	return out, oh
}

// apply runs the depthwise-separable pair on x [C, h, h].
func (p pair) apply(s *scratch, x []float32, h int) ([]float32, int) {
	oh, pad := same(h, 3, p.stride)
	dw := s.take(p.c * oh * oh) // every value written below
	tinyyolo.Channels(p.c, func(ci int) {
		depthwise(x[ci*h*h:(ci+1)*h*h], dw[ci*oh*oh:(ci+1)*oh*oh], p.dw[ci*9:(ci+1)*9], p.shift[ci], h, oh, p.stride, pad)
	})
	return p.pw.apply(s, dw, oh)
}

// depthwise is a 3×3 convolution of one h×h plane to oh×oh at a stride,
// pad zero rows and columns before the first (the rest after the last),
// plus shift, clipped to [0, 6]: the windows inside the plane without
// bounds tests, those on its border with.
func depthwise(in, out, k []float32, shift float32, h, oh, stride, pad int) {
	k0, k1, k2, k3, k4, k5, k6, k7, k8 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8]
	lo := (pad + stride - 1) / stride // first window wholly inside
	hi := (h - 3 + pad) / stride      // last one
	for oy := 0; oy < oh; oy++ {
		iy := oy*stride - pad
		o := out[oy*oh : (oy+1)*oh]
		inside := oy >= lo && oy <= hi
		for ox := 0; ox < oh; ox++ {
			ix := ox*stride - pad
			var s float32
			if inside && ox >= lo && ox <= hi {
				r0, r1, r2 := in[iy*h+ix:iy*h+ix+3], in[(iy+1)*h+ix:(iy+1)*h+ix+3], in[(iy+2)*h+ix:(iy+2)*h+ix+3]
				s = shift + r0[0]*k0 + r0[1]*k1 + r0[2]*k2 + r1[0]*k3 + r1[1]*k4 + r1[2]*k5 + r2[0]*k6 + r2[1]*k7 + r2[2]*k8
			} else {
				s = shift
				for ky := 0; ky < 3; ky++ {
					if y := iy + ky; y >= 0 && y < h {
						for kx := 0; kx < 3; kx++ {
							if x := ix + kx; x >= 0 && x < h {
								s += in[y*h+x] * k[ky*3+kx]
							}
						}
					}
				}
			}
			o[ox] = min(max(s, 0), 6)
		}
	}
}

func clip6(x []float32) {
	for i, v := range x {
		x[i] = min(max(v, 0), 6)
	}
}

// Forward runs the network on a normalised input [3, 512, 512] (pixel
// values v/127.5 − 1) and returns, per anchor, its box encoding (4 values)
// and its three class logits, in face-api.js's order (predictor by
// predictor, then cell by cell, then anchor by anchor).
func (n *Net) Forward(x []float32) (box, class []float32) {
	s := scratchPool.Get().(*scratch)
	s.next = 0
	defer scratchPool.Put(s)
	y, h := n.conv0.apply(s, x, InputSize)
	var conv11 []float32
	h11 := 0
	for i, p := range n.pairs {
		y, h = p.apply(s, y, h)
		if i == 10 {
			conv11, h11 = y, h
		}
	}
	maps := [6][]float32{conv11, y}
	sides := [6]int{h11, h}
	for i, c := range n.extra {
		y, h = c.apply(s, y, h)
		if i%2 == 1 {
			maps[2+i/2], sides[2+i/2] = y, h
		}
	}
	box, class = make([]float32, 0, Anchors*4), make([]float32, 0, Anchors*3)
	for i := range maps {
		b, side := n.box[i].apply(s, maps[i], sides[i])
		c, _ := n.class[i].apply(s, maps[i], sides[i])
		box = appendNHWC(box, b, n.box[i].f, side*side)
		class = appendNHWC(class, c, n.class[i].f, side*side)
	}
	return box, class
}

// appendNHWC appends x [F, cells] cell by cell (TensorFlow's layout).
func appendNHWC(dst, x []float32, f, cells int) []float32 {
	for p := 0; p < cells; p++ {
		for c := 0; c < f; c++ {
			dst = append(dst, x[c*cells+p])
		}
	}
	return dst
}

// Options tune Detect.
type Options struct {
	MinConfidence float64 // default 0.5, as face-api.js
	MaxResults    int     // default 100
	IoUThreshold  float64 // non-maximum suppression (default 0.5)
}

func (o Options) withDefaults() Options {
	if o.MinConfidence == 0 {
		o.MinConfidence = 0.5
	}
	if o.MaxResults == 0 {
		o.MaxResults = 100
	}
	if o.IoUThreshold == 0 {
		o.IoUThreshold = 0.5
	}
	return o
}

// Detect finds the faces in img, best first, as face-api.js's
// locateFaces does: the image padded at the bottom or right to a square
// and resized to 512×512, every anchor's box decoded, then non-maximum
// suppression. Boxes are in img's pixels.
func (n *Net) Detect(img image.Image, o Options) ([]tinyyolo.Box, error) {
	o = o.withDefaults()
	if !(o.MinConfidence > 0 && o.MinConfidence < 1) || o.MaxResults < 1 || !(o.IoUThreshold > 0 && o.IoUThreshold <= 1) {
		return nil, fmt.Errorf("ssd options %+v: want a confidence in (0, 1), at least one result and an IoU in (0, 1]", o)
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, errors.New("empty image")
	}
	x := tinyyolo.Input(img, InputSize)
	for i, v := range x {
		x[i] = v/127.5 - 1
	}
	enc, logits := n.Forward(x)
	side := float64(max(b.Dx(), b.Dy()))
	scale := float64(InputSize) / side
	padX := float64(InputSize) / math.Round(float64(b.Dx())*scale)
	padY := float64(InputSize) / math.Round(float64(b.Dy())*scale)
	// Suppression works on the boxes as decoded, before they are clipped
	// to the image, as face-api.js's does.
	var raw []tinyyolo.Box // X, Y, W, H on the unit square
	for a := 0; a < Anchors; a++ {
		score := sigmoid(float64(logits[a*3+1]))
		if score <= o.MinConfidence {
			continue
		}
		y0, x0, y1, x1 := n.decode(a, enc[a*4:a*4+4])
		raw = append(raw, tinyyolo.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0, Score: score})
	}
	kept := tinyyolo.Suppress(raw, o.IoUThreshold)
	if len(kept) > o.MaxResults {
		kept = kept[:o.MaxResults]
	}
	for i, r := range kept {
		top, bottom := max(0, r.Y)*padY, min(1, r.Y+r.H)*padY
		left, right := max(0, r.X)*padX, min(1, r.X+r.W)*padX
		kept[i] = tinyyolo.Box{
			X: left*float64(b.Dx()) + float64(b.Min.X), Y: top*float64(b.Dy()) + float64(b.Min.Y),
			W: (right - left) * float64(b.Dx()), H: (bottom - top) * float64(b.Dy()), Score: r.Score,
		}
	}
	return kept, nil
}

// Raw returns, for every anchor, its decoded box (ymin, xmin, ymax, xmax
// on the padded unit square) and its face score, from Forward's outputs:
// what face-api.js's forward returns.
func (n *Net) Raw(enc, logits []float32) (boxes [][4]float64, scores []float64) {
	boxes, scores = make([][4]float64, Anchors), make([]float64, Anchors)
	for a := range boxes {
		y0, x0, y1, x1 := n.decode(a, enc[a*4:a*4+4])
		boxes[a] = [4]float64{y0, x0, y1, x1}
		scores[a] = sigmoid(float64(logits[a*3+1]))
	}
	return boxes, scores
}

// decode turns anchor a's encoding into (ymin, xmin, ymax, xmax) on the
// unit square, as face-api.js's output layer does.
func (n *Net) decode(a int, e []float32) (y0, x0, y1, x1 float64) {
	an := n.anchors[a*4 : a*4+4]
	h, w := float64(an[2]-an[0]), float64(an[3]-an[1])
	cy, cx := float64(an[0])+h/2, float64(an[1])+w/2
	hh := math.Exp(float64(e[2])/5) * h / 2
	hw := math.Exp(float64(e[3])/5) * w / 2
	py := float64(e[0])/10*h + cy
	px := float64(e[1])/10*w + cx
	return py - hh, px - hw, py + hh, px + hw
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
