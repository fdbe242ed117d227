package imageset_test

import (
	"image"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/internal/imageset"
)

func TestPNM(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		gray       bool
		px         [3]uint8 // first pixel's r, g, b
	}{
		{"P5", "P5 2 1 255\n\x10\xff", true, [3]uint8{0x10, 0x10, 0x10}},
		{"P5 comment", "P5\n# made by hand\n2 1\n255\n\x20\x00", true, [3]uint8{0x20, 0x20, 0x20}},
		{"P5 16-bit", "P5 1 1 65535\n\xff\xff", true, [3]uint8{255, 255, 255}},
		{"P2", "P2\n2 2\n15\n0 15\n15 0\n", true, [3]uint8{0, 0, 0}},
		{"P6", "P6 1 1 255\n\x01\x02\x03", false, [3]uint8{1, 2, 3}},
		{"P3", "P3 1 1 255 9 8 7", false, [3]uint8{9, 8, 7}},
	} {
		img, err := imageset.Decode([]byte(tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if imageset.IsGray(img) != tc.gray {
			t.Errorf("%s: gray %v, want %v", tc.name, imageset.IsGray(img), tc.gray)
		}
		r, g, b, _ := img.At(0, 0).RGBA()
		if got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}; got != tc.px {
			t.Errorf("%s: first pixel %v, want %v", tc.name, got, tc.px)
		}
	}
	for _, bad := range []string{"P5 2 2 255\n\x00", "P5 0 1 255\n", "P5 1 1 0\n\x00", "P2 1 1 10 11", "P7 1 1 255\n\x00", "P5 99999999 99999999 255\n"} {
		if _, err := imageset.Decode([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		} else if !strings.Contains(err.Error(), "pnm") && err != image.ErrFormat {
			t.Errorf("%q: error %v does not say pnm", bad, err)
		}
	}
}
