package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/domains/signature"
	"golang.org/x/image/tiff"
)

func TestSignatureCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := signature.WriteSynthetic(data, "sigcomp", 5, 7, 2); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "sig.model")
	if _, err := run(t, "signature", "train", "--data", data, "--opt", "test=2", "--opt", "val=1", "--steps", "3", "--items", "16", "--pairs", "16", "-o", model); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "signature", "eval", "--model", model, "--data", data, "--task", "test", "--json")
	if err != nil || !strings.Contains(out, `"eer"`) {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	gal := filepath.Join(dir, "refs.gallery")
	genuine := func(w, n int) string {
		return filepath.Join(data, fmt.Sprintf("sign_data/train/%03d/%03d_%02d.PNG", w, w, n))
	}
	forged := filepath.Join(data, "sign_data/train/001_forg/0208001_08.png")
	if _, err := run(t, "signature", "enroll", "-m", model, "-g", gal, "--writer", "001", genuine(1, 1), genuine(1, 2), genuine(1, 3)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{genuine(1, 6), forged} {
		out, err := run(t, "signature", "verify", "-m", model, "-g", gal, "--writer", "001", "--json", q)
		if err != nil || !strings.Contains(out, `"verdict"`) || !strings.Contains(out, `"aggregate": "mean"`) || !strings.Contains(out, `"normalized": true`) {
			t.Errorf("verify %s: %v\n%s", q, err, out)
		}
	}
	if out, err := run(t, "signature", "verify", "-m", model, "-g", gal, "--writer", "001", "--aggregate", "max", genuine(1, 7)); err != nil ||
		!(strings.Contains(out, "genuine") || strings.Contains(out, "forged")) {
		t.Errorf("verify --aggregate max: %v\n%s", err, out)
	}
	blank := filepath.Join(dir, "blank.png")
	page := image.NewGray(image.Rect(0, 0, 300, 150))
	for i := range page.Pix {
		page.Pix[i] = 240
	}
	writeImage(t, blank, page)
	corrupt := filepath.Join(dir, "bad.png")
	os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\ngarbage"), 0o644)
	// An all-background page: paper shading, nothing darker than it.
	shaded := filepath.Join(dir, "shaded.png")
	shade := image.NewGray(image.Rect(0, 0, 300, 150))
	for i := range shade.Pix {
		shade.Pix[i] = uint8(190 + 60*(i%300)/300)
	}
	writeImage(t, shaded, shade)
	// A writer folder with forgeries only (WRITER/forged/).
	forgedOnly := filepath.Join(dir, "writer002")
	os.MkdirAll(filepath.Join(forgedOnly, "forged"), 0o755)
	for _, f := range []string{"0102002_01.png", "0102002_02.png"} {
		copyTo(t, forged, filepath.Join(forgedOnly, "forged", f))
	}
	before, _ := os.ReadFile(gal)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "-m", model, "-g", gal, "--writer", "999", genuine(2, 1)}, `no writer named "999"`},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002"}, "give 2 to"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1)}, "give 2 to"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1), blank}, "no ink"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1), corrupt}, "bad.png"},
		{[]string{"verify", "-m", model, "-g", gal, "--writer", "001", blank}, "no ink"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1), shaded}, "all background after Otsu"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", forgedOnly}, "forged signatures only"},
		{[]string{"verify", "-m", model, "-g", gal, "--writer", "001", "--aggregate", "median", genuine(1, 7)}, "want max or mean"},
	} {
		_, err := run(t, append([]string{"signature"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one line saying %q", tc.args, err, tc.want)
		}
	}
	if after, _ := os.ReadFile(gal); string(after) != string(before) {
		t.Error("a failed command changed the gallery")
	}
	out, err = run(t, "signature", "references", "list", "-g", gal)
	if err != nil || !strings.Contains(out, "001\t3 signature(s)") {
		t.Errorf("references list: %v\n%s", err, out)
	}
	// A writer folder laid out WRITER/genuine/ enrolls its genuine scans;
	// one of them is writer 001's scan too: enrolled, with a warning.
	w3 := filepath.Join(dir, "writer003")
	copyTo(t, genuine(3, 1), filepath.Join(w3, "genuine", "a.png"))
	copyTo(t, genuine(3, 2), filepath.Join(w3, "genuine", "b.png"))
	copyTo(t, genuine(1, 1), filepath.Join(w3, "genuine", "c.png"))
	copyTo(t, forged, filepath.Join(w3, "forged", "x.png"))
	out, err = run(t, "signature", "enroll", "-m", model, "-g", gal, "--writer", "003", w3)
	if err != nil || !strings.Contains(out, "from 3 signature(s)") || !strings.Contains(out, "c.png is already enrolled as a signature of writer 001") {
		t.Errorf("enroll a writer folder holding a scan of writer 001: %v\n%s", err, out)
	}
	// A palette TIFF of a questioned signature scores as the same scan in PNG.
	tif := filepath.Join(dir, "q.tif")
	writePaletteTIFF(t, genuine(1, 6), tif)
	var scores []string
	for _, q := range []string{genuine(1, 6), tif} {
		out, err := run(t, "signature", "verify", "-m", model, "-g", gal, "--writer", "001", "--json", q)
		if err != nil {
			t.Fatalf("verify %s: %v", q, err)
		}
		var v struct{ Score float64 }
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("verify --json: %v\n%s", err, out)
		}
		scores = append(scores, fmt.Sprint(v.Score))
	}
	if scores[0] != scores[1] {
		t.Errorf("a palette TIFF scores %s, the same scan in PNG %s", scores[1], scores[0])
	}
}

func copyTo(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writePaletteTIFF writes a PNG scan as a TIFF in palette mode.
func writePaletteTIFF(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.Gray{uint8(i)}
	}
	// Each pixel's index is its gray, the luminance the ink kind reads.
	pm := image.NewPaletted(img.Bounds(), pal)
	b0 := img.Bounds()
	for y := b0.Min.Y; y < b0.Max.Y; y++ {
		for x := b0.Min.X; x < b0.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			pm.SetColorIndex(x, y, uint8((19595*(r>>8)+38470*(g>>8)+7471*(b>>8)+1<<15)>>16))
		}
	}
	var b bytes.Buffer
	if err := tiff.Encode(&b, pm, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
