package tracking

import (
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"math"
)

// cube is a 6×6×6 colour cube palette: quantising to it is arithmetic,
// which keeps writing a few hundred frames fast.
var cube = func() color.Palette {
	p := make(color.Palette, 0, 216)
	for r := 0; r < 6; r++ {
		for g := 0; g < 6; g++ {
			for b := 0; b < 6; b++ {
				p = append(p, color.RGBA{uint8(51 * r), uint8(51 * g), uint8(51 * b), 255})
			}
		}
	}
	return p
}()

func cubeIndex(r, g, b uint8) uint8 {
	q := func(v uint8) int { return (int(v) + 25) / 51 }
	return uint8(q(r)*36 + q(g)*6 + q(b))
}

// WriteGIF writes the frames as an animated GIF at about 25 frames per
// second with each frame's predicted box drawn in red and, when truth is
// not nil, the ground truth in green.
func WriteGIF(w io.Writer, frames []*Image, boxes, truth []Box) error {
	if len(boxes) != len(frames) || (truth != nil && len(truth) < len(frames)) {
		return fmt.Errorf("gif: %d boxes for %d frames", len(boxes), len(frames))
	}
	red, green := cubeIndex(255, 0, 0), cubeIndex(0, 255, 0)
	anim := &gif.GIF{}
	for i, f := range frames {
		pm := image.NewPaletted(image.Rect(0, 0, f.W, f.H), cube)
		for k := 0; k < f.W*f.H; k++ {
			pm.Pix[k] = cubeIndex(f.Pix[3*k], f.Pix[3*k+1], f.Pix[3*k+2])
		}
		if truth != nil {
			drawBox(pm, truth[i], green)
		}
		drawBox(pm, boxes[i], red)
		anim.Image = append(anim.Image, pm)
		anim.Delay = append(anim.Delay, 4)
	}
	return gif.EncodeAll(w, anim)
}

// drawBox draws a 2-pixel rectangle outline, clipped to the frame (none
// for an absent target).
func drawBox(pm *image.Paletted, b Box, c uint8) {
	if b.Absent() {
		return
	}
	x0, y0 := int(math.Round(b.X)), int(math.Round(b.Y))
	x1, y1 := int(math.Round(b.X+b.W))-1, int(math.Round(b.Y+b.H))-1
	set := func(x, y int) {
		if (image.Point{x, y}).In(pm.Rect) {
			pm.Pix[y*pm.Stride+x] = c
		}
	}
	for t := 0; t < 2; t++ {
		for x := x0; x <= x1; x++ {
			set(x, y0+t)
			set(x, y1-t)
		}
		for y := y0; y <= y1; y++ {
			set(x0+t, y)
			set(x1-t, y)
		}
	}
}
