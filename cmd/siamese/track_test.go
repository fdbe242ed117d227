package main

import (
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/tracking"
)

func TestTrackCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, name := range []string{"Square", "Crossing", "Walk"} {
		if err := tracking.WriteSynthetic(data, name, 16, 120, 90); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(dir, "track.model")
	if _, err := run(t, "track", "train", "--data", data, "--steps", "3", "--augment", "--opt", "validation=Walk", "-o", model); err != nil {
		t.Fatal(err)
	}
	// tune: settings chosen on the validation sequence, stored in the model.
	out, err := run(t, "track", "tune", "--model", model, "--data", data, "--json")
	if err != nil {
		t.Fatalf("tune: %v\n%s", err, out)
	}
	var tuned struct {
		Params        tracking.Params
		ValidationAUC map[string]float64 `json:"validation_auc"`
	}
	if err := json.Unmarshal([]byte(out), &tuned); err != nil || len(tuned.ValidationAUC) != 1 || tuned.ValidationAUC["Walk"] == 0 {
		t.Fatalf("tune JSON %v: %s", err, out)
	}
	m, err := core.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := tracking.ParamsOf(m); err != nil || p != tuned.Params {
		t.Errorf("model keeps %+v (%v), tune chose %+v", p, err, tuned.Params)
	}
	m.Close()
	if _, err := run(t, "track", "tune", "--model", model, "--data", filepath.Join(dir, "nowhere")); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("tune on a missing folder: %v", err)
	}
	// eval: the tracker beside the baselines, plots, JSON; the default
	// sequence is the one kept out of training.
	plots := filepath.Join(dir, "plots")
	out, err = run(t, "track", "eval", "--model", model, "--seq", data, "--plots", plots, "--json")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	var res []struct {
		Sequence string
		Runs     []struct {
			Name   string
			FPS    float64
			Scores struct {
				SuccessAUC float64 `json:"success_auc"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Sequence != "Crossing" || len(res[0].Runs) != 3 || res[0].Runs[0].FPS <= 0 {
		t.Fatalf("eval JSON %v: %s", err, out)
	}
	for _, f := range []string{"Crossing-success.png", "Crossing-precision.png"} {
		if st, err := os.Stat(filepath.Join(plots, f)); err != nil || st.Size() == 0 {
			t.Errorf("plot %s: %v", f, err)
		}
	}
	// track: OTB boxes, one per frame, and the GIF.
	frames := filepath.Join(data, "Square")
	boxes, gif := filepath.Join(dir, "boxes.txt"), filepath.Join(dir, "track.gif")
	if _, err := run(t, "track", "--model", model, "--frames", frames, "--init", "11,16,14,14", "-o", boxes, "--gif", gif); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(boxes)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 16 || lines[0] != "11.00,16.00,14.00,14.00" {
		t.Errorf("boxes file: %d lines, first %q", len(lines), lines[0])
	}
	if g, err := os.ReadFile(gif); err != nil || !strings.HasPrefix(string(g), "GIF89a") {
		t.Errorf("gif: %v", err)
	}
	// --seq names a sequence inside a folder (or zip) of several.
	out, err = run(t, "track", "--model", model, "--frames", data, "--seq", "Square", "--init", "11,16,14,14", "--json")
	if err != nil || !strings.Contains(out, `"frames": 16`) {
		t.Errorf("track --seq Square: %v\n%s", err, out)
	}
	// Bad input: one line naming what and where.
	mixed := filepath.Join(dir, "mixed")
	if err := tracking.WriteSynthetic(mixed, "A", 3, 120, 90); err != nil {
		t.Fatal(err)
	}
	if err := tracking.WriteSynthetic(filepath.Join(dir, "small"), "A", 3, 100, 90); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(dir, "small", "A", "img", "0003.png"), filepath.Join(mixed, "A", "img", "0003.png"))
	broken := filepath.Join(dir, "broken")
	if err := tracking.WriteSynthetic(broken, "A", 3, 120, 90); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(broken, "A", "img", "0002.png"), []byte("not a png"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"track", "--model", model, "--frames", frames, "--init", "500,10,5,5"}, "outside"},
		{[]string{"track", "--model", model, "--frames", frames, "--init", "5,10,0,5"}, "--init"},
		{[]string{"track", "--model", model, "--frames", frames, "--init", "5,10,x,5"}, `"x" is not a number`},
		{[]string{"track", "--model", model, "--frames", filepath.Join(dir, "nowhere"), "--init", "5,10,5,5"}, "nowhere"},
		{[]string{"track", "--model", model, "--frames", filepath.Join(mixed, "A"), "--init", "5,10,5,5"}, "0003.png: frame of 100×90 pixels, the first is 120×90"},
		{[]string{"track", "--model", model, "--frames", filepath.Join(broken, "A"), "--init", "5,10,5,5"}, "0002.png"},
		{[]string{"track", "--model", model, "--frames", frames, "--init", "205,151,1e200,50"}, "larger than twice"},
		{[]string{"track", "--model", model, "--frames", frames, "--init", "1,1,100000,100000"}, "larger than twice"},
		{[]string{"track", "--model", model, "--frames", frames, "--init", "5,5,5,5", "--window", "NaN"}, "--window"},
		{[]string{"track", "--model", model, "--frames", frames, "--init", "5,5,5,5", "--scales", "1001"}, "--scales"},
		{[]string{"track", "--model", model, "--frames", data, "--seq", "Nope", "--init", "5,5,5,5"}, "Nope"},
	} {
		out, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v (output %q), want one line with %q", tc.args, err, out, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("a failed run created its input")
	}
}

// FuzzParseBox: --init never panics, and what it accepts is four finite
// numbers read back 1-based.
func FuzzParseBox(f *testing.F) {
	for _, s := range []string{"205,151,17,50", "1 2 3 4", "1\t2\t3\t4", "1,2,3", "x,y,w,h", "1e400,1,1,1", "NaN,1,1,1", "205,151,1e200,50", "1,1,100000,100000"} {
		f.Add(s)
	}
	frame := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range frame.Pix {
		frame.Pix[i] = uint8(i * 13)
	}
	im := tracking.NewImage(frame)
	dst := make([]float32, 3*16*16)
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBox(s)
		if err != nil {
			return
		}
		for _, v := range []float64{b.X, b.Y, b.W, b.H} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%q parsed to %v", s, b)
			}
		}
		if tracking.CheckInit(b, im.W, im.H) != nil {
			return
		}
		// A box the check accepts crops without panicking.
		im.Crop(b.X+b.W/2, b.Y+b.H/2, tracking.ContextSide(b), 16, dst)
	})
}
