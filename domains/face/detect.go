package face

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"
	"strings"

	xdraw "golang.org/x/image/draw"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/ssd"
	"github.com/siamesenet/siamese/internal/tfjs"
	"github.com/siamesenet/siamese/internal/tinyyolo"
)

// InputKind is the input kind of photos of faces: every face is found by
// the detector, aligned to a chip of the tower's input size, and embedded.
// A model of this kind carries the detector's weights as assets.
const InputKind = "face"

// DetectorAsset prefixes the tiny detector's weights among a model's
// assets, SSDAsset the SSD MobileNetV1 detector's.
const (
	DetectorAsset = "detector/"
	SSDAsset      = "ssd/"
)

// Detection modes (Preprocess.Extra["detect"]).
const (
	DetectAuto = "auto" // detect; an image with no face found that is small enough to be a crop is taken whole
	DetectOn   = "on"   // detect; no face is an error
	DetectOff  = "off"  // the image is the face (already a crop)
)

// CropSide is the longest side, in pixels, of an image that DetectAuto
// takes whole as a face when the detector finds none.
const CropSide = 256

// ErrNoFace is returned for a photo in which no face is found.
var ErrNoFace = errors.New("no face found")

// Chip is the landmark-free alignment: the square cut from the photo for
// a detected box is Scale times the box's larger side, centred on the box
// moved down by ShiftY times that side, then resized to the tower's input.
// A photo taken whole as the face (a crop, or detection off) is padded to
// a square Crop times its larger side (0 counts as 1). All three are chosen on validation
// pairs (ORL's training subjects, LFW View 1's training pairs), not on any
// test set.
type Chip struct {
	Scale  float64
	ShiftY float64
	Crop   float64
}

// DefaultChip is the alignment chosen on validation pairs for the SSD
// detector's boxes (DefaultDetection): Scale and ShiftY on ORL's training
// subjects, Crop on LFW View 1's training pairs (LFW3D's tight crops: 1.15
// against 1.0, 1.07, 1.25 and 1.4).
var DefaultChip = Chip{Scale: 1.1, ShiftY: 0.15, Crop: 1.15}

// TinyChip is the same choice for the tiny detector's boxes (a model
// without the SSD detector).
var TinyChip = Chip{Scale: 1.0, ShiftY: 0, Crop: 1.15}

// chipOf reads a preprocessing's alignment (def where unset).
func chipOf(pre core.Preprocess, def Chip) (Chip, error) {
	c := def
	for key, dst := range map[string]*float64{"chip_scale": &c.Scale, "chip_shift": &c.ShiftY, "crop_scale": &c.Crop} {
		v, ok := pre.Extra[key]
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return c, fmt.Errorf("preprocessing %s=%q: want a number", key, v)
		}
		*dst = f
	}
	if c.Scale < 0.25 || c.Scale > 4 || math.Abs(c.ShiftY) > 1 {
		return c, fmt.Errorf("preprocessing chip scale %g and shift %g: want a scale in [0.25, 4] and a shift in [-1, 1]", c.Scale, c.ShiftY)
	}
	if c.Crop < 1 || c.Crop > 4 {
		return c, fmt.Errorf("preprocessing crop scale %g: want a scale in [1, 4]", c.Crop)
	}
	return c, nil
}

// DetectMode reads a preprocessing's detection mode (DetectAuto where
// unset).
func DetectMode(pre core.Preprocess) (string, error) {
	switch m := pre.Extra["detect"]; m {
	case "":
		return DetectAuto, nil
	case DetectAuto, DetectOn, DetectOff:
		return m, nil
	default:
		return "", fmt.Errorf("detect %q: want auto, on or off", m)
	}
}

// Faces finds and aligns the faces of photos for a model's input.
type Faces struct {
	pre    core.Preprocess
	mode   string
	chip   Chip
	search Detection
	det    *tinyyolo.Net
	ssd    *ssd.Net // nil for a model imported without it: its passes are skipped
}

