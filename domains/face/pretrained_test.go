package face_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/scenes"
	"github.com/siamesenet/siamese/internal/tinyyolo"
	_ "github.com/siamesenet/siamese/towers/resnet"
)

var (
	importOnce sync.Once
	imported   *core.Model
	importErr  error
)

// pretrained is the imported face-api.js model, built once per test run.
func pretrained(t *testing.T) *core.Model {
	t.Helper()
	tgz := faceapitest.Tarball(t)
	importOnce.Do(func() { imported, importErr = face.Import(tgz, face.ImportOptions{}) })
	if importErr != nil {
		t.Fatal(importErr)
	}
	return imported
}

func faces(t *testing.T) *face.Faces {
	t.Helper()
	m := pretrained(t)
	f, err := face.NewFaces(m.Preprocess, m.Assets)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// dataSource opens a folder of $SIAMESE_DATA (skipping without it).
func dataSource(t *testing.T, folder, archive string) *imageset.Source {
	t.Helper()
	dir := datadir.Domain(folder)
	if dir == "" {
		t.Skipf("SIAMESE_DATA is not set: no %s photos", folder)
	}
	src, err := imageset.Open(datadir.Archive(dir, archive))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func decodeAll(t *testing.T, src *imageset.Source, names []string) []image.Image {
	t.Helper()
	out := make([]image.Image, len(names))
	for i, n := range names {
		raw, err := fs.ReadFile(src.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = imageset.Decode(raw); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	return out
}

// Every one of ORL's 400 photos has a face found (recall ≥ 99%).
func TestDetectionRecallORL(t *testing.T) {
	f := faces(t)
	src := dataSource(t, "att_faces", "att_faces.zip")
	var names []string
	fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pgm") {
			names = append(names, p)
		}
		return nil
	})
	if len(names) != 400 {
		t.Fatalf("%d ORL photos, want 400", len(names))
	}
	imgs := decodeAll(t, src, names)
	found := make([]bool, len(imgs))
	imageset.Each(len(imgs), func(i int) {
		b, err := f.Detect(imgs[i])
		found[i] = err == nil && len(b) > 0
	})
	n := 0
	for i, ok := range found {
		if ok {
			n++
		} else {
			t.Logf("no face found in %s", names[i])
		}
	}
	t.Logf("ORL: a face found in %d of %d photos", n, len(names))
	if n < 396 {
		t.Errorf("recall %d/400, want at least 99%% (396)", n)
	}
}

// lfwView2 opens LFW from $SIAMESE_DATA (skipping without it) with View
// 2's folds; it is closed when the test ends.
func lfwView2(t *testing.T) (*face.LFW, [][]face.Pair) {
	t.Helper()
	dir := datadir.Domain(face.LFWFolder)
	if dir == "" {
		t.Skip("SIAMESE_DATA is not set: no LFW photos")
	}
	lfw, err := face.OpenLFW(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lfw.Close() })
	folds, err := lfw.Pairs("pairs.txt")
	if err != nil {
		t.Fatal(err)
	}
	return lfw, folds
}

// LFW View 2 images pasted at random places and sizes (60 to 240 pixels,
// in 640×480 scenes) are found: recall over 300 of them, a box counting
// when it overlaps the pasted square by IoU ≥ 0.4. (The detection
// settings were chosen on View 1's images, not these.)
func TestDetectionRecallLFWScenes(t *testing.T) {
	f := faces(t)
	lfw, folds := lfwView2(t)
	seen := map[string]bool{}
	var names []string
	for _, fold := range folds {
		for i, p := range fold {
			if i%20 == 0 && !seen[p.A] && len(names) < 300 {
				seen[p.A] = true
				names = append(names, p.A)
			}
		}
	}
	imgs := decodeAll(t, lfw.Source(), names)
	rng := rand.New(rand.NewPCG(2, 2))
	type scene struct {
		img   image.Image
		truth tinyyolo.Box
	}
	all := make([]scene, len(imgs))
	for i, img := range imgs {
		sc, at := scenes.Paste(img, 640, 480, 60, 240, rng)
		all[i] = scene{sc, tinyyolo.Box{X: float64(at.Min.X), Y: float64(at.Min.Y), W: float64(at.Dx()), H: float64(at.Dy())}}
	}
	hit := make([]bool, len(all))
	imageset.Each(len(all), func(i int) {
		boxes, _ := f.Detect(all[i].img)
		for _, b := range boxes {
			if tinyyolo.IoU(b, all[i].truth) >= 0.4 {
				hit[i] = true
			}
		}
	})
	n := 0
	for _, h := range hit {
		if h {
			n++
		}
	}
	t.Logf("LFW scenes: the face found in %d of %d (%.1f%%)", n, len(all), 100*float64(n)/float64(len(all)))
	if float64(n) < 0.99*float64(len(all)) {
		t.Errorf("recall %d/%d, below 99%%", n, len(all))
	}
}

