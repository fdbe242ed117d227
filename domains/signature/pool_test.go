package signature_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/signature"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"golang.org/x/image/tiff"
)

func copyFile(t *testing.T, from, to string) {
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

func writerNamed(ws []*signature.Writer, id string) *signature.Writer {
	for _, w := range ws {
		if w.ID() == id {
			return w
		}
	}
	return nil
}

// TestPool checks two sets pooled by writer: a listed duplicate writer
// merged into its twin, an exact duplicate scan across the sets warned
// and dropped, and writer-disjoint splits in proportion to the sets (or a
// whole set as the test).
func TestPool(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "setA"), filepath.Join(root, "setB")
	if err := signature.WriteSynthetic(a, "generic", 6, 4, 2); err != nil {
		t.Fatal(err)
	}
	// setB's writers are 007–010: the synthetic scans of a writer number
	// are the same in every set.
	if err := signature.WriteSynthetic(b, "sigcomp", 10, 4, 2); err != nil {
		t.Fatal(err)
	}
	for w := 1; w <= 6; w++ {
		os.RemoveAll(filepath.Join(b, fmt.Sprintf("sign_data/train/%03d", w)))
		os.RemoveAll(filepath.Join(b, fmt.Sprintf("sign_data/train/%03d_forg", w)))
	}
	// writer6 of setA is writer1 again (the same scans, listed), as NFI's
	// owners 025–030 are others.
	csv := "file,same_scan_as\n"
	for n := 1; n <= 4; n++ {
		csv += fmt.Sprintf("writer6/genuine/%d.png,writer1/genuine/%d.png\n", n, n)
	}
	os.WriteFile(filepath.Join(a, signature.DuplicatesFile), []byte(csv), 0o644)
	// setB's writer 008 holds a copy of setA's writer2/genuine/1.png.
	copyFile(t, filepath.Join(a, "writer2/genuine/1.png"), filepath.Join(b, "sign_data/train/008/008_99.PNG"))
	pre := signature.Preprocess(signature.DefaultInput)
	var logs bytes.Buffer
	ws, err := signature.Pool([]string{a, b}, pre, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 9 {
		t.Fatalf("%d writers, want 9 (5 of setA after the merge, 4 of setB)", len(ws))
	}
	if w := writerNamed(ws, "setA/writer1"); w == nil || len(w.Genuine) != 4 || len(w.Forged) != 4 {
		t.Errorf("setA/writer1 after merging writer6: %+v; want 4 genuine and 4 forged", w)
	}
	if writerNamed(ws, "setA/writer6") != nil {
		t.Error("setA/writer6, listed as writer1's scans, is still a writer")
	}
	if w := writerNamed(ws, "setB/008"); w == nil || len(w.Genuine) != 4 {
		t.Errorf("setB/008 kept a scan of setA/writer2: %+v, want 4 genuine", w)
	}
	if !strings.Contains(logs.String(), "duplicate scan dropped") || !strings.Contains(logs.String(), "008_99.PNG") {
		t.Errorf("no warning naming the duplicate scan: %q", logs.String())
	}

	for _, tc := range []struct {
		name             string
		extra            map[string]string
		test, val, train map[string]int // writers of each set
	}{
		{"proportional", map[string]string{"test": "3", "val": "2"}, map[string]int{"setA": 2, "setB": 1}, map[string]int{"setA": 1, "setB": 1}, map[string]int{"setA": 2, "setB": 2}},
		{"whole set as test", map[string]string{"test_set": "setB", "val": "1"}, map[string]int{"setB": 4}, map[string]int{"setA": 1}, map[string]int{"setA": 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]string{"more": b}
			for k, v := range tc.extra {
				extra[k] = v
			}
			d, err := signature.Open(core.DomainOptions{DataDir: a, Extra: extra})
			if err != nil {
				t.Fatal(err)
			}
			count := func(idx []int) map[string]int {
				m := map[string]int{}
				for _, i := range idx {
					m[d.Writers[i].Set]++
				}
				return m
			}
			seen := map[int]string{}
			for part, idx := range map[string][]int{"test": d.Test, "val": d.Val, "train": d.Train} {
				for _, i := range idx {
					if p, ok := seen[i]; ok {
						t.Errorf("writer %s is in %s and %s", d.Writers[i].ID(), p, part)
					}
					seen[i] = part
				}
			}
			for part, got := range map[string]map[string]int{"test": count(d.Test), "val": count(d.Val), "train": count(d.Train)} {
				want := map[string]map[string]int{"test": tc.test, "val": tc.val, "train": tc.train}[part]
				for _, set := range []string{"setA", "setB"} {
					if got[set] != want[set] {
						t.Errorf("%s: %d writers of %s, want %d", part, got[set], set, want[set])
					}
				}
			}
		})
	}

	// Bad input: each one line saying what and where.
	only := filepath.Join(root, "setC")
	if err := signature.WriteSynthetic(only, "generic", 3, 3, 2); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(only, "writer2/genuine"))
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"forgeries but no genuine signatures", []string{only}, "writer2 has 2 forged signature(s) but no genuine one"},
		{"two sets of one name", []string{a, filepath.Join(root, "other", "setA")}, "two data sets named setA"},
		{"missing set", []string{filepath.Join(root, "missing")}, "missing"},
	} {
		os.MkdirAll(filepath.Join(root, "other", "setA"), 0o755)
		_, err := signature.Pool(tc.sets, pre, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := signature.Open(core.DomainOptions{DataDir: a, Extra: map[string]string{"more": b, "test_set": "setZ"}}); err == nil || !strings.Contains(err.Error(), "no such set") {
		t.Errorf("test_set of no set: %v", err)
	}
}

// TestPaletteTIFF checks that a scan saved as a palette TIFF prepares
// exactly as the same scan in gray.
func TestPaletteTIFF(t *testing.T) {
	rgb := signature.Scan(2, 3, false, 300, 150)
	gray := image.NewGray(rgb.Bounds())
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.Gray{uint8(i)}
	}
	pm := image.NewPaletted(rgb.Bounds(), pal)
	for i := range gray.Pix {
		gray.Pix[i] = rgb.Pix[4*i]
		pm.Pix[i] = rgb.Pix[4*i]
	}
	var b bytes.Buffer
	if err := tiff.Encode(&b, pm, nil); err != nil {
		t.Fatal(err)
	}
	img, err := imageset.Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Paletted); !ok {
		t.Fatalf("the TIFF decodes as %T, not in palette mode", img)
	}
	pre := signature.Preprocess(signature.DefaultInput)
	x, err := imageset.Prepare(img, pre)
	if err != nil {
		t.Fatalf("palette TIFF: %v", err)
	}
	y, err := imageset.Prepare(gray, pre)
	if err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("palette TIFF and gray scan differ at %d: %v and %v", i, x[i], y[i])
		}
	}
}

