package face_test

import (
	"image"
	"image/color"
	"testing"

	"github.com/siamesenet/siamese/domains/face"
)

// A search pass's canvas holds the photo at its place with a gray margin;
// a canvas that would pass MaxCanvas is drawn scaled down to it, so a
// large photo with no face does not cost gigabytes.
func TestPaddedCanvasIsBounded(t *testing.T) {
	for _, c := range []struct {
		name      string
		w, h      int
		wantScale bool
	}{
		{"ORL-sized", 92, 112, false},
		{"640×480 at 3×", 640, 480, false},
		{"6000×4000 at 3×", 6000, 4000, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := image.NewGray(image.Rect(0, 0, c.w, c.h))
			for i := range img.Pix {
				img.Pix[i] = 30
			}
			canvas, s := face.Padded(img, c.w, c.h)
			b := canvas.Bounds()
			if c.wantScale {
				if s >= 1 || max(b.Dx(), b.Dy()) > face.MaxCanvas {
					t.Fatalf("canvas %v at scale %g: want at most %d a side, scaled down", b, s, face.MaxCanvas)
				}
			} else if s != 1 || b.Dx() != 3*c.w || b.Dy() != 3*c.h {
				t.Fatalf("canvas %v at scale %g: want %d×%d at scale 1", b, s, 3*c.w, 3*c.h)
			}
			if got := color.GrayModel.Convert(canvas.At(b.Dx()/2, b.Dy()/2)).(color.Gray).Y; got != 30 {
				t.Errorf("the photo's centre is %d on the canvas, want 30", got)
			}
			if got := color.GrayModel.Convert(canvas.At(1, 1)).(color.Gray).Y; got != 128 {
				t.Errorf("the margin is %d, want 128", got)
			}
		})
	}
}
