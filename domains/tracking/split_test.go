package tracking

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
)

// writeGT overwrites the ground truth of a synthetic sequence.
func writeGT(t *testing.T, dir, name string, lines []string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name, "groundtruth_rect.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGT(t *testing.T, dir, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name, "groundtruth_rect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// The test and validation sequences never enter the training pairs; the
// training folder beside the data folder joins by default; frames whose
// target is absent or under min_target pixels are never drawn.
func TestSplitKeepsTestAndValidationOut(t *testing.T) {
	root := t.TempDir()
	data, more := filepath.Join(root, "tracking"), filepath.Join(root, TrainFolder)
	for _, n := range []string{"Crossing", "A"} {
		if err := WriteSynthetic(data, n, 12, 120, 90); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"V1", "V2", "B"} {
		if err := WriteSynthetic(more, n, 12, 120, 90); err != nil {
			t.Fatal(err)
		}
	}
	// B: frame 3 absent, frame 4 a 2-pixel target.
	gt := readGT(t, more, "B")
	gt[2], gt[3] = "0,0,0,0", "30,30,2,9"
	writeGT(t, more, "B", gt)
	d, err := OpenDomain(core.DomainOptions{DataDir: data, Extra: map[string]string{"validation": "V1,v2"}})
	if err != nil {
		t.Fatal(err)
	}
	got := d.TrainingSequences()
	slices.Sort(got)
	if fmt.Sprint(got) != "[A B]" {
		t.Fatalf("training sequences %v, want [A B]", got)
	}
	for _, split := range []string{"train", "trainval"} {
		for _, sp := range d.Splits[split].(*sampler).spans {
			if n := sp.v.Name; n == "Crossing" || n == "V1" || n == "V2" {
				t.Errorf("split %s draws from %s", split, n)
			}
			if sp.v.Name == "B" && (slices.Contains(sp.frames, 2) || slices.Contains(sp.frames, 3)) {
				t.Errorf("split %s draws B's absent or 2-pixel frames: %v", split, sp.frames)
			}
		}
	}
	var val []string
	for _, v := range d.Validation {
		val = append(val, v.Name)
	}
	if fmt.Sprint(val) != "[V1 V2]" || !d.Describe().HasTask("val") {
		t.Errorf("validation %v (task val: %v)", val, d.Describe().HasTask("val"))
	}
	// Pairs drawn over many steps come from frames the sampler allows.
	for step := 0; step < 50; step++ {
		for _, sp := range d.Splits["train"].(*sampler).spans {
			i, j := sp.pick(50, imageset.StepRand(1, step))
			if !slices.Contains(sp.frames, i) || !slices.Contains(sp.frames, j) {
				t.Fatalf("picked frames %d, %d of %s outside %v", i, j, sp.v.Name, sp.frames)
			}
		}
	}
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"empty after exclusions", map[string]string{"validation": "A,B,V1,V2"}, "no training sequence left"},
		{"test as validation", map[string]string{"validation": "Crossing"}, "both the test and a validation sequence"},
		{"validation trained on", map[string]string{"validation": "V1", "train": "A,V1"}, "both a training sequence and the test or a validation one"},
		{"validation named twice", map[string]string{"validation": "V1,v1"}, "option validation: sequence V1 is named twice"},
		{"training named twice", map[string]string{"validation": "V1", "train": "A,A"}, "option train: sequence A is named twice"},
		{"unknown validation", map[string]string{"validation": "Nope"}, `no sequence "Nope"`},
		{"no big target", map[string]string{"validation": "V1,V2", "min_target": "50"}, "no training frame has a target of at least 50 pixels"},
		{"missing more", map[string]string{"more": filepath.Join(root, "gone")}, "gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenDomain(core.DomainOptions{DataDir: data, Extra: tc.opts})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: %v, want one line with %q", tc.opts, err, tc.want)
			}
		})
	}
}

