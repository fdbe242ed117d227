package tinyyolo_test

import (
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/tinyyolo"
)

func load(t testing.TB) *tinyyolo.Net {
	t.Helper()
	w := faceapitest.Weights(t, tinyyolo.FaceDetector)
	n, err := tinyyolo.LoadFace(w)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The detector gives face-api.js's raw output (every cell and anchor,
// within 1e-3) and its boxes (within half a pixel) on a scene with a face,
// and on a synthetic one without.
func TestMatchesFaceAPI(t *testing.T) {
	n := load(t)
	faces := faceapitest.LFWFaces(t, "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg")
	at := []image.Rectangle{image.Rect(150, 60, 270, 180)}
	if faces == nil {
		t.Log("SIAMESE_DATA unset: the scene has no face in it")
		at = nil
	}
	img := faceapitest.Scene(faces, at)
	in := faceapitest.WriteRGB(t, "scene.f32", img)
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
	if faces != nil && len(boxes) != 1 {
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