// Several faces in one photo give one result each, with its box; a photo
// without a face, a truncated file and a non-image are one-line errors.
func TestFindFaces(t *testing.T) {
	m := pretrained(t)
	src := dataSource(t, face.LFWFolder, "lfw.zip")
	imgs := decodeAll(t, src, []string{face.LFWImage("Aaron_Eckhart", 1), face.LFWImage("Abdullah_Gul", 1)})
	group := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range group.Pix {
		group.Pix[i] = uint8(90 + i%7)
		if i%4 == 3 {
			group.Pix[i] = 255 // opaque, as a camera's photo is
		}
	}
	at := []image.Rectangle{image.Rect(60, 120, 220, 280), image.Rect(380, 100, 540, 260)}
	for i, img := range imgs {
		drawScaled(group, at[i], img)
	}
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		t.Fatal(err)
	}
	finder, ok := dec.(core.Finder)
	if !ok {
		t.Fatal("the face kind's decoder is not a Finder")
	}
	var buf bytes.Buffer
	png.Encode(&buf, group)
	found, err := finder.Find(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("%d faces found in a photo of two", len(found))
	}
	for _, want := range at {
		best := 0.0
		for _, f := range found {
			best = max(best, tinyyolo.IoU(box(f.Box), box(want)))
		}
		if best < 0.4 {
			t.Errorf("no box overlaps the face at %v (boxes %v, %v)", want, found[0].Box, found[1].Box)
		}
	}

	blank := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range blank.Pix {
		blank.Pix[i] = uint8(i * 7 % 251)
	}
	buf.Reset()
	png.Encode(&buf, blank)
	for _, tc := range []struct {
		name string
		raw  []byte
		want error
		text string
	}{
		{"no face", buf.Bytes(), face.ErrNoFace, "no face found"},
		{"truncated", truncatedJPEG(imgs[0]), nil, "JPEG"},
		{"not an image", []byte("name,photo\nalice,1\n"), nil, "image: unknown format"},
	} {
		_, err := dec.Decode(tc.raw)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", tc.name, err, tc.text)
		}
	}
}

func box(r image.Rectangle) tinyyolo.Box {
	return tinyyolo.Box{X: float64(r.Min.X), Y: float64(r.Min.Y), W: float64(r.Dx()), H: float64(r.Dy())}
}

func drawScaled(dst *image.RGBA, at image.Rectangle, img image.Image) {
	b := img.Bounds()
	for y := at.Min.Y; y < at.Max.Y; y++ {
		for x := at.Min.X; x < at.Max.X; x++ {
			sx := b.Min.X + (x-at.Min.X)*b.Dx()/at.Dx()
			sy := b.Min.Y + (y-at.Min.Y)*b.Dy()/at.Dy()
			dst.Set(x, y, img.At(sx, sy))
		}
	}
}

func truncatedJPEG(img image.Image) []byte {
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, nil)
	return buf.Bytes()[:buf.Len()/2]
}

// A photo too large to decode (20000×20000) is refused from its header,
// before any pixel is allocated.
func TestHugePhoto(t *testing.T) {
	m := pretrained(t)
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	raw := buf.Bytes()
	// Rewrite the IHDR's size (the CRC check comes after the size check).
	raw[16], raw[17], raw[18], raw[19] = 0, 0, 0x4e, 0x20
	raw[20], raw[21], raw[22], raw[23] = 0, 0, 0x4e, 0x20
	binary.BigEndian.PutUint32(raw[29:], crc32.ChecksumIEEE(raw[12:29]))
	_, err = dec.Decode(raw)
	if err == nil || !strings.Contains(err.Error(), "20000×20000") {
		t.Errorf("20000×20000 photo: %v", err)
	}
}

// The imported network as it is, on LFW View 2 (LFW3D crops, taken whole:
// the detection is off for crops): 10-fold accuracy at least 90%.
func TestLFWAsImported(t *testing.T) {
	m := pretrained(t)
	lfw, folds := lfwView2(t)
	if len(folds) != 10 || len(folds[0]) != 600 {
		t.Fatalf("pairs.txt: %d folds of %d pairs, want 10 of 600", len(folds), len(folds[0]))
	}
	pre := m.Preprocess
	pre.Extra = map[string]string{"detect": face.DetectOff}
	dec, err := core.NewDecoder(pre, m.Assets...)
	if err != nil {
		t.Fatal(err)
	}
	embed := lfw.ModelEmbedder(m, dec, 32, nil)
	scored, err := face.ScoreFolds(context.Background(), folds, embed, m.Head.Score)
	if err != nil {
		t.Fatal(err)
	}
	r, err := metrics.CrossValidate(scored)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LFW View 2 as imported: %.2f%% ± %.2f, AUC %.4f, TAR@FAR 1e-3 %.2f%%", 100*r.Mean, 100*r.StdErr, r.AUC, 100*r.TARAt1e3)
	if r.Mean < 0.90 {
		t.Errorf("10-fold accuracy %.2f%%, want at least 90%%", 100*r.Mean)
	}
}

