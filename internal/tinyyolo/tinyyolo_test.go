package tinyyolo_test

import (
	"archive/zip"
	"encoding/json"
	"image"
	"image/draw"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/tfjs"
	"github.com/siamesenet/siamese/internal/tinyyolo"
)

func load(t testing.TB) *tinyyolo.Net {
	t.Helper()
	src, err := tfjs.Open(faceapitest.Tarball(t), tinyyolo.FaceDetector)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tfjs.Load(src, tinyyolo.FaceDetector)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tinyyolo.LoadFace(w)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// scene is a 400×300 picture (a smooth background) with face drawn into at.
func scene(face image.Image, at image.Rectangle) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(x*255/400), uint8(y*255/300), uint8(128+100*math.Sin(float64(x+y)/30)), 255
		}
	}
	xdraw.BiLinear.Scale(img, at, face, face.Bounds(), draw.Src, nil)
	return img
}

// lfwFace reads one LFW image from $SIAMESE_DATA, or nil.
func lfwFace(t *testing.T) image.Image {
	d := os.Getenv("SIAMESE_DATA")
	if d == "" {
		return nil
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join("..", "..", d)
	}
	z, err := zip.OpenReader(filepath.Join(d, "lfw", "lfw.zip"))
	if err != nil {
		t.Logf("no LFW image: %v", err)
		return nil
	}
	defer z.Close()
	f, err := z.Open("lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The detector gives face-api.js's raw output (every cell and anchor,
// within 1e-3) and its boxes (within half a pixel) on a scene with a face,
// and on a synthetic one without.
func TestMatchesFaceAPI(t *testing.T) {
	n := load(t)
	face := lfwFace(t)
	var img *image.RGBA
	if face != nil {
		img = scene(face, image.Rect(150, 60, 270, 180))
	} else {
		t.Log("SIAMESE_DATA unset: the scene has no face in it")
		img = scene(image.NewRGBA(image.Rect(0, 0, 1, 1)), image.Rect(0, 0, 0, 0))
	}
	b := img.Bounds()
	pix := make([]float32, 0, 3*b.Dx()*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			i := img.PixOffset(x, y)
			pix = append(pix, float32(img.Pix[i]), float32(img.Pix[i+1]), float32(img.Pix[i+2]))
		}
	}
	in := faceapitest.WriteFloats(t, "scene.f32", pix)
	out := filepath.Join(t.TempDir(), "ref.json")
	faceapitest.Node(t, filepath.Join("testdata", "reference.mjs"), in, "300", "400", out)
	var ref struct {
		Raw   []float64
		Faces []struct{ X, Y, Width, Height, Score float64 }
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	x := tinyyolo.Input(img, 416)
	for c := 0; c < 3; c++ {
		plane := x[c*416*416 : (c+1)*416*416]
		for i := range plane {
			plane[i] = (plane[i] - float32(n.MeanRGB[c])) / 255
		}
	}
	got, cells := n.Forward(x, 416)
	if cells != 13 || len(ref.Raw) != 13*13*25 {
		t.Fatalf("%d cells, reference has %d values", cells, len(ref.Raw))
	}
	worst := 0.0
	for i, v := range ref.Raw { // NHWC there, CHW here
		cell, ch := i/25, i%25
		worst = math.Max(worst, math.Abs(float64(got[ch*169+cell])-v))
	}
	t.Logf("largest difference in the raw output: %.2g", worst)
	if worst > 1e-3 {
		t.Errorf("raw output differs from face-api.js by %g", worst)
	}
	boxes, err := n.Detect(img, tinyyolo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != len(ref.Faces) {
		t.Fatalf("%d faces, face-api.js finds %d", len(boxes), len(ref.Faces))
	}
	if face != nil && len(boxes) != 1 {
		t.Errorf("%d faces in a scene with one", len(boxes))
	}
	for i, f := range ref.Faces {
		g := boxes[i]
		d := math.Max(math.Max(math.Abs(g.X-f.X), math.Abs(g.Y-f.Y)), math.Max(math.Abs(g.W-f.Width), math.Abs(g.H-f.Height)))
		t.Logf("face %d: %+v (face-api.js %+v)", i, g, f)
		if d > 0.5 || math.Abs(g.Score-f.Score) > 1e-3 {
			t.Errorf("face %d: %+v, face-api.js %+v", i, g, f)
		}
	}
}

func TestIoU(t *testing.T) {
	a := tinyyolo.Box{X: 0, Y: 0, W: 10, H: 10}
	for _, tc := range []struct {
		b    tinyyolo.Box
		want float64
	}{
		{a, 1},
		{tinyyolo.Box{X: 5, Y: 0, W: 10, H: 10}, 50.0 / 150},
		{tinyyolo.Box{X: 20, Y: 20, W: 5, H: 5}, 0},
	} {
		if got := tinyyolo.IoU(a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("IoU(%v, %v) = %v, want %v", a, tc.b, got, tc.want)
		}
	}
}
