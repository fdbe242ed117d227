package tracking_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/internal/datadir"
)

func TestParseGroundTruth(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []tracking.Box
		err      string
	}{
		{"comma", "205,151,17,50\n206,150,17,50\n", []tracking.Box{{204, 150, 17, 50}, {205, 149, 17, 50}}, ""},
		{"tab", "205\t151\t17\t50\n", []tracking.Box{{204, 150, 17, 50}}, ""},
		{"space", "205 151 17 50\n\n", []tracking.Box{{204, 150, 17, 50}}, ""},
		{"vot polygon", "11,21,31,21,31,41,11,41\n", []tracking.Box{{10, 20, 20, 20}}, ""},
		{"bad number", "1,2,x,4\n", nil, "gt.txt:1: \"x\" is not a number"},
		{"bad arity", "1,2,3,4\n1,2,3\n", nil, "gt.txt:2: 3 values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracking.ParseGroundTruth(strings.NewReader(tc.in), "gt.txt")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v %v, want %v", got, err, tc.want)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	truth := []tracking.Box{{0, 0, 10, 10}, {0, 0, 10, 10}, {0, 0, 10, 10}, {0, 0, 10, 10}}
	pred := []tracking.Box{{0, 0, 10, 10}, {5, 0, 10, 10}, {30, 0, 10, 10}, {0, 0, 10, 10}}
	s, err := tracking.Evaluate(pred, truth)
	if err != nil {
		t.Fatal(err)
	}
	// IoUs 1, 1/3, 0, 1: success at t=0 is 3/4; at 0.5 is 2/4; at 1 is 0.
	if s.Success[0] != 0.75 || s.Success[10] != 0.5 || s.Success[20] != 0 {
		t.Errorf("success curve %v", s.Success)
	}
	if s.PrecisionAt != 0.75 { // centre errors 0, 5, 30, 0
		t.Errorf("precision at 20 px %v, want 0.75", s.PrecisionAt)
	}
	if iou := tracking.IoU(tracking.Box{0, 0, 10, 10}, tracking.Box{5, 5, 10, 10}); math.Abs(iou-25.0/175) > 1e-12 {
		t.Errorf("IoU %v", iou)
	}
	if _, err := tracking.Evaluate(pred[:2], truth); err == nil {
		t.Error("mismatched lengths: no error")
	}
}

// sequence writes an OTB-style sequence: a bright square moving right on a
// textured background.
func sequence(t *testing.T, frames, lines int, sizes func(i int) (int, int)) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "Walk", "img"), 0o755)
	var gt strings.Builder
	for i := 0; i < frames; i++ {
		w, h := sizes(i)
		img := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Pix[y*w+x] = uint8((x*7 + y*13) % 64)
			}
		}
		x0, y0 := 10+3*i, 20
		for y := y0; y < y0+12; y++ {
			for x := x0; x < x0+12; x++ {
				img.SetGray(x, y, color.Gray{uint8(180 + (x-x0)*5)})
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		os.WriteFile(filepath.Join(dir, "Walk", "img", fmt.Sprintf("%04d.png", i+1)), b.Bytes(), 0o644)
		if i < lines {
			fmt.Fprintf(&gt, "%d,%d,12,12\n", x0+1, y0+1)
		}
	}
	os.WriteFile(filepath.Join(dir, "Walk", "groundtruth_rect.txt"), []byte(gt.String()), 0o644)
	return dir
}

// baselines scores template matching and the still box on a sequence.
func baselines(t *testing.T, s *tracking.Sequence) (ncc, still tracking.Scores) {
	t.Helper()
	frames, err := tracking.Frames(s)
	if err != nil {
		t.Fatal(err)
	}
	boxes, err := tracking.NCC(frames, s.Boxes[0])
	if err != nil {
		t.Fatal(err)
	}
	if ncc, err = tracking.Evaluate(boxes, s.Boxes); err != nil {
		t.Fatal(err)
	}
	if still, err = tracking.Evaluate(tracking.Still(s.Boxes[0], len(s.Frames)), s.Boxes); err != nil {
		t.Fatal(err)
	}
	return ncc, still
}