// NewFaces makes the face finder of a preprocessing of kind "face" from
// the model's assets (the detector's weights; without them only DetectOff
// works).
func NewFaces(pre core.Preprocess, assets []*core.Param) (*Faces, error) {
	f := &Faces{pre: pre, search: DefaultDetection}
	var err error
	if f.mode, err = DetectMode(pre); err != nil {
		return nil, err
	}
	if pre.Width <= 0 || pre.Height <= 0 || pre.Channels != 3 {
		return nil, fmt.Errorf("face input %d×%d×%d: want an RGB size", pre.Width, pre.Height, pre.Channels)
	}
	w, sw := tfjs.Weights{}, tfjs.Weights{}
	for _, a := range assets {
		if name, ok := strings.CutPrefix(a.Name, DetectorAsset); ok {
			w[name] = tfjs.Tensor{Name: name, Shape: a.Shape, Data: a.Data}
		}
		if name, ok := strings.CutPrefix(a.Name, SSDAsset); ok {
			sw[name] = tfjs.Tensor{Name: name, Shape: a.Shape, Data: a.Data}
		}
	}
	if len(sw) > 0 {
		if f.ssd, err = ssd.Load(sw); err != nil {
			return nil, fmt.Errorf("the model's SSD face detector: %w", err)
		}
	}
	def := DefaultChip
	if f.ssd == nil {
		f.search, def = TinyDetection, TinyChip
	}
	if f.chip, err = chipOf(pre, def); err != nil {
		return nil, err
	}
	if len(w) > 0 {
		if f.det, err = tinyyolo.LoadFace(w); err != nil {
			return nil, fmt.Errorf("the model's face detector: %w", err)
		}
	} else if f.mode != DetectOff {
		return nil, fmt.Errorf("the model has no face detector: import it with `siamese face import`, or use --detect off for crops")
	}
	return f, nil
}

// WithMode returns f detecting by mode (auto, on or off).
func (f *Faces) WithMode(mode string) (*Faces, error) {
	g := *f
	g.pre.Extra = map[string]string{}
	for k, v := range f.pre.Extra {
		g.pre.Extra[k] = v
	}
	g.pre.Extra["detect"] = mode
	var err error
	if g.mode, err = DetectMode(g.pre); err != nil {
		return nil, err
	}
	if g.det == nil && g.mode != DetectOff {
		return nil, fmt.Errorf("the model has no face detector: only --detect off works")
	}
	return &g, nil
}

// WithChip returns f aligning by chip.
func (f *Faces) WithChip(chip Chip) *Faces {
	g := *f
	g.chip = chip
	return &g
}

// Pass is one run of a detector: on the photo centred in a canvas Pad
// times its size larger on every side (grey), by the tiny detector at an
// input of Size pixels, or — with SSD set — by the SSD MobileNetV1
// detector (its input is always 512 pixels; a model without it skips the
// pass).
type Pass struct {
	Pad  float64
	Size int
	SSD  bool
}

// Detection is how faces are searched for: every pass of Passes (one input
// size finds small faces, another large ones), then — when they find no
// face — the passes of Fallback (a face that fills a small photo is found
// once the photo sits in a larger canvas), then — when those find none
// either — the passes of LastResort; each stage's boxes merged by
// non-maximum suppression. Chosen on ORL's 30 training subjects and LFW
// View 1's images pasted into scenes (examples/faces-align), not on the
// photos the recall tests use.
type Detection struct {
	Passes       []Pass
	Fallback     []Pass
	LastResort   []Pass
	Threshold    float64 // the tiny detector's score threshold
	SSDThreshold float64 // the SSD detector's (0: face-api.js's 0.5)
}

// DefaultDetection is the search the "face" kind runs: the SSD detector at
// a score of 0.3; when it finds no face, again on the photo in a canvas
// twice its size; when that finds none, in a canvas three times its size
// (examples/faces-align: every one of ORL's training subjects' 300 photos
// and of LFW View 1's 300 images in scenes, with no stray box and no box
// in 200 scenes without a face; without the last stage 99.3% and 99.3%,
// and the tiny detector's best search found 100% and 96.0% with 11 stray
// boxes). A model imported before the SSD detector was part of the import
// has no SSD weights: NewFaces gives it TinyDetection.
var DefaultDetection = Detection{Passes: []Pass{{SSD: true}}, Fallback: []Pass{{Pad: 0.5, SSD: true}}, LastResort: []Pass{{Pad: 1, SSD: true}}, Threshold: 0.3, SSDThreshold: 0.3}

// TinyDetection is the tiny detector's search: two input sizes, then
// canvases twice and three times the photo's size.
var TinyDetection = Detection{Passes: []Pass{{Size: 416}, {Size: 224}}, Fallback: []Pass{{Pad: 0.5, Size: 224}, {Pad: 1, Size: 416}}, Threshold: 0.3}

