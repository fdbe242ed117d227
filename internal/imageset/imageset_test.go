package imageset_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

var pre = core.Preprocess{Kind: "image", Width: 8, Height: 8, Channels: 1, Invert: true, Std: 1}

// glyph draws a 16×16 gray image: a bar at a class-dependent position.
func glyph(class, variant int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 0; y < 16; y++ {
		img.SetGray((class*3+variant)%16, y, color.Gray{0})
	}
	return img
}

func encode(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tif":
		err = tiff.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeTree writes files under a folder and into a zip with the same layout.
func writeTree(t *testing.T, files map[string][]byte) (dir, zipPath string) {
	t.Helper()
	root := t.TempDir()
	dir = filepath.Join(root, "tree")
	zipPath = filepath.Join(root, "tree.zip")
	zf, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(name)
		w.Write(data)
	}
	zw.Close()
	zf.Close()
	return dir, zipPath
}

func TestLoadTrees(t *testing.T) {
	formats := []string{"png", "jpg", "gif", "bmp", "tif"}
	nested := map[string][]byte{}
	flat := map[string][]byte{}
	for c := 0; c < 4; c++ {
		for v := 0; v < 3; v++ {
			f := formats[(c+v)%len(formats)]
			data := encode(t, f, glyph(c, v))
			nested[filepath.Join([]string{"alpha", "beta"}[c/2], "char"+string(rune('a'+c)), "img"+string(rune('0'+v))+"."+f)] = data
			flat[filepath.Join("person"+string(rune('a'+c)), "p"+string(rune('0'+v))+"."+f)] = data
		}
	}
	for _, tc := range []struct {
		name   string
		files  map[string][]byte
		groups int
	}{{"nested", nested, 2}, {"flat", flat, 1}} {
		dir, zp := writeTree(t, tc.files)
		for _, src := range []string{dir, zp} {
			set, err := imageset.Load(src, imageset.LoadOptions{Pre: pre})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, src, err)
			}
			if len(set.Classes) != 4 || set.Images() != 12 {
				t.Fatalf("%s: %d classes, %d images; want 4 and 12", src, len(set.Classes), set.Images())
			}
			groups := map[string]bool{}
			for _, c := range set.Classes {
				groups[c.Group] = true
				if len(c.Items[0]) != 64 {
					t.Fatalf("item has %d values, want 64", len(c.Items[0]))
				}
			}
			if len(groups) != tc.groups {
				t.Errorf("%s: %d groups, want %d", src, len(groups), tc.groups)
			}
			// inverted: the dark bar is bright, the paper is 0
			x := set.Classes[0].Items[0]
			if x[63] > 0.1 {
				t.Errorf("%s: paper pixel %v after inversion, want ≈ 0", src, x[63])
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	good := encode(t, "png", glyph(1, 1))
	corrupt := append([]byte(nil), good[:len(good)/2]...)
	_, zp := writeTree(t, map[string][]byte{"a/1.png": good, "a/2.png": good, "b/1.png": good, "b/bad.png": corrupt})
	_, err := imageset.Load(zp, imageset.LoadOptions{Pre: pre})
	if err == nil || !strings.Contains(err.Error(), "tree.zip:b/bad.png") || strings.Contains(err.Error(), "\n") {
		t.Errorf("corrupt PNG in zip: %v; want one line naming tree.zip:b/bad.png", err)
	}
	_, zp = writeTree(t, map[string][]byte{"a/1.png": good, "a/2.png": good, "lonely/1.png": good})
	_, err = imageset.Load(zp, imageset.LoadOptions{Pre: pre})
	if err == nil || !strings.Contains(err.Error(), "tree.zip:lonely") || !strings.Contains(err.Error(), "1 image") {
		t.Errorf("single-image class: %v; want an error naming tree.zip:lonely", err)
	}
	_, err = imageset.Load("/no/such/folder", imageset.LoadOptions{Pre: pre})
	if err == nil || !strings.Contains(err.Error(), "/no/such/folder") {
		t.Errorf("missing path: %v", err)
	}
	notZip := filepath.Join(t.TempDir(), "x.zip")
	os.WriteFile(notZip, []byte("not a zip"), 0o644)
	if _, err = imageset.Load(notZip, imageset.LoadOptions{Pre: pre}); err == nil || !strings.Contains(err.Error(), "x.zip") {
		t.Errorf("not a zip: %v", err)
	}
	empty := t.TempDir()
	if _, err = imageset.Load(empty, imageset.LoadOptions{Pre: pre}); err == nil || !strings.Contains(err.Error(), "no class folders") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestPrepareRGB(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 10, 6))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+3] = 255, 255
	}
	x, err := imageset.Prepare(img, core.Preprocess{Width: 5, Height: 3, Channels: 3, Mean: 0.5, Std: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(x) != 45 || x[0] != 1 || x[15] != -1 || x[30] != -1 {
		t.Errorf("RGB planes: len %d, r %v g %v b %v; want 45, 1, -1, -1", len(x), x[0], x[15], x[30])
	}
}

func testSet(classes, per int) *imageset.Set {
	s := &imageset.Set{Pre: pre}
	for c := 0; c < classes; c++ {
		cl := imageset.Class{Name: string(rune('a' + c)), Group: []string{"g1", "g2"}[c%2]}
		for i := 0; i < per; i++ {
			x := make([]float32, 64)
			x[0], x[1] = float32(c), float32(i)
			cl.Items = append(cl.Items, x)
		}
		s.Classes = append(s.Classes, cl)
	}
	return s
}

func TestPairSampler(t *testing.T) {
	set := testSet(10, 5)
	ps := &imageset.PairSampler{Set: set, Classes: imageset.AllClasses(set), SameGroup: 1}
	req := core.PairRequest{Seed: 3, Items: 24, Pairs: 40}
	bt, err := ps.Batch(req, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.Items) > 24 || len(bt.A) != 40 {
		t.Fatalf("%d items, %d pairs", len(bt.Items), len(bt.A))
	}
	pos, sameGroup := 0, 0
	for i := range bt.A {
		a, b := bt.Items[bt.A[i]].Dense, bt.Items[bt.B[i]].Dense
		same := a[0] == b[0]
		if same != (bt.Y[i] == 1) {
			t.Fatalf("pair %d labelled %v but classes %v and %v", i, bt.Y[i], a[0], b[0])
		}
		if bt.A[i] == bt.B[i] {
			t.Fatalf("pair %d pairs an item with itself", i)
		}
		if same {
			pos++
		} else if int(a[0])%2 == int(b[0])%2 {
			sameGroup++
		}
	}
	if pos != 20 {
		t.Errorf("%d positive pairs of 40, want 20", pos)
	}
	if sameGroup != 20 {
		t.Errorf("%d of 20 negatives from the same group with SameGroup=1", sameGroup)
	}
	again, _ := ps.Batch(req, 7)
	other, _ := ps.Batch(req, 8)
	if again.A[3] != bt.A[3] || again.Items[5].Dense[0] != bt.Items[5].Dense[0] {
		t.Error("the batch of one step is not deterministic")
	}
	differs := false
	for i := range other.A {
		if other.A[i] != bt.A[i] || other.Items[i%len(other.Items)].Dense[0] != bt.Items[i%len(bt.Items)].Dense[0] {
			differs = true
		}
	}
	if !differs {
		t.Error("two steps gave the same batch")
	}
}

func TestEpisodes(t *testing.T) {
	set := testSet(8, 6)
	eps, err := set.Episodes(imageset.AllClasses(set), 4, 3, 2, 5, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 5 {
		t.Fatalf("%d episodes", len(eps))
	}
	for _, ep := range eps {
		if len(ep.Support) != 12 || len(ep.Query) != 8 {
			t.Fatalf("support %d query %d, want 12 and 8", len(ep.Support), len(ep.Query))
		}
		classOf := map[int]float32{}
		group := -1
		for i, it := range ep.Support {
			classOf[ep.SupportLabel[i]] = it.Dense[0]
			if group >= 0 && int(it.Dense[0])%2 != group {
				t.Fatal("within-group episode mixes groups")
			}
			group = int(it.Dense[0]) % 2
		}
		for i, it := range ep.Query {
			if classOf[ep.QueryLabel[i]] != it.Dense[0] {
				t.Fatal("query label does not match its support class")
			}
			for _, s := range ep.Support {
				if s.Dense[0] == it.Dense[0] && s.Dense[1] == it.Dense[1] {
					t.Fatal("a query is also a support item")
				}
			}
		}
	}
	if _, err := set.Episodes(imageset.AllClasses(set), 20, 1, 1, 1, false, 1); err == nil {
		t.Error("20-way episodes from 8 classes: no error")
	}
}

func TestAffine(t *testing.T) {
	x := make([]float32, 28*28)
	for i := 10; i < 18; i++ {
		x[14*28+i] = 1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	none := imageset.Affine{ScaleLo: 1, ScaleHi: 1}.Apply(x, 1, 28, 28, rng)
	for i := range x {
		if d := none[i] - x[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("zero distortion changed pixel %d: %v → %v", i, x[i], none[i])
		}
	}
	changed := 0
	for k := 0; k < 10; k++ {
		y := imageset.KochAffine.Apply(x, 1, 28, 28, rng)
		var sum float32
		diff := false
		for i := range y {
			sum += y[i]
			diff = diff || y[i] != x[i]
		}
		if diff {
			changed++
		}
		if sum < 3 || sum > 16 {
			t.Errorf("distortion %d: ink mass %v from 8", k, sum)
		}
	}
	if changed < 5 {
		t.Errorf("only %d of 10 distortions changed the image", changed)
	}
}

func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	png.Encode(&b, glyph(1, 1))
	f.Add(b.Bytes())
	f.Add([]byte("GIF89a\x01\x00\x01\x00"))
	f.Add([]byte("BM"))
	f.Add([]byte("P5 2 1 255\n\x10\xff"))
	f.Add([]byte("P3 1 1 255 9 8 7"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := imageset.Decode(data)
		if err != nil {
			return
		}
		if _, err := imageset.Prepare(img, pre); err != nil && img.Bounds().Dx() > 0 && img.Bounds().Dy() > 0 {
			t.Fatalf("decoded but not prepared: %v", err)
		}
		imageset.CheckContent(img)
		// The decoder users' files go through: budget, fit, content, then
		// preparation.
		dec, err := core.NewDecoder(pre)
		if err != nil {
			t.Fatal(err)
		}
		dec.Decode(data)
	})
}

// The decode budget counts bytes as well as pixels, and an image without
// content is refused before it is embedded.
func TestDecodeBudgetAndContent(t *testing.T) {
	enc := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// A 6000×6000 16-bit RGBA PNG header: 36 Mpixels (within the pixel
	// budget) but 275 MiB decoded. Only its header is made: the decoder
	// must refuse it from the header alone.
	big := enc(image.NewNRGBA64(image.Rect(0, 0, 1, 1)))
	binary.BigEndian.PutUint32(big[16:], 6000)
	binary.BigEndian.PutUint32(big[20:], 6000)
	binary.BigEndian.PutUint32(big[29:], crc32.ChecksumIEEE(big[12:29])) // the IHDR chunk's CRC
	if _, err := imageset.Decode(big); err == nil || !strings.Contains(err.Error(), "MiB decoded") {
		t.Errorf("16-bit 6000² PNG: %v", err)
	}
	dec, err := core.NewDecoder(core.Preprocess{Kind: "image", Width: 8, Height: 8, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	black := image.NewGray(image.Rect(0, 0, 32, 32))
	clear := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for i := range clear.Pix {
		if i%4 != 3 {
			clear.Pix[i] = uint8(i) // colour under full transparency
		}
	}
	for name, img := range map[string]image.Image{"all black": black, "fully transparent": clear} {
		if _, err := dec.Decode(enc(img)); !errors.Is(err, imageset.ErrNoContent) {
			t.Errorf("%s: %v, want ErrNoContent", name, err)
		}
	}
	black.Pix[100] = 200
	if _, err := dec.Decode(enc(black)); err != nil {
		t.Errorf("an image with a mark: %v", err)
	}
}

// With PerClass items from each class and Pairs = Items·(Items−1)/2, a
// batch is every pair of its items once, labelled by class.
func TestPairSamplerAllPairs(t *testing.T) {
	set := testSet(10, 5)
	ps := &imageset.PairSampler{Set: set, Classes: imageset.AllClasses(set), PerClass: 4}
	bt, err := ps.Batch(core.PairRequest{Seed: 1, Items: 12, Pairs: 66}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.Items) != 12 || len(bt.A) != 66 {
		t.Fatalf("%d items, %d pairs; want 12 and 66", len(bt.Items), len(bt.A))
	}
	perClass := map[float32]int{}
	for _, it := range bt.Items {
		perClass[it.Dense[0]]++
	}
	if len(perClass) != 3 {
		t.Fatalf("items from %d classes, want 3 of 4 each: %v", len(perClass), perClass)
	}
	seen, pos := map[[2]int]bool{}, 0
	for i := range bt.A {
		a, b := bt.A[i], bt.B[i]
		if a >= b || seen[[2]int{a, b}] {
			t.Fatalf("pair %d (%d,%d) repeats or is out of order", i, a, b)
		}
		seen[[2]int{a, b}] = true
		same := bt.Items[a].Dense[0] == bt.Items[b].Dense[0]
		if same != (bt.Y[i] == 1) {
			t.Fatalf("pair %d labelled %v", i, bt.Y[i])
		}
		if same {
			pos++
		}
	}
	if pos != 3*6 {
		t.Errorf("%d positive pairs, want 18", pos)
	}
}
