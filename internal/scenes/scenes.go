// Package scenes makes test pictures: an image (a face crop, say) pasted
// at a random position and scale into a larger synthetic scene, so that a
// detector's recall is measured where the answer is known.
package scenes

import (
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"

	xdraw "golang.org/x/image/draw"
)

// Paste draws obj into a w×h scene of random rectangles over a gradient,
// as a square of side between minSide and maxSide at a random place, and
// returns the scene and where obj is.
func Paste(obj image.Image, w, h, minSide, maxSide int, rng *rand.Rand) (*image.RGBA, image.Rectangle) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c0 := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	c1 := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	for y := 0; y < h; y++ {
		t := float64(y) / float64(h)
		c := color.RGBA{mix(c0.R, c1.R, t), mix(c0.G, c1.G, t), mix(c0.B, c1.B, t), 255}
		draw.Draw(img, image.Rect(0, y, w, y+1), image.NewUniform(c), image.Point{}, draw.Src)
	}
	for i := 0; i < 12; i++ {
		x, y := rng.IntN(w), rng.IntN(h)
		r := image.Rect(x, y, x+10+rng.IntN(w/3), y+10+rng.IntN(h/3))
		c := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
	}
	side := minSide + rng.IntN(maxSide-minSide+1)
	x, y := rng.IntN(w-side+1), rng.IntN(h-side+1)
	at := image.Rect(x, y, x+side, y+side)
	xdraw.BiLinear.Scale(img, at, obj, obj.Bounds(), draw.Src, nil)
	return img, at
}

func mix(a, b uint8, t float64) uint8 { return uint8(float64(a)*(1-t) + float64(b)*t) }