// WithDetection returns f searching by d.
func (f *Faces) WithDetection(d Detection) *Faces {
	g := *f
	g.search = d
	return &g
}

// Detect returns the detector's boxes for img, most confident first.
func (f *Faces) Detect(img image.Image) ([]tinyyolo.Box, error) {
	if f.det == nil {
		return nil, fmt.Errorf("the model has no face detector")
	}
	var all []tinyyolo.Box
	var err error
	for _, stage := range [][]Pass{f.search.Passes, f.search.Fallback, f.search.LastResort} {
		if all, err = f.run(img, stage); err != nil || len(all) > 0 {
			break
		}
	}
	return all, err
}

func (f *Faces) run(img image.Image, passes []Pass) ([]tinyyolo.Box, error) {
	var all []tinyyolo.Box
	b := img.Bounds()
	for _, p := range passes {
		src, scale := img, 1.0
		px, py := int(p.Pad*float64(b.Dx())), int(p.Pad*float64(b.Dy()))
		if px > 0 || py > 0 {
			src, scale = padded(img, px, py)
		}
		var boxes []tinyyolo.Box
		var err error
		switch {
		case p.SSD && f.ssd == nil:
			continue
		case p.SSD:
			boxes, err = f.ssd.Detect(src, ssd.Options{MinConfidence: f.search.SSDThreshold})
		default:
			boxes, err = f.det.Detect(src, tinyyolo.Options{InputSize: p.Size, ScoreThreshold: f.search.Threshold})
		}
		if err != nil {
			return nil, err
		}
		for _, bx := range boxes {
			bx.X, bx.Y, bx.W, bx.H = bx.X/scale, bx.Y/scale, bx.W/scale, bx.H/scale
			bx.X += float64(b.Min.X - px)
			bx.Y += float64(b.Min.Y - py)
			all = append(all, bx)
		}
	}
	return tinyyolo.Suppress(all, 0.4), nil
}

// MaxCanvas bounds the larger side of the canvas a search pass pads a
// photo into: a larger canvas is drawn scaled down to it (the detectors see
// 512 pixels at most), so that a 100-Mpixel photo with no face costs
// megabytes, not the gigabytes of a canvas three times its size.
const MaxCanvas = 2048

// padded is img in a gray canvas with px and py pixels of margin on each
// side, scaled by the returned factor (1, or less to fit MaxCanvas).
func padded(img image.Image, px, py int) (*image.RGBA, float64) {
	b := img.Bounds()
	cw, ch := b.Dx()+2*px, b.Dy()+2*py
	s := min(1, float64(MaxCanvas)/float64(max(cw, ch)))
	canvas := image.NewRGBA(image.Rect(0, 0, int(math.Ceil(float64(cw)*s)), int(math.Ceil(float64(ch)*s))))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.Gray{128}), image.Point{}, draw.Src)
	if s == 1 {
		draw.Draw(canvas, image.Rect(px, py, px+b.Dx(), py+b.Dy()), img, b.Min, draw.Src)
		return canvas, 1
	}
	at := image.Rect(int(float64(px)*s), int(float64(py)*s), int(float64(px+b.Dx())*s), int(float64(py+b.Dy())*s))
	xdraw.BiLinear.Scale(canvas, at, img, b, draw.Src, nil)
	return canvas, s
}

// Found is one face: its box in the photo, the detector's score (1 for a
// whole-image crop) and the aligned chip, the model's input.
type Found struct {
	Box   image.Rectangle
	Score float64
	Input []float32
}

// Find returns every face of img, most confident first.
func (f *Faces) Find(img image.Image) ([]Found, error) {
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("empty image")
	}
	if f.mode == DetectOff {
		return []Found{f.whole(img)}, nil
	}
	boxes, err := f.Detect(img)
	if err != nil {
		return nil, err
	}
	if len(boxes) == 0 {
		if f.mode == DetectAuto && max(b.Dx(), b.Dy()) <= CropSide {
			return []Found{f.whole(img)}, nil
		}
		return nil, ErrNoFace
	}
	out := make([]Found, len(boxes))
	for i, bx := range boxes {
		out[i] = Found{Box: bx.Rect().Intersect(b), Score: bx.Score, Input: f.Align(img, bx)}
	}
	return out, nil
}

