package main

import (
	"image"
	"image/color"
	"image/png"
	"io"
)

func encodeTestGlyph(w io.Writer, seed int) error {
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			img.SetGray(x, y, color.Gray{0})
			if (x*seed+y)%7 == 0 {
				img.SetGray(x, y, color.Gray{255})
			}
		}
	}
	return png.Encode(w, img)
}
