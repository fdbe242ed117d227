// Package imageset is the image data shared by every image domain:
// class-per-folder trees read from a folder or a .zip (nested
// group/class/*.png or flat class/*.jpg), decoding (PNG, JPEG, GIF, BMP,
// TIFF), grayscale, resizing and normalisation, Koch's random affine
// distortions, and the balanced pair and N-way K-shot episode samplers.
package imageset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // GIF decoder
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"sync"

	"github.com/siamesenet/siamese/core"
	_ "golang.org/x/image/bmp" // BMP decoder
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff" // TIFF decoder
)

// The decode budget of every image path: an image is decoded only if its
// header promises at most MaxPixels pixels and MaxBytes bytes decoded.
const (
	MaxPixels = 100 << 20
	MaxBytes  = 256 << 20
)

// bytesPerPixel is what a decoded pixel of a color model takes.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.YCbCrModel:
		return 3
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// Decode decodes image bytes in any registered format within the decode
// budget. The image's header is read first so that a huge or corrupt
// header fails before allocation.
func Decode(raw []byte) (image.Image, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if cfg.Width <= 0 || cfg.Height <= 0 || px > MaxPixels {
		return nil, fmt.Errorf("image of %d×%d pixels is out of range (at most %d Mpixels)", cfg.Width, cfg.Height, MaxPixels>>20)
	}
	if b := px * bytesPerPixel(cfg.ColorModel); b > MaxBytes {
		return nil, fmt.Errorf("image of %d×%d pixels would take %d MiB decoded (at most %d)", cfg.Width, cfg.Height, b>>20, MaxBytes>>20)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	return img, err
}

// ErrNoContent is returned for an image with nothing in it: every pixel the
// same (all black, all white) or fully transparent.
var ErrNoContent = errors.New("the image has no content (every pixel the same, or fully transparent)")

// CheckContent rejects an image without content (sampled on a grid of
// about 64k pixels).
func CheckContent(img image.Image) error {
	b := img.Bounds()
	n := b.Dx() * b.Dy()
	step := max(1, n/65536)
	var r0, g0, b0, a0 uint32
	opaque := false
	for i := 0; i < n; i += step {
		r, g, bl, a := img.At(b.Min.X+i%b.Dx(), b.Min.Y+i/b.Dx()).RGBA()
		if i == 0 {
			r0, g0, b0, a0 = r, g, bl, a
		}
		if a != 0 {
			opaque = true
		}
		if opaque && (r != r0 || g != g0 || bl != b0 || a != a0) {
			return nil
		}
	}
	return ErrNoContent
}

// Kind is an image input kind: how a decoded image becomes a model input.
type Kind struct {
	// Prepare turns an image into the input [C,H,W].
	Prepare func(img image.Image, pre core.Preprocess) ([]float32, error)
	// AnyColor accepts color and gray images alike (the kind reduces
	// them itself), where the plain kind insists on the model's channels.
	AnyColor bool
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// RegisterKind registers an image input kind: Prepare and Load use it
// for a preprocessing of that kind, and core decodes users' files of it
// (decode, CheckFits, Prepare). The kind "image" (PrepareImage) is built in.
func RegisterKind(name string, k Kind) {
	kindsMu.Lock()
	kinds[name] = k
	kindsMu.Unlock()
	core.RegisterDecoder(name, func(pre core.Preprocess, _ []*core.Param) (core.Decoder, error) {
		return core.DecoderFunc(func(raw []byte) (core.Item, error) {
			img, err := Decode(raw)
			if err != nil {
				return core.Item{}, err
			}
			if err := CheckFits(img, pre); err != nil {
				return core.Item{}, err
			}
			x, err := Prepare(img, pre) // a kind's own account first (a blank page: no ink)
			if err != nil {
				return core.Item{}, err
			}
			if err := CheckContent(img); err != nil {
				return core.Item{}, err
			}
			return core.Item{Dense: x}, nil
		}), nil
	})
}

func init() { RegisterKind("image", Kind{Prepare: PrepareImage}) }

func kindOf(pre core.Preprocess) (Kind, error) {
	name := pre.Kind
	if name == "" {
		name = "image"
	}
	kindsMu.RLock()
	k, ok := kinds[name]
	kindsMu.RUnlock()
	if !ok {
		return Kind{}, fmt.Errorf("input kind %q is not an image kind of this build", name)
	}
	return k, nil
}

// Prepare turns an image into a model input [C,H,W] by the preprocessing's
// kind.
func Prepare(img image.Image, pre core.Preprocess) ([]float32, error) {
	k, err := kindOf(pre)
	if err != nil {
		return nil, err
	}
	if pre.Width <= 0 || pre.Height <= 0 {
		return nil, fmt.Errorf("preprocessing has no input size")
	}
	return k.Prepare(img, pre)
}

// PrepareImage is the kind "image": gray or RGB, resized to Width×Height,
// scaled to [0,1], inverted if asked, then (v − Mean)/Std.
func PrepareImage(img image.Image, pre core.Preprocess) ([]float32, error) {
	w, h, ch := pre.Width, pre.Height, pre.Channels
	if ch == 0 {
		ch = 1
	}
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 {
		return nil, fmt.Errorf("empty image")
	}
	std := pre.Std
	if std == 0 {
		std = 1
	}
	norm := func(v float32) float32 {
		if pre.Invert {
			v = 1 - v
		}
		return (v - pre.Mean) / std
	}
	out := make([]float32, ch*h*w)
	switch ch {
	case 1:
		dst := image.NewGray(image.Rect(0, 0, w, h))
		if b.Dx() == w && b.Dy() == h {
			draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
		} else {
			draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		}
		for i, v := range dst.Pix {
			out[i] = norm(float32(v) / 255)
		}
	case 3:
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		for i := 0; i < w*h; i++ {
			for c := 0; c < 3; c++ {
				out[c*w*h+i] = norm(float32(dst.Pix[4*i+c]) / 255)
			}
		}
	default:
		return nil, fmt.Errorf("unsupported channel count %d (want 1 or 3)", ch)
	}
	return out, nil
}

// IsGray reports whether an image is stored as grayscale.
func IsGray(img image.Image) bool {
	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model:
		return true
	}
	return false
}

// CheckFits rejects an image that does not fit a model's input: a color
// image for a grayscale model or the reverse, or one far smaller (under a
// quarter of the side) than the input.
func CheckFits(img image.Image, pre core.Preprocess) error {
	b := img.Bounds()
	if b.Dx()*4 < pre.Width || b.Dy()*4 < pre.Height {
		return fmt.Errorf("image of %d×%d pixels is far smaller than the model's %d×%d input", b.Dx(), b.Dy(), pre.Width, pre.Height)
	}
	if k, err := kindOf(pre); err != nil {
		return err
	} else if k.AnyColor {
		return nil
	}
	gray := IsGray(img)
	switch {
	case pre.Channels <= 1 && !gray && !looksGray(img):
		return fmt.Errorf("color image, but the model takes grayscale input")
	case pre.Channels == 3 && gray:
		return fmt.Errorf("grayscale image, but the model takes RGB input")
	}
	return nil
}

// looksGray reports whether a color image has only gray pixels (a scan
// saved as RGB).
func looksGray(img image.Image) bool {
	b := img.Bounds()
	step := max(1, b.Dx()*b.Dy()/4096)
	for i := 0; i < b.Dx()*b.Dy(); i += step {
		r, g, bl, _ := img.At(b.Min.X+i%b.Dx(), b.Min.Y+i/b.Dx()).RGBA()
		if r != g || g != bl {
			return false
		}
	}
	return true
}

// RGB is a colour's red, green and blue as 0–255 values, without the
// generic RGBA conversion for the common decoded types.
func RGB(c color.Color) [3]float32 {
	switch v := c.(type) {
	case color.Gray:
		return [3]float32{float32(v.Y), float32(v.Y), float32(v.Y)}
	case color.RGBA:
		return [3]float32{float32(v.R), float32(v.G), float32(v.B)}
	case color.NRGBA:
		return [3]float32{float32(v.R), float32(v.G), float32(v.B)}
	case color.YCbCr:
		r, g, b := color.YCbCrToRGB(v.Y, v.Cb, v.Cr)
		return [3]float32{float32(r), float32(g), float32(b)}
	}
	r, g, b, _ := c.RGBA()
	return [3]float32{float32(r >> 8), float32(g >> 8), float32(b >> 8)}
}

// RGBAt returns a function that reads img's pixel (x, y) as RGB (0–255),
// reading the pixel arrays of the common decoded types directly. (x, y)
// must lie inside the image's bounds.
func RGBAt(img image.Image) func(x, y int) [3]float32 {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) [3]float32 {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			return [3]float32{float32(r), float32(g), float32(b)}
		}
	case *image.RGBA:
		return func(x, y int) [3]float32 {
			i := m.PixOffset(x, y)
			return [3]float32{float32(m.Pix[i]), float32(m.Pix[i+1]), float32(m.Pix[i+2])}
		}
	case *image.NRGBA:
		return func(x, y int) [3]float32 {
			i := m.PixOffset(x, y)
			return [3]float32{float32(m.Pix[i]), float32(m.Pix[i+1]), float32(m.Pix[i+2])}
		}
	case *image.Gray:
		return func(x, y int) [3]float32 {
			v := float32(m.Pix[m.PixOffset(x, y)])
			return [3]float32{v, v, v}
		}
	}
	return func(x, y int) [3]float32 { return RGB(img.At(x, y)) }
}