// TestAllBackground checks pages with no stroke: Otsu's threshold splits
// paper shading or scanner noise in two, and neither is ink.
func TestAllBackground(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := image.NewGray(image.Rect(0, 0, 400, 200))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(200 + rng.IntN(56))
	}
	shade := image.NewGray(image.Rect(0, 0, 400, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 400; x++ {
			shade.Pix[y*400+x] = uint8(180 + 75*math.Sin(float64(x)/400*math.Pi/2))
		}
	}
	pre := signature.Preprocess(signature.DefaultInput)
	for name, img := range map[string]image.Image{"scanner noise": noise, "paper shading": shade} {
		_, err := imageset.Prepare(img, pre)
		if err == nil || !strings.Contains(err.Error(), "all background after Otsu") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line saying the page is all background after Otsu's threshold", name, err)
		}
	}
	// A stroke on the same shaded paper is ink.
	for x := 100; x < 300; x++ {
		for y := 95; y < 105; y++ {
			shade.Pix[y*400+x] = 30
		}
	}
	if _, err := imageset.Prepare(shade, pre); err != nil {
		t.Errorf("a stroke on shaded paper: %v", err)
	}
}

// TestPoolOnRealData reads the shared SigComp2011 Dutch and NFI sets into
// one pool: 19 + 24 writers (NFI's owners 025–030 merged into the six
// owners whose scans they reuse), and the default split holds out 10 test
// and 6 validation writers from both sets.
func TestPoolOnRealData(t *testing.T) {
	root := datadir.Domain("signatures")
	if root == "" || datadir.Domain(signature.MoreFolder) == "" {
		t.Skip("SIAMESE_DATA is not set (or lacks signatures/ or signatures_nfi/): skipping the pooled signature sets")
	}
	d, err := signature.Open(core.DomainOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]int{}
	genuine, forged := 0, 0
	for _, w := range d.Writers {
		sets[w.Set]++
		genuine += len(w.Genuine)
		forged += len(w.Forged)
	}
	if sets["signatures"] != 19 || sets["signatures_nfi"] != 24 || len(sets) != 2 {
		t.Errorf("writers by set %v; want 19 of signatures and 24 of signatures_nfi", sets)
	}
	// 347 + 120 genuine (30 NFI scans are duplicates), 238 + 150 forged.
	if genuine != 467 || forged != 388 {
		t.Errorf("%d genuine and %d forged signatures; want 467 and 388", genuine, forged)
	}
	if w := writerNamed(d.Writers, "signatures_nfi/014"); w == nil || len(w.Genuine) != 5 || len(w.Forged) != 10 {
		t.Errorf("NFI owner 014 (025's scans merged in): %+v; want 5 genuine and 10 forged", w)
	}
	if len(d.Test) != 10 || len(d.Val) != 6 || len(d.Train) != 27 {
		t.Errorf("split %d/%d/%d, want 10 test, 6 validation, 27 training", len(d.Test), len(d.Val), len(d.Train))
	}
	for _, part := range [][]int{d.Test, d.Val} {
		n := map[string]int{}
		for _, i := range part {
			n[d.Writers[i].Set]++
		}
		if n["signatures"] == 0 || n["signatures_nfi"] == 0 {
			t.Errorf("a held-out part draws from one set only: %v", n)
		}
	}
}

