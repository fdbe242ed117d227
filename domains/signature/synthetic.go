package signature

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Scan draws a synthetic signature of writer w, sample n: a curve of dark
// ink on white RGB paper, width×height pixels. A forgery follows the
// writer's curve with larger distortions. For tests and demos.
func Scan(w, n int, forged bool, width, height int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for i := range img.Pix {
		img.Pix[i] = 250
	}
	base := rand.New(rand.NewPCG(uint64(w), 1))
	var freq [4]float64
	for i := range freq {
		freq[i] = 1 + 5*base.Float64()
	}
	jit := rand.New(rand.NewPCG(uint64(w), uint64(n)+100))
	amp := 0.04
	if forged {
		amp = 0.25
	}
	for i := range freq {
		freq[i] *= 1 + amp*(jit.Float64()-0.5)
	}
	ink := color.RGBA{30, 30, 60, 255}
	r := max(1, width/150)
	for t := 0.0; t < 1; t += 0.0004 {
		x := 0.1 + 0.8*t
		y := 0.5 + 0.25*math.Sin(freq[0]*t*6)*math.Cos(freq[1]*t*3) + 0.1*math.Sin(freq[2]*t*20+freq[3])
		cx, cy := int(x*float64(width)), int(y*float64(height))
		for dy := -r; dy <= r; dy++ {
			for dx := -r; dx <= r; dx++ {
				img.SetRGBA(cx+dx, cy+dy, ink)
			}
		}
	}
	return img
}

// WriteSynthetic writes writers × (genuine + forged) synthetic 300×150
// scans under dir in a layout: "sigcomp" (NNN/, NNN_forg/), "cedar"
// (full_org/, full_forg/) or "generic" (WRITER/genuine/, WRITER/forged/).
func WriteSynthetic(dir, layout string, writers, genuine, forged int) error {
	for w := 1; w <= writers; w++ {
		for n := 1; n <= genuine+forged; n++ {
			f := n > genuine
			var p string
			switch layout {
			case "sigcomp":
				p = fmt.Sprintf("sign_data/train/%03d/%03d_%02d.PNG", w, w, n)
				if f {
					p = fmt.Sprintf("sign_data/train/%03d_forg/02%02d%03d_%02d.png", w, n, w, n)
				}
			case "cedar":
				p = fmt.Sprintf("full_org/original_%d_%d.png", w, n)
				if f {
					p = fmt.Sprintf("full_forg/forgeries_%d_%d.png", w, n)
				}
			case "generic":
				p = fmt.Sprintf("writer%d/genuine/%d.png", w, n)
				if f {
					p = fmt.Sprintf("writer%d/forged/%d.png", w, n)
				}
			default:
				return fmt.Errorf("unknown layout %q", layout)
			}
			var b bytes.Buffer
			if err := png.Encode(&b, Scan(w, n, f, 300, 150)); err != nil {
				return err
			}
			p = filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