func TestParsePairs(t *testing.T) {
	good := "2\t1\nA\t1\t2\nB\t1\tC\t3\nD\t2\t4\nE\t1\tF\t1\n"
	folds, err := face.ParsePairs(strings.NewReader(good), "p.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(folds) != 2 || !folds[0][0].Same || folds[0][1].Same || folds[1][1].B != "lfw/F/F_0001.jpg" {
		t.Fatalf("parsed %+v", folds)
	}
	if path.Base(folds[0][0].B) != "A_0002.jpg" {
		t.Errorf("image path %s", folds[0][0].B)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "p.txt:1: the file ends early"},
		{"x\n", `p.txt:1: pair count "x" is not a number`},
		{"1\nA\t1\n", "p.txt:2: want name, image, image (a matched pair)"},
		{"1\nA\t1\t2\nB\t1\tC\n", "p.txt:3: want name, image, name, image (a mismatched pair)"},
		{"1\nA\t1\t0\nB\t1\tC\t2\n", `p.txt:2: image number "0"`},
		{"1\nA\t1\t2\n", "p.txt:3: the file ends early"},
		{"1\n..\t1\t2\nB\t1\tC\t2\n", "p.txt:2: a name with a path in it"},
		{"2000\t1000\n", "too many"},
	} {
		_, err := face.ParsePairs(strings.NewReader(tc.in), "p.txt")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParsePairs(f *testing.F) {
	f.Add("2\t1\nA\t1\t2\nB\t1\tC\t3\nD\t2\t4\nE\t1\tF\t1\n")
	f.Add("1\nA\t1\t2\nB\t1\tC\t2\n")
	f.Fuzz(func(t *testing.T, in string) {
		folds, err := face.ParsePairs(strings.NewReader(in), "p")
		if err != nil {
			return
		}
		for _, fold := range folds {
			for _, p := range fold {
				if strings.Contains(p.A+p.B, "..") {
					t.Fatalf("a path escapes: %+v", p)
				}
			}
		}
	})
}

// unseenPairs is the verification of every pair of the test subjects'
// photos.
func unseenPairs(t *testing.T, m *core.Model, d *face.Domain) *metrics.Verification {
	t.Helper()
	var items []core.Item
	var labels []int
	for _, c := range d.Test {
		for _, x := range d.Set.Classes[c].Items {
			items = append(items, core.Item{Dense: x})
			labels = append(labels, c)
		}
	}
	v, err := metrics.VerifyAll(context.Background(), m, items, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ORL's 10 unseen subjects, photos detected and aligned: the imported
// network as it is, then fine-tuned on the 25 training subjects with the
// domain's fine-tuning recipe (its first layers frozen): pair EER ≤ 6%.
func TestORLPretrainedFineTuned(t *testing.T) {
	root := datadir.Domain("att_faces")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no att_faces/): skipping the ORL test")
	}
	imp := pretrained(t)
	pre := imp.Preprocess
	d, err := face.Open(core.DomainOptions{DataDir: root, Preprocess: &pre, Assets: imp.Assets})
	if err != nil {
		t.Fatal(err)
	}
	asIs := unseenPairs(t, imp, d)
	t.Logf("as imported: unseen pair EER %.2f%% (AUC %.4f)", 100*asIs.EER, asIs.AUC)

	path := t.TempDir() + "/m.model"
	if err := imp.Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := core.Load(path) // a copy to train
	if err != nil {
		t.Fatal(err)
	}
	r := *face.Policy.FineTune
	if err := core.FreezeLayers(m.Tower, r.Freeze); err != nil {
		t.Fatal(err)
	}
	cfg := train.FromRecipe(r)
	cfg.Seed = 1
	tr := &train.Trainer{Model: m, Domain: d, Config: cfg}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ft := unseenPairs(t, m, d)
	t.Logf("fine-tuned %d steps in %.0f s: unseen pair EER %.2f%% (AUC %.4f)", res.Steps, res.Seconds, 100*ft.EER, ft.AUC)
	if ft.EER > 0.06 {
		t.Errorf("fine-tuned unseen pair EER %.2f%%, want at most 6%%", 100*ft.EER)
	}
	for i, p := range m.Tower.Params()[:2] { // the stem stayed frozen
		for j, v := range p.Data {
			if v != imp.Tower.Params()[i].Data[j] {
				t.Fatalf("frozen %s changed in training", p.Name)
			}
		}
	}
}