// Bad sequences: each gives one line that says what and where.
func TestBadTrainingData(t *testing.T) {
	root := t.TempDir()
	// A zip whose ground truth has more lines than frames.
	long := filepath.Join(root, "long")
	if err := WriteSynthetic(long, "Long", 4, 80, 60); err != nil {
		t.Fatal(err)
	}
	writeGT(t, long, "Long", append(readGT(t, long, "Long"), "5,5,10,10"))
	zipPath := filepath.Join(root, "zips", "Long.zip")
	os.MkdirAll(filepath.Dir(zipPath), 0o755)
	zipDir(t, filepath.Join(long, "Long"), "Long", zipPath)
	// A frame of another size in the middle of a sequence.
	mixed := filepath.Join(root, "mixed")
	if err := WriteSynthetic(mixed, "Mixed", 5, 80, 60); err != nil {
		t.Fatal(err)
	}
	if err := WriteSynthetic(filepath.Join(root, "other"), "Mixed", 5, 72, 60); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(root, "other", "Mixed", "img", "0003.png"), filepath.Join(mixed, "Mixed", "img", "0003.png"))
	// The target absent in the first frame.
	absent := filepath.Join(root, "absent")
	if err := WriteSynthetic(absent, "Gone", 4, 80, 60); err != nil {
		t.Fatal(err)
	}
	gt := readGT(t, absent, "Gone")
	gt[0] = "0,0,0,0"
	writeGT(t, absent, "Gone", gt)
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"more lines than frames", filepath.Dir(zipPath), "Long.zip:Long/groundtruth_rect.txt: 5 ground-truth lines for 4 frames"},
		{"frame of another size", mixed, "0003.png: frame of 72×60 pixels, the first is 80×60"},
		{"absent in the first frame", absent, "groundtruth_rect.txt:1: the target is absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenDomain(core.DomainOptions{DataDir: tc.dir, Extra: map[string]string{"test": "none"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v, want one line with %q", err, tc.want)
			}
		})
	}
}

func zipDir(t *testing.T, dir, prefix, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(prefix + "/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(p)
		_, err = w.Write(b)
		return err
	})
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// An absent target (0,0,0,0) is left out of the success and precision
// curves.
func TestEvaluateSkipsAbsent(t *testing.T) {
	truth := []Box{{0, 0, 10, 10}, {}, {0, 0, 10, 10}}
	pred := []Box{{0, 0, 10, 10}, {50, 50, 10, 10}, {0, 0, 10, 10}}
	s, err := Evaluate(pred, truth)
	if err != nil || s.Frames != 2 || s.SuccessAUC < 0.95 || s.PrecisionAt != 1 {
		t.Errorf("scores %+v, %v: want 2 frames, all hits", s, err)
	}
	if _, err := Evaluate(pred[1:2], truth[1:2]); err == nil || !strings.Contains(err.Error(), "absent from all") {
		t.Errorf("all absent: %v", err)
	}
	boxes, err := ParseGroundTruth(strings.NewReader("1,1,5,5\n0,0,0,0\n"), "gt")
	if err != nil || !boxes[1].Absent() || boxes[0].Absent() {
		t.Errorf("0,0,0,0: %v %v", boxes, err)
	}
}

// Tune chooses settings on validation videos, stores them in the model,
// and never does worse there than where it started.
func TestTuneStoresChoice(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"V1", "V2"} {
		if err := WriteSynthetic(dir, n, 8, 120, 90); err != nil {
			t.Fatal(err)
		}
	}
	seqs, closeAll, err := OpenAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	videos, err := decodeVideos(seqs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := core.New(Spec, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	trials := 0
	tuned, err := Tune(ctx, m, videos, Params{}, func(Trial) { trials++ })
	if err != nil {
		t.Fatal(err)
	}
	if trials < 10 || len(tuned.Trials) != trials || tuned.Mean < tuned.Trials[0].Mean || len(tuned.AUC) != 2 {
		t.Fatalf("%d trials, chosen mean %.3f, first %.3f", trials, tuned.Mean, tuned.Trials[0].Mean)
	}
	if err := SetParams(m, tuned.Params); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.model")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := core.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	p, err := ParamsOf(back)
	if err != nil || p != tuned.Params {
		t.Errorf("stored settings %+v (%v), want %+v", p, err, tuned.Params)
	}
	if _, err := Tune(ctx, m, nil, Params{}, nil); err == nil || !strings.Contains(err.Error(), "no validation sequence") {
		t.Errorf("no videos: %v", err)
	}
	back.Scoring = json.RawMessage(`{"tracker":`)
	if _, err := ParamsOf(back); err == nil {
		t.Error("corrupt settings accepted")
	}
}

// With the real data, the default split keeps Crossing out, holds out the
// six validation sequences from several sources, and trains on the rest
// of tracking_train and the tracking folder.
func TestDefaultSplitOnRealData(t *testing.T) {
	root := datadir.Domain("tracking")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no tracking/): skipping the real split test")
	}
	opt, err := ParseOptions(core.DomainOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	sp, closeAll, err := OpenSplit(root, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if sp.Test == nil || sp.Test.Name != DefaultTest || len(sp.Validation) != len(DefaultValidation) {
		t.Fatalf("test %v, %d validation sequences", sp.Test, len(sp.Validation))
	}
	held := map[string]bool{DefaultTest: true}
	for _, n := range DefaultValidation {
		held[n] = true
	}
	for _, s := range sp.Train {
		if held[s.Name] {
			t.Errorf("%s trains", s.Name)
		}
	}
	if len(sp.Train) != 38+2-1-len(DefaultValidation) {
		t.Errorf("%d training sequences, want %d", len(sp.Train), 38+2-1-len(DefaultValidation))
	}
}