// Prepare is the input of img's most confident face (an image set's
// Prepare).
func (f *Faces) Prepare(img image.Image) ([]float32, error) {
	found, err := f.Find(img)
	if err != nil {
		return nil, err
	}
	return found[0].Input, nil
}

// whole takes the whole image as the face, as face-api.js does for a
// crop: padded to a square about its centre (a Crop scale above 1 pads it
// further, black) and resized.
func (f *Faces) whole(img image.Image) Found {
	b := img.Bounds()
	side := max(f.chip.Crop, 1) * float64(max(b.Dx(), b.Dy()))
	cx, cy := float64(b.Min.X)+float64(b.Dx())/2, float64(b.Min.Y)+float64(b.Dy())/2
	return Found{Box: b, Score: 1, Input: f.cut(img, cx-side/2, cy-side/2, side)}
}

// Align cuts the chip of a detected box.
func (f *Faces) Align(img image.Image, bx tinyyolo.Box) []float32 {
	side := f.chip.Scale * math.Max(bx.W, bx.H)
	cx := bx.X + bx.W/2
	cy := bx.Y + bx.H/2 + f.chip.ShiftY*side
	return f.cut(img, cx-side/2, cy-side/2, side)
}

// cut resamples the square (x0, y0, side) of img (bilinear, black outside
// the image) to the input's size: CHW RGB in [0,1].
func (f *Faces) cut(img image.Image, x0, y0, side float64) []float32 {
	w, h := f.pre.Width, f.pre.Height
	out := make([]float32, 3*w*h)
	b := img.Bounds()
	at := imageset.RGBAt(img)
	px := func(x, y int) [3]float32 {
		if x < b.Min.X || y < b.Min.Y || x >= b.Max.X || y >= b.Max.Y {
			return [3]float32{}
		}
		return at(x, y)
	}
	sx, sy := side/float64(w), side/float64(h)
	for oy := 0; oy < h; oy++ {
		fy := y0 + (float64(oy)+0.5)*sy - 0.5
		y := math.Floor(fy)
		ty := float32(fy - y)
		for ox := 0; ox < w; ox++ {
			fx := x0 + (float64(ox)+0.5)*sx - 0.5
			x := math.Floor(fx)
			tx := float32(fx - x)
			p00, p01 := px(int(x), int(y)), px(int(x)+1, int(y))
			p10, p11 := px(int(x), int(y)+1), px(int(x)+1, int(y)+1)
			for c := 0; c < 3; c++ {
				top := p00[c] + (p01[c]-p00[c])*tx
				bot := p10[c] + (p11[c]-p10[c])*tx
				out[(c*h+oy)*w+ox] = (top + (bot-top)*ty) / 255
			}
		}
	}
	return out
}

// decoder is the "face" kind's core.Finder.
type decoder struct{ f *Faces }

// Find implements core.Finder.
func (d decoder) Find(raw []byte) ([]core.Found, error) {
	img, err := imageset.Decode(raw)
	if err != nil {
		return nil, err
	}
	if err := imageset.CheckContent(img); err != nil {
		return nil, err
	}
	faces, err := d.f.Find(img)
	if err != nil {
		return nil, err
	}
	out := make([]core.Found, len(faces))
	for i, fc := range faces {
		out[i] = core.Found{Item: core.Item{Dense: fc.Input}, Box: fc.Box, Score: fc.Score}
	}
	return out, nil
}

// Decode implements core.Decoder: the most confident face.
func (d decoder) Decode(raw []byte) (core.Item, error) {
	found, err := d.Find(raw)
	if err != nil {
		return core.Item{}, err
	}
	return found[0].Item, nil
}

func init() {
	core.RegisterDecoder(InputKind, func(pre core.Preprocess, assets []*core.Param) (core.Decoder, error) {
		f, err := NewFaces(pre, assets)
		if err != nil {
			return nil, err
		}
		return decoder{f}, nil
	})
}

// DetectorAssets turns a detector's weights into model assets, each name
// after prefix (DetectorAsset or SSDAsset).
func DetectorAssets(prefix string, w tfjs.Weights) []*core.Param {
	var out []*core.Param
	for _, name := range sortedKeys(w) {
		t := w[name]
		out = append(out, &core.Param{Name: prefix + name, Shape: t.Shape, Data: t.Data, Frozen: true})
	}
	return out
}
