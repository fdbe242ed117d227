package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
)

// run runs the CLI in process and returns its stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, io.Discard
	err := app.RunContext(context.Background(), append([]string{"siamese"}, args...))
	return out.String(), err
}

func TestTrainEvalCompareInfo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "g.model")
	out, err := run(t, "train", "--domain", "glyphs", "--steps", "30", "--val-every", "15", "--items", "32", "--pairs", "48", "-o", model, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Model  string
		Result train.Result
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Result.Steps != 30 || res.Model != model {
		t.Fatalf("train --json: %v\n%s", err, out)
	}
	out, err = run(t, "eval", "--model", model, "--task", "test20", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Identification metrics.Identification
		Verification   metrics.Verification
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Identification.Ways != 20 || ev.Identification.Trials == 0 {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	out, err = run(t, "info", model)
	if err != nil || !strings.Contains(out, "cnn") || !strings.Contains(out, "l1sigmoid") || !strings.Contains(out, "glyphs") {
		t.Fatalf("info: %v\n%s", err, out)
	}
	// compare and embed need image files: write two glyph-like PNGs.
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writePNG(t, a, 3)
	writePNG(t, b, 17)
	out, err = run(t, "compare", "--model", model, "--json", a, b)
	if err != nil {
		t.Fatal(err)
	}
	var cmp struct {
		Score   float64
		Verdict string
	}
	if err := json.Unmarshal([]byte(out), &cmp); err != nil || cmp.Score < 0 || cmp.Score > 1 || (cmp.Verdict != "same" && cmp.Verdict != "different") {
		t.Fatalf("compare: %v\n%s", err, out)
	}
	out, err = run(t, "compare", "--model", model, a, a)
	if err != nil || !strings.Contains(out, "same") {
		t.Fatalf("an image compared with itself: %v %s", err, out)
	}
	out, err = run(t, "embed", "--model", model, a, b)
	if err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Fatalf("embed: %v\n%s", err, out)
	}
}

func TestBadInputErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trunc := filepath.Join(dir, "trunc.model")
	os.WriteFile(trunc, []byte("SIAMESE\x00\x01\x00\x00\x00"), 0o644)
	corrupt := filepath.Join(dir, "bad.png")
	os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\nnope"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"info", trunc}, "trunc.model"},
		{[]string{"info", filepath.Join(dir, "none.model")}, "none.model"},
		{[]string{"compare", "--model", trunc, corrupt, corrupt}, "trunc.model"},
		{[]string{"train", "--domain", "omniglot", "--data", filepath.Join(dir, "nowhere"), "--steps", "1"}, "nowhere"},
		{[]string{"train", "--domain", "nope", "--steps", "1"}, "unknown domain"},
		{[]string{"train", "--domain", "glyphs"}, "budget"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one line containing %q", tc.args, err, tc.want)
		}
	}
}

func writePNG(t *testing.T, path string, seed int) {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeTestGlyph(&buf, seed); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Ctrl-C during training saves a checkpoint, says where on one line and
// exits 130; resuming from it finishes the run.
func TestInterruptSavesCheckpoint(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "siamese")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	model := filepath.Join(dir, "m.model")
	cmd := exec.Command(bin, "train", "--domain", "glyphs", "--steps", "100000", "--items", "16", "--pairs", "16", "--ckpt-every", "5", "-o", model)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once training is under way (the first periodic checkpoint).
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(model + ".ckpt"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130\n%s", err, stderr.String())
	}
	last := lastLine(stderr.String())
	if !strings.Contains(last, "checkpoint saved to "+model+".ckpt") {
		t.Fatalf("last line %q does not say where the checkpoint is", last)
	}
	tr, err := train.Resume(model + ".ckpt")
	if err != nil {
		t.Fatal(err)
	}
	step := tr.Model.Info.Steps
	if step == 0 {
		t.Fatal("checkpoint at step 0")
	}
	out, err := exec.Command(bin, "train", "--resume", model+".ckpt", "--steps", strconv.Itoa(step+5), "-o", model, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	m, err := core.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Steps != step+5 {
		t.Errorf("resumed model at step %d, want %d", m.Info.Steps, step+5)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
