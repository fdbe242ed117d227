package signature_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/signature"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree writes a synthetic tree in a layout.
func tree(t testing.TB, layout string, writers, genuine, forged int) string {
	dir := t.TempDir()
	if err := signature.WriteSynthetic(dir, layout, writers, genuine, forged); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLayouts(t *testing.T) {
	for _, layout := range []string{"sigcomp", "cedar", "generic"} {
		t.Run(layout, func(t *testing.T) {
			ws, err := signature.Load(tree(t, layout, 3, 4, 2), signature.Preprocess(signature.DefaultInput))
			if err != nil {
				t.Fatal(err)
			}
			if len(ws) != 3 {
				t.Fatalf("%d writers, want 3", len(ws))
			}
			for _, w := range ws {
				if len(w.Genuine) != 4 || len(w.Forged) != 2 {
					t.Errorf("writer %s: %d genuine, %d forged; want 4 and 2", w.Name, len(w.Genuine), len(w.Forged))
				}
			}
		})
	}
}

func TestConformance(t *testing.T) {
	d, err := signature.Open(core.DomainOptions{DataDir: tree(t, "sigcomp", 6, 6, 3), Extra: map[string]string{"test": "2", "val": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Test) != 2 || len(d.Val) != 1 || len(d.Train) != 3 {
		t.Fatalf("split %d/%d/%d, want 2/1/3", len(d.Test), len(d.Val), len(d.Train))
	}
	coretest.TestDomain(t, d)
	// Negatives of a batch are genuine–forgery pairs of one writer or
	// genuine pairs of two writers; positives are genuine pairs of one.
	eps, err := d.Episodes(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		forged := 0
		for _, l := range ep.QueryLabel {
			forged += l
		}
		if len(ep.Support) != signature.References || forged != 3 {
			t.Errorf("episode: %d references and %d forgeries questioned; want %d and 3", len(ep.Support), forged, signature.References)
		}
	}
}

// TestInk checks SigNet's preprocessing: the ink is bright on a zero
// background, cropped and centred whatever the margins of the page.
func TestInk(t *testing.T) {
	pre := signature.Preprocess([]int{1, 32, 64})
	page := func(ox, oy int) image.Image {
		img := image.NewGray(image.Rect(0, 0, 400, 300))
		for i := range img.Pix {
			img.Pix[i] = 240
		}
		for x := 0; x < 100; x++ { // a 100×50 ink box outline
			img.SetGray(ox+x, oy, color.Gray{20})
			img.SetGray(ox+x, oy+49, color.Gray{20})
		}
		for y := 0; y < 50; y++ {
			img.SetGray(ox, oy+y, color.Gray{20})
			img.SetGray(ox+99, oy+y, color.Gray{20})
		}
		return img
	}
	a, err := imageset.Prepare(page(10, 10), pre)
	if err != nil {
		t.Fatal(err)
	}
	b, err := imageset.Prepare(page(250, 200), pre)
	if err != nil {
		t.Fatal(err)
	}
	bg := (0 - pre.Mean) / pre.Std
	maxDiff, bright := 0.0, 0
	for i := range a {
		maxDiff = max(maxDiff, math.Abs(float64(a[i]-b[i])))
		if a[i] > bg+1 {
			bright++
		}
	}
	if maxDiff > 1e-4 {
		t.Errorf("the same ink at two places of the page prepares differently (max diff %g)", maxDiff)
	}
	// The box's outline touches all four sides of the 64×32 input.
	if a[0] <= bg+1 || a[len(a)-1] <= bg+1 || a[32*64/2+32] > bg+0.01 {
		t.Errorf("ink not cropped to the input (corner %v, last %v, centre %v, background %v)", a[0], a[len(a)-1], a[32*64/2+32], bg)
	}
	if bright == 0 || bright > len(a)/2 {
		t.Errorf("%d bright pixels of %d", bright, len(a))
	}
}

func TestBadInput(t *testing.T) {
	pre := signature.Preprocess(signature.DefaultInput)
	blank := image.NewGray(image.Rect(0, 0, 300, 150))
	for i := range blank.Pix {
		blank.Pix[i] = 245
	}
	if _, err := imageset.Prepare(blank, pre); err == nil || !strings.Contains(err.Error(), "no ink") {
		t.Errorf("blank page: %v", err)
	}
	dir := tree(t, "sigcomp", 3, 3, 1)
	bad := filepath.Join(dir, "sign_data/train/002/002_02.PNG")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	if _, err := signature.Load(dir, pre); err == nil || !strings.Contains(err.Error(), "002_02.PNG") || strings.Contains(err.Error(), "\n") {
		t.Errorf("corrupt file: %v", err)
	}
	writePNG(t, bad, blank)
	if _, err := signature.Load(dir, pre); err == nil || !strings.Contains(err.Error(), "002_02.PNG") || !strings.Contains(err.Error(), "no ink") {
		t.Errorf("blank page in a set: %v", err)
	}
	if _, err := signature.Load(filepath.Join(dir, "missing"), pre); err == nil {
		t.Error("missing folder: no error")
	}
}

// TestLargeScan prepares an 8000×8000 scan and checks that no more than
// about one full-size copy of it is ever allocated (decoding it needs one).
func TestLargeScan(t *testing.T) {
	if testing.Short() {
		t.Skip("large scan: skipped in -short mode")
	}
	rgb := signature.Scan(3, 1, false, 8000, 8000)
	gray := image.NewGray(rgb.Bounds())
	for i := range gray.Pix {
		gray.Pix[i] = rgb.Pix[4*i]
	}
	rgb = nil
	var b bytes.Buffer
	if err := png.Encode(&b, gray); err != nil {
		t.Fatal(err)
	}
	gray = nil
	raw := b.Bytes()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	img, err := imageset.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	x, err := imageset.Prepare(img, signature.Preprocess(signature.DefaultInput))
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if len(x) != 64*128 {
		t.Fatalf("%d values, want %d", len(x), 64*128)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 2*8000*8000 {
		t.Errorf("preparing an 8000×8000 gray scan allocated %d MiB; the decoded scan is %d MiB", alloc>>20, 8000*8000>>20)
	}
}

// TestUnseenWriters trains on 13 writers of the shared SigComp2011 Dutch
// subset (900 steps) and verifies the 6 never seen: each questioned
// signature against 5 genuine references (mean score, normalised by the
// references' scores among themselves), genuine versus
// skilled forgeries.
func TestUnseenWriters(t *testing.T) {
	root := datadir.Domain("signatures")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no signatures/): skipping the signature accuracy test")
	}
	d, err := signature.Open(core.DomainOptions{DataDir: root, Extra: map[string]string{"val": "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Writers) != 19 {
		t.Fatalf("%d writers, want 19", len(d.Writers))
	}
	m, err := core.New(d.Desc.Spec, d.Desc.Preprocess, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eps, err := d.Episodes(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	// 900 steps: about 4 minutes on 2 idle cores; a step budget keeps the
	// result reproducible.
	tr := &train.Trainer{Model: m, Domain: d, Config: train.Config{Schedule: "cosine", Steps: 900, Seed: 1, Augment: true}}
	res, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := metrics.VerifyEnrolled(ctx, m, eps, signature.Rule)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d steps; 6 unseen writers, %d questioned (%d genuine): EER %.1f%%, ROC AUC %.3f", res.Steps, v.Pairs, v.Positives, 100*v.EER, v.AUC)
	if v.EER > 0.25 {
		t.Errorf("EER %.1f%% against skilled forgeries of unseen writers, want ≤ 25%%", 100*v.EER)
	}
}