func TestSequenceAndBaselines(t *testing.T) {
	same := func(int) (int, int) { return 80, 60 }
	seqs, src, err := tracking.Open(sequence(t, 8, 8, same))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := seqs[0]
	if s.Name != "Walk" || len(s.Frames) != 8 || s.Boxes[0] != (tracking.Box{X: 10, Y: 20, W: 12, H: 12}) {
		t.Fatalf("sequence %s: %d frames, first box %v", s.Name, len(s.Frames), s.Boxes[0])
	}
	a, b := baselines(t, s)
	if a.SuccessAUC < 0.9 || b.SuccessAUC > 0.5 {
		t.Errorf("template matching AUC %.2f (want ≥ 0.9 on a rigid moving square), still box %.2f", a.SuccessAUC, b.SuccessAUC)
	}
}

func TestBadSequences(t *testing.T) {
	same := func(int) (int, int) { return 80, 60 }
	if _, _, err := tracking.Open(sequence(t, 6, 4, same)); err == nil || !strings.Contains(err.Error(), "4 ground-truth lines for 6 frames") {
		t.Errorf("short ground truth: %v", err)
	}
	mixed := sequence(t, 4, 4, func(i int) (int, int) { return 80 + 8*(i/3), 60 })
	seqs, src, err := tracking.Open(mixed)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := tracking.Frames(seqs[0]); err == nil || !strings.Contains(err.Error(), "0004.png: frame of 88×60 pixels, the first is 80×60") {
		t.Errorf("mixed sizes: %v", err)
	}
	broken := sequence(t, 3, 3, same)
	os.WriteFile(filepath.Join(broken, "Walk", "img", "0002.png"), []byte("not a png"), 0o644)
	seqs, src2, err := tracking.Open(broken)
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	if _, err := tracking.Frames(seqs[0]); err == nil || !strings.Contains(err.Error(), "0002.png") {
		t.Errorf("unreadable frame: %v", err)
	}
	empty := t.TempDir()
	os.MkdirAll(filepath.Join(empty, "X"), 0o755)
	os.WriteFile(filepath.Join(empty, "X", "groundtruth.txt"), []byte("1,1,2,2\n"), 0o644)
	if _, _, err := tracking.Open(empty); err == nil || !strings.Contains(err.Error(), "no frames") {
		t.Errorf("missing frames: %v", err)
	}
	for _, b := range []tracking.Box{{10, 10, 0, 5}, {100, 10, 5, 5}, {-20, 10, 5, 5}, {10, 10, 0.5, 5}, {10, 10, 1e200, 50}, {10, 10, 1e30, 1e30}, {0, 0, 100000, 100000}, {10, 10, 161, 5}} {
		if err := tracking.CheckInit(b, 80, 60); err == nil {
			t.Errorf("initial box %v accepted in an 80×60 frame", b)
		}
	}
}

// TestCrossingBaselines reads OTB Crossing and VOT bag as published and
// scores the two baselines the tracker will have to beat.
func TestCrossingBaselines(t *testing.T) {
	root := datadir.Domain("tracking")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no tracking/): skipping the tracking data test")
	}
	bag, srcBag, err := tracking.Open(filepath.Join(root, "vot2015_bag.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer srcBag.Close()
	if len(bag[0].Frames) != 196 {
		t.Errorf("VOT bag: %d frames, want 196", len(bag[0].Frames))
	}
	seqs, src, err := tracking.Open(filepath.Join(root, "otb_crossing.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := seqs[0]
	if s.Name != "Crossing" || len(s.Frames) != 120 || s.Boxes[0] != (tracking.Box{X: 204, Y: 150, W: 17, H: 50}) {
		t.Fatalf("Crossing: %s, %d frames, first box %v", s.Name, len(s.Frames), s.Boxes[0])
	}
	a, b := baselines(t, s)
	t.Logf("Crossing baselines: template matching success AUC %.3f, precision@20 %.3f; still box %.3f, %.3f", a.SuccessAUC, a.PrecisionAt, b.SuccessAUC, b.PrecisionAt)
	if a.SuccessAUC <= 0 || b.SuccessAUC <= 0 || a.SuccessAUC > 1 {
		t.Errorf("baseline AUCs out of range: %v, %v", a.SuccessAUC, b.SuccessAUC)
	}
}

func FuzzParseGroundTruth(f *testing.F) {
	f.Add("205,151,17,50\n")
	f.Add("1 2 3 4\n5\t6\t7\t8\n")
	f.Add("1,2,3,4,5,6,7,8\n")
	f.Fuzz(func(t *testing.T, s string) {
		boxes, err := tracking.ParseGroundTruth(strings.NewReader(s), "f")
		if err != nil {
			return
		}
		for _, b := range boxes {
			if math.IsNaN(b.X) || math.IsInf(b.W, 0) {
				t.Fatalf("box %v", b)
			}
		}
	})
}
