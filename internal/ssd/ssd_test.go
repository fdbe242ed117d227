package ssd_test

import (
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/ssd"
	"github.com/siamesenet/siamese/internal/tfjs"
	"github.com/siamesenet/siamese/internal/tinyyolo"
)

func load(t testing.TB) *ssd.Net {
	t.Helper()
	w := faceapitest.Weights(t, ssd.Model)
	n, err := ssd.Load(w)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The detector gives face-api.js's decoded boxes and scores for all 5,118
// anchors (within 1e-3) and its faces (within half a pixel) on a scene with
// two faces, and on a synthetic one without.
func TestMatchesFaceAPI(t *testing.T) {
	n := load(t)
	faces := faceapitest.LFWFaces(t, "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "lfw/Abdullah_Gul/Abdullah_Gul_0001.jpg")
	at := []image.Rectangle{image.Rect(40, 60, 160, 180), image.Rect(250, 120, 330, 200)}
	if faces == nil {
		t.Log("SIAMESE_DATA unset: the scene has no face in it")
		at = nil
	}
	img := faceapitest.Scene(faces, at)
	in := faceapitest.WriteRGB(t, "scene.f32", img)
	out := filepath.Join(t.TempDir(), "ref.json")
	faceapitest.Node(t, filepath.Join("testdata", "reference.mjs"), in, "300", "400", out)
	var ref struct {
		Boxes  []float64
		Scores []float64
		Faces  []struct{ X, Y, Width, Height, Score float64 }
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Boxes) != 4*ssd.Anchors || len(ref.Scores) != ssd.Anchors {
		t.Fatalf("reference has %d box values and %d scores", len(ref.Boxes), len(ref.Scores))
	}
	x := tinyInput(img)
	enc, logits := n.Forward(x)
	boxes, scores := n.Raw(enc, logits)
	worstBox, worstScore := 0.0, 0.0
	for a := range scores {
		for k := 0; k < 4; k++ {
			worstBox = math.Max(worstBox, math.Abs(boxes[a][k]-ref.Boxes[4*a+k]))
		}
		worstScore = math.Max(worstScore, math.Abs(scores[a]-ref.Scores[a]))
	}
	t.Logf("largest differences from face-api.js: %.2g in a box coordinate, %.2g in a score", worstBox, worstScore)
	if worstBox > 1e-3 || worstScore > 1e-3 {
		t.Errorf("boxes differ from face-api.js by %g, scores by %g", worstBox, worstScore)
	}
	found, err := n.Detect(img, ssd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(ref.Faces) {
		t.Fatalf("%d faces, face-api.js finds %d", len(found), len(ref.Faces))
	}
	if faces != nil && len(found) != 2 {
		t.Errorf("%d faces in a scene with two", len(found))
	}
	for i, f := range ref.Faces {
		g := found[i]
		d := math.Max(math.Max(math.Abs(g.X-f.X), math.Abs(g.Y-f.Y)), math.Max(math.Abs(g.W-f.Width), math.Abs(g.H-f.Height)))
		t.Logf("face %d: %+v (face-api.js %+v)", i, g, f)
		if d > 0.5 || math.Abs(g.Score-f.Score) > 1e-3 {
			t.Errorf("face %d: %+v, face-api.js %+v", i, g, f)
		}
	}
}

// tinyInput is the network's input for img: padded, resized, v/127.5 − 1.
func tinyInput(img image.Image) []float32 {
	x := tinyyolo.Input(img, ssd.InputSize)
	for i, v := range x {
		x[i] = v/127.5 - 1
	}
	return x
}

// Bad options and an empty image are refused; a manifest without a
// tensor the detector needs names it.
func TestErrors(t *testing.T) {
	n := load(t)
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for _, o := range []ssd.Options{{MinConfidence: 1.5}, {MaxResults: -1}, {IoUThreshold: 2}} {
		if _, err := n.Detect(img, o); err == nil {
			t.Errorf("options %+v: no error", o)
		}
	}
	if _, err := n.Detect(image.NewRGBA(image.Rect(0, 0, 0, 0)), ssd.Options{}); err == nil {
		t.Error("an empty image: no error")
	}
	if _, err := ssd.Load(tfjs.Weights{}); err == nil || !strings.Contains(err.Error(), "Conv2d_0") {
		t.Errorf("no weights: %v", err)
	}
}

// A pass reuses the buffers an earlier one left: the same outputs, and
// far fewer bytes allocated than the first pass's 118 MB.
func TestPassesReuseBuffers(t *testing.T) {
	n := load(t)
	x := make([]float32, 3*ssd.InputSize*ssd.InputSize)
	for i := range x {
		x[i] = float32(i*37%255)/127.5 - 1
	}
	var first, before, after runtime.MemStats
	runtime.ReadMemStats(&first)
	box0, class0 := n.Forward(x)
	runtime.ReadMemStats(&before)
	box1, class1 := n.Forward(x)
	runtime.ReadMemStats(&after)
	for i := range box0 {
		if box0[i] != box1[i] {
			t.Fatalf("box value %d: %g, then %g", i, box0[i], box1[i])
		}
	}
	for i := range class0 {
		if class0[i] != class1[i] {
			t.Fatalf("class value %d: %g, then %g", i, class0[i], class1[i])
		}
	}
	mb := float64(after.TotalAlloc-before.TotalAlloc) / 1e6
	t.Logf("allocated by the first pass %.1f MB, by the second %.1f MB", float64(before.TotalAlloc-first.TotalAlloc)/1e6, mb)
	if mb > 5 {
		t.Errorf("the second pass allocated %.1f MB, want under 5", mb)
	}
}

func BenchmarkDetect640x480(b *testing.B) {
	n := load(b)
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31 % 253)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.Detect(img, ssd.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
