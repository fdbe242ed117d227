package plots

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/siamesenet/siamese/core/metrics"
)

func TestPlotsArePNGs(t *testing.T) {
	var scores []float64
	var same []bool
	for i := 0; i < 200; i++ {
		scores = append(scores, math.Mod(float64(i)*0.37, 1))
		same = append(same, i%3 == 0)
	}
	v, err := metrics.Verify(scores, same, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	roc, hist := filepath.Join(dir, "roc.png"), filepath.Join(dir, "scores.png")
	if err := ROC(roc, "test", v); err != nil {
		t.Fatal(err)
	}
	if err := Scores(hist, "test", scores, same, 0.5); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{roc, hist} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s: not a PNG plot: %v", p, err)
		}
	}
	if err := Scores(hist, "none", []float64{1}, []bool{true}, 0.5); err == nil {
		t.Error("histogram without impostors: no error")
	}
}
