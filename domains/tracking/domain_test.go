package tracking_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/internal/datadir"
)

// crossingSteps is the training budget of the Crossing test.
const crossingSteps = 1000

func TestDomainConformance(t *testing.T) {
	dir := sequence(t, 20, 20, func(int) (int, int) { return 120, 90 })
	d, err := tracking.OpenDomain(core.DomainOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	coretest.TestDomain(t, d)
	if _, err := tracking.OpenDomain(core.DomainOptions{DataDir: dir, Extra: map[string]string{"test": "Walk"}}); err == nil || !strings.Contains(err.Error(), "no training sequence") {
		t.Errorf("only the test sequence: %v", err)
	}
	if _, err := tracking.OpenDomain(core.DomainOptions{DataDir: dir, Extra: map[string]string{"train": "Run"}}); err == nil || !strings.Contains(err.Error(), `no sequence "Run"`) {
		t.Errorf("unknown training sequence: %v", err)
	}
	if _, err := tracking.OpenDomain(core.DomainOptions{DataDir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing folder: no error")
	}
}

// identity is a tracking model whose features are the standardised pixels
// themselves (one 1×1 convolution set to the identity): the tracker then
// does template matching, which must follow a rigid moving square.
func identity(t *testing.T) *core.Model {
	t.Helper()
	spec := core.Spec{Tower: "fconv", TowerConfig: json.RawMessage(`{"input":[3,96,96],"blocks":[{"filters":3,"kernel":1}]}`),
		Head: "xcorr", HeadConfig: json.RawMessage(`{"exemplar":48}`)}
	m, err := core.New(spec, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Params()[0].Data
	clear(w)
	w[0], w[4], w[8] = 1, 1, 1
	return m
}

func TestTrackerFollowsSquare(t *testing.T) {
	seqs, src, err := tracking.Open(sequence(t, 16, 16, func(int) (int, int) { return 120, 90 }))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := seqs[0]
	frames, err := tracking.Images(s)
	if err != nil {
		t.Fatal(err)
	}
	m := identity(t)
	defer m.Close()
	for _, tc := range []struct {
		name string
		p    tracking.Params
	}{{"defaults", tracking.Params{}}, {"one scale, no focus", tracking.Params{Scales: 1, NoFocus: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := tracking.RunTracker(context.Background(), m, tc.p, frames, s.Boxes)
			if err != nil {
				t.Fatal(err)
			}
			_, still := baselines(t, s)
			if run.Scores.SuccessAUC < 0.6 || run.Scores.SuccessAUC <= still.SuccessAUC || run.Scores.PrecisionAt < 0.9 {
				t.Errorf("success AUC %.3f, precision %.3f (still box %.3f)", run.Scores.SuccessAUC, run.Scores.PrecisionAt, still.SuccessAUC)
			}
		})
	}
	// Confidence: 1 at Init, high where the square is, lower where it is gone.
	tr, err := tracking.NewTracker(m, tracking.Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Init(context.Background(), frames[0], s.Boxes[0]); err != nil || tr.Confidence() != 1 {
		t.Fatalf("after Init: confidence %g, %v", tr.Confidence(), err)
	}
	if _, err := tr.Update(context.Background(), frames[0]); err != nil {
		t.Fatal(err)
	}
	same := tr.Confidence()
	blank := &tracking.Image{W: frames[0].W, H: frames[0].H, Pix: make([]uint8, len(frames[0].Pix)), Mean: frames[0].Mean}
	for i := range blank.Pix {
		blank.Pix[i] = uint8(i * 7919 % 251) // texture, no square
	}
	if _, err := tr.Update(context.Background(), blank); err != nil {
		t.Fatal(err)
	}
	gone := tr.Confidence()
	t.Logf("confidence %.3f on the first frame again, %.3f without the square", same, gone)
	if same < 0.8 || gone > same-0.3 {
		t.Errorf("confidence %.3f on the first frame again, %.3f without the square", same, gone)
	}
	if _, err := tracking.Track(context.Background(), m, tracking.Params{}, frames, tracking.Box{X: 500, Y: 10, W: 5, H: 5}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("initial box outside the frame: %v", err)
	}
	if _, err := tracking.Track(context.Background(), m, tracking.Params{}, frames, tracking.Box{X: 5, Y: 10, W: 0, H: 5}); err == nil {
		t.Error("initial box of zero size: no error")
	}
	if _, err := tracking.Track(context.Background(), m, tracking.Params{Scales: 2}, frames, s.Boxes[0]); err == nil {
		t.Error("an even number of scales: no error")
	}
	notTracker, err := core.New(core.Spec{Tower: "fconv", Head: "xcorr"}, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tracking.GeometryOf(notTracker); err != nil {
		t.Errorf("the default fconv and xcorr: %v", err)
	}
}

func TestImagesErrors(t *testing.T) {
	mixed := sequence(t, 4, 4, func(i int) (int, int) { return 80 + 8*(i/3), 60 })
	seqs, src, err := tracking.Open(mixed)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := tracking.Images(seqs[0]); err == nil || !strings.Contains(err.Error(), "0004.png: frame of 88×60 pixels, the first is 80×60") {
		t.Errorf("mixed sizes: %v", err)
	}
	broken := sequence(t, 3, 3, func(int) (int, int) { return 80, 60 })
	os.WriteFile(filepath.Join(broken, "Walk", "img", "0002.png"), []byte("not a png"), 0o644)
	seqs, src2, err := tracking.Open(broken)
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	if _, err := tracking.Images(seqs[0]); err == nil || !strings.Contains(err.Error(), "0002.png") {
		t.Errorf("unreadable frame: %v", err)
	}
	frames, fsrc, err := tracking.OpenFrames(filepath.Join(broken, "Walk"))
	if err != nil {
		t.Fatal(err)
	}
	defer fsrc.Close()
	if len(frames.Frames) != 3 || frames.Boxes != nil {
		t.Errorf("frames without ground truth: %d frames, boxes %v", len(frames.Frames), frames.Boxes)
	}
	if _, _, err := tracking.OpenFrames(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no frames") {
		t.Errorf("empty folder: %v", err)
	}
}

// A crop samples the frame around the centre and pads with the mean colour.
func TestCrop(t *testing.T) {
	im := &tracking.Image{W: 4, H: 2, Pix: make([]uint8, 3*8)}
	for k := 0; k < 8; k++ {
		im.Pix[3*k] = uint8(30 * k) // red ramp, green and blue 0
	}
	im.Mean = [3]float32{0.5, 0.25, 0}
	out := make([]float32, 3*4*4)
	im.Crop(2, 1, 4, 4, out) // the frame's width, twice its height: rows 0 and 3 are padding
	for j := 0; j < 4; j++ {
		if out[j] != 0.5 || out[16+j] != 0.25 || out[32+3*4+j] != 0 {
			t.Fatalf("padding row: %v", out[:4])
		}
		if want := float32(30*j) / 255; math.Abs(float64(out[4+j]-want)) > 1e-6 {
			t.Fatalf("pixel (1,%d) = %v, want %v", j, out[4+j], want)
		}
	}
	if s := tracking.ContextSide(tracking.Box{W: 10, H: 10}); math.Abs(s-20) > 1e-12 {
		t.Errorf("context of a 10×10 box: %v, want 20", s)
	}
}

// TestBeatsBaselinesOnCrossing is the domain's accuracy test: the default
// recipe (seed 1, a CI-sized step budget, the best weights by the
// tracker's success on the validation sequences) trained on tracking_train
// and the tracking folder, less the validation sequences and Crossing;
// then Crossing, never seen nor looked at for a choice, is tracked once.
//
// It asserts what the recipe reaches with a margin: above the still box in
// mean success over the validation sequences and on Crossing. The
// recipe's seeds 1–3 beat template matching (NCC) on the validation
// sequences by 0.01–0.11, too close to assert for one seed; the tracking
// issue's target, above NCC on Crossing, is not reached
// (docs/results.md). The log lines print all of it.
func TestBeatsBaselinesOnCrossing(t *testing.T) {
	root := datadir.Domain("tracking")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no tracking/): skipping the tracking accuracy test")
	}
	ctx := context.Background()
	d, err := tracking.OpenDomain(core.DomainOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Validation) == 0 || len(d.Videos) < 30 {
		t.Fatalf("%d training and %d validation sequences: is %s beside %s?", len(d.Videos), len(d.Validation), tracking.TrainFolder, root)
	}
	m, err := core.New(d.Desc.Spec, d.Desc.Preprocess, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tr := &train.Trainer{Model: m, Domain: d, Validate: d.Validate,
		Config: train.Config{Schedule: "cosine", Steps: crossingSteps, Seed: 1, Augment: true, Items: 24, Pairs: 16, ValEvery: crossingSteps / 4}}
	res, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := tracking.ParseOptions(core.DomainOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	split, closeAll, err := tracking.OpenSplit(root, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	var valNCC, valStill float64
	for _, s := range split.Validation {
		ncc, still := baselines(t, s)
		valNCC += ncc.SuccessAUC / float64(len(split.Validation))
		valStill += still.SuccessAUC / float64(len(split.Validation))
	}
	s := split.Test
	if s == nil {
		t.Fatalf("no %s in %s", tracking.DefaultTest, root)
	}
	frames, err := tracking.Images(s)
	if err != nil {
		t.Fatal(err)
	}
	run, err := tracking.RunTracker(ctx, m, tracking.Params{}, frames, s.Boxes)
	if err != nil {
		t.Fatal(err)
	}
	ncc, still := baselines(t, s)
	t.Logf("validation mean success AUC %.3f (best at step %d of %d; NCC %.3f, still box %.3f)", res.BestScore, res.BestStep, crossingSteps, valNCC, valStill)
	t.Logf("Crossing: success AUC %.3f, precision@20 %.3f, %.0f fps; NCC %.3f, still box %.3f",
		run.Scores.SuccessAUC, run.Scores.PrecisionAt, run.FPS, ncc.SuccessAUC, still.SuccessAUC)
	if res.BestScore <= valStill {
		t.Errorf("validation mean success AUC %.3f does not beat the still box (%.3f)", res.BestScore, valStill)
	}
	if run.Scores.SuccessAUC <= still.SuccessAUC {
		t.Errorf("Crossing success AUC %.3f does not beat the still box (%.3f)", run.Scores.SuccessAUC, still.SuccessAUC)
	}
}
