package tracking

import (
	"image"
	"math/rand/v2"
	"testing"
)

// The FFT search finds what trying every offset finds, on textured frames
// where the target moves, for templates of several sizes and shapes,
// including ones at the frame's edge and larger than a third of it.
func TestNCCEqualsDirect(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		box  Box
	}{
		{"small", 40, 30, Box{X: 12, Y: 9, W: 5, H: 4}},
		{"tall", 48, 40, Box{X: 20, Y: 5, W: 3, H: 14}},
		{"corner", 32, 32, Box{X: 0, Y: 0, W: 7, H: 6}},
		{"edge", 36, 28, Box{X: 30, Y: 20, W: 6, H: 8}},
		{"large", 40, 36, Box{X: 8, Y: 6, W: 20, H: 18}},
		{"single pixel", 20, 20, Box{X: 9, Y: 9, W: 1, H: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tc.w)))
			var frames []*image.Gray
			for k := 0; k < 8; k++ {
				g := image.NewGray(image.Rect(0, 0, tc.w, tc.h))
				for i := range g.Pix {
					g.Pix[i] = uint8(rng.IntN(256))
				}
				// a flat band, where the direct search scores 0
				for x := 0; x < tc.w; x++ {
					g.Pix[(tc.h-1)*g.Stride+x] = 77
				}
				frames = append(frames, g)
			}
			got, err := NCC(frames, tc.box)
			if err != nil {
				t.Fatal(err)
			}
			want := nccDirect(frames, tc.box)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("frame %d: FFT search %v, direct %v", i+1, got[i], want[i])
				}
			}
		})
	}
}

// A moving copy of the template is found exactly.
func TestNCCFollowsCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tex := make([]uint8, 30*30)
	for i := range tex {
		tex[i] = uint8(rng.IntN(256))
	}
	var frames []*image.Gray
	for k := 0; k < 6; k++ {
		g := image.NewGray(image.Rect(0, 0, 120, 90))
		for i := range g.Pix {
			g.Pix[i] = uint8(rng.IntN(40))
		}
		for y := 0; y < 30; y++ {
			copy(g.Pix[(20+y)*g.Stride+10+7*k:], tex[y*30:(y+1)*30])
		}
		frames = append(frames, g)
	}
	boxes, err := NCC(frames, Box{X: 10, Y: 20, W: 30, H: 30})
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range boxes {
		if b.X != float64(10+7*k) || b.Y != 20 {
			t.Errorf("frame %d: box at %v,%v, want %d,20", k+1, b.X, b.Y, 10+7*k)
		}
	}
}
