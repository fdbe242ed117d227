package tracking

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
)

// WriteSynthetic writes an OTB-layout sequence dir/name: frames of w×h
// pixels in which a bright patterned square moves right and down over a
// colour texture, with its ground truth. Tests and plugin checks use it
// where no real video is at hand.
func WriteSynthetic(dir, name string, frames, w, h int) error {
	if err := os.MkdirAll(filepath.Join(dir, name, "img"), 0o755); err != nil {
		return err
	}
	var gt strings.Builder
	for i := 0; i < frames; i++ {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Set(x, y, color.RGBA{uint8((x*7 + y*13) % 64), uint8((x * 3) % 50), uint8((y * 5) % 70), 255})
			}
		}
		x0, y0 := 10+2*i%(w-30), 15+i%(h-30)
		for y := y0; y < y0+14; y++ {
			for x := x0; x < x0+14; x++ {
				img.Set(x, y, color.RGBA{uint8(170 + (x-x0)*5), uint8(120 + (y-y0)*8), 40, 255})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name, "img", fmt.Sprintf("%04d.png", i+1)), b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&gt, "%d,%d,14,14\n", x0+1, y0+1)
	}
	return os.WriteFile(filepath.Join(dir, name, "groundtruth_rect.txt"), []byte(gt.String()), 0o644)
}