// TestSizesNormalised checks that scans of one signature at different
// resolutions prepare alike: NFI's owners 025–030 reuse the genuine scans
// of six other owners at 600 px instead of about 200.
func TestSizesNormalised(t *testing.T) {
	root := datadir.Domain(signature.MoreFolder)
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no signatures_nfi/): skipping the NFI resolution pairs")
	}
	src, err := imageset.Open(datadir.Archive(root, "*.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	pre := signature.Preprocess(signature.DefaultInput)
	read := func(p string) []float32 {
		x, err := src.ReadImage(p, pre)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	corr := func(a, b []float32) float64 {
		var ma, mb float64
		for i := range a {
			ma, mb = ma+float64(a[i]), mb+float64(b[i])
		}
		ma, mb = ma/float64(len(a)), mb/float64(len(b))
		var sab, saa, sbb float64
		for i := range a {
			da, db := float64(a[i])-ma, float64(b[i])-mb
			sab, saa, sbb = sab+da*db, saa+da*da, sbb+db*db
		}
		return sab / math.Sqrt(saa*sbb)
	}
	for _, tc := range []struct{ big, small, other string }{
		{"nfi/025/genuine/NFI-02501025.png", "nfi/014/genuine/NFI-01401014.png", "nfi/014/genuine/NFI-01402014.png"},
		{"nfi/026/genuine/NFI-02601026.png", "nfi/006/genuine/NFI-00601006.png", "nfi/006/genuine/NFI-00602006.png"},
	} {
		same, other := corr(read(tc.big), read(tc.small)), corr(read(tc.big), read(tc.other))
		t.Logf("%s against the same scan at low resolution: correlation %.3f; against another of the writer's: %.3f", tc.big, same, other)
		// One-pixel strokes shifted by a fraction of a pixel decorrelate
		// fast, so the bound is loose; another signature of the same writer
		// is the yardstick (about 0.1).
		if same < 0.6 || same < 3*other {
			t.Errorf("%s and %s, one scan at two resolutions, correlate %.3f (another signature of the writer %.3f); want ≥ 0.6 and 3 times that", tc.big, tc.small, same, other)
		}
	}
}
