package main

import (
	"bytes"
	"context"
	"flag"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/urfave/cli/v2"
)

// The defects a hostile new user found, each as the user met it: one line
// that says what and where, and nothing written or lost.
func TestHostileInputs(t *testing.T) {
	t.Parallel()
	dir, model, a, b := glyphFixture(t)
	gal := filepath.Join(dir, "faces.gallery")
	if _, err := run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "ann", a); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	several := filepath.Join(dir, "several")
	os.Mkdir(several, 0o755)
	writePNG(t, filepath.Join(several, "1.png"), 4)
	writePNG(t, filepath.Join(several, "2.png"), 5)
	two := filepath.Join(dir, "two")
	os.Mkdir(two, 0o755)
	writePNG(t, filepath.Join(two, "1.png"), 4)
	writePNG(t, filepath.Join(two, "2.png"), 5)
	blank := filepath.Join(dir, "blank.png")
	writeImage(t, blank, image.NewGray(image.Rect(0, 0, 28, 28)))
	bad := filepath.Join(several, "3.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)

	// A model trained on the signature domain, offered to a face command.
	m, err := core.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	m.Info.Domain = "signature"
	sigModel := filepath.Join(dir, "sig.model")
	if err := m.Save(sigModel); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.gallery")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"verify an empty folder", []string{"face", "verify", "-m", model, "-g", gal, "--name", "ann", empty}, "holds 0 photos"},
		{"verify a folder of several", []string{"face", "verify", "-m", model, "-g", gal, "--name", "ann", two}, "holds 2 photos"},
		{"signature verify an empty folder", []string{"signature", "verify", "-m", model, "-g", gal, "--writer", "ann", empty}, "holds 0 signatures"},
		{"identify an empty folder", []string{"face", "identify", "-m", model, "-g", gal, empty}, "no photo in"},
		{"identify a blank image", []string{"face", "identify", "-m", model, "-g", gal, blank}, "no content"},
		{"one bad photo in a folder", []string{"face", "identify", "-m", model, "-g", gal, several}, "3.png"},
		{"a mistyped gallery", []string{"face", "identify", "-m", model, "-g", typo, a}, "no such gallery"},
		{"remove from a mistyped gallery", []string{"face", "gallery", "remove", "-m", model, "-g", typo, "ann"}, "no such gallery"},
		{"list a mistyped gallery", []string{"face", "gallery", "list", "-g", typo}, "no such gallery"},
		{"a forged line as a name", []string{"face", "enroll", "-m", model, "-g", gal, "--name", "evil\nsubj09\t5 photo(s)", b}, "--name"},
		{"an escape sequence as a name", []string{"face", "enroll", "-m", model, "-g", gal, "--name", "\x1b[31mred", b}, "control character"},
		{"invalid UTF-8 as a name", []string{"face", "enroll", "-m", model, "-g", gal, "--name", "bad\xff", b}, "UTF-8"},
		{"a signature model for faces", []string{"face", "identify", "-m", sigModel, "-g", gal, a}, "signature domain"},
		{"train into a missing folder", []string{"train", "--domain", "glyphs", "--steps", "100000", "-o", filepath.Join(dir, "nowhere", "x.model")}, "nowhere"},
	} {
		start := time.Now()
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line saying %q", tc.name, err, tc.want)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%s: took %s before failing", tc.name, d)
		}
	}
	for _, p := range []string{typo, typo + ".lock", filepath.Join(dir, "nowhere")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a failed command created %s", p)
		}
	}
	out, err := run(t, "face", "gallery", "list", "-g", gal)
	if err != nil || !strings.Contains(out, "1 enrolled") {
		t.Errorf("the gallery after the failed commands: %v\n%s", err, out)
	}
	// --skip-bad names what it skipped and goes on.
	out, err = run(t, "face", "identify", "-m", model, "-g", gal, "--skip-bad", "--json", several)
	if err != nil || strings.Count(out, `"file"`) != 2 {
		t.Errorf("identify --skip-bad: %v\n%s", err, out)
	}
}

// A resumed run is the checkpoint's run: another domain, or a setting that
// would change it, is refused instead of silently continuing or ignored.
func TestResumeRefusesAnotherRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := glyphModel(t, dir)
	ckpt := model + ".ckpt"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--resume", ckpt, "--domain", "face", "--steps", "4", "-o", model}, "glyphs domain, not face"},
		{[]string{"face", "train", "--resume", ckpt, "--steps", "4", "-o", model}, "glyphs domain, not face"},
		{[]string{"train", "--resume", ckpt, "--lr", "0.01", "--steps", "4", "-o", model}, "--lr cannot change"},
		{[]string{"train", "--resume", ckpt, "--items", "8", "--steps", "4", "-o", model}, "--items cannot change"},
		{[]string{"train", "--resume", ckpt, "--preset", "koch", "--steps", "4", "-o", model}, "--preset cannot change"},
	} {
		if _, err := run(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := run(t, "train", "--resume", ckpt, "--steps", "4", "-o", model); err != nil {
		t.Errorf("extending the budget: %v", err)
	}
}

// A command that takes no --threshold keeps the model's threshold (search
// marked every hit a duplicate when a missing flag read as 0).
func TestLoadModelWithoutThresholdFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := glyphModel(t, dir)
	want, err := core.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	(&cli.StringFlag{Name: "model"}).Apply(fs)
	fs.Parse([]string{"--model", model})
	m, err := loadModel(cli.NewContext(newApp(), fs, nil))
	if err != nil || m.Threshold != want.Threshold || m.Threshold == 0 {
		t.Errorf("threshold %v, want the model's %v (%v)", m.Threshold, want.Threshold, err)
	}
}

// Under --json a failed command writes {"error": ...} on stdout (never
// help text), and the one line on stderr.
func TestJSONErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"siamese", "compare", "--bogus", "--json"},
		{"siamese", "compare", "--json", "a.png"},
		{"siamese", "questions", "search", "-m", "x", "-k", "0", "--json", "q"},
	} {
		var out, errOut bytes.Buffer
		app := newApp()
		app.Writer, app.ErrWriter = &out, &errOut
		err := app.RunContext(context.Background(), args)
		if err == nil {
			t.Fatalf("%v: no error", args)
		}
		reportError(app, args, err)
		if !strings.HasPrefix(out.String(), "{\n  \"error\": ") || strings.Contains(out.String(), "USAGE") {
			t.Errorf("%v: stdout %q", args, out.String())
		}
		if lines := strings.Count(errOut.String(), "\n"); lines != 1 {
			t.Errorf("%v: stderr of %d lines: %q", args, lines, errOut.String())
		}
	}
}
