package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/domains/face"
	"github.com/urfave/cli/v2"
)

func writeImage(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFaceGalleryCommands(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.model")
	if _, err := run(t, "train", "--domain", "glyphs", "--steps", "5", "--items", "16", "--pairs", "16", "-o", model, "--json"); err != nil {
		t.Fatal(err)
	}
	gal := filepath.Join(dir, "g.gallery")
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writePNG(t, a, 3)
	writePNG(t, b, 17)
	colorful := image.NewRGBA(image.Rect(0, 0, 28, 28))
	for i := range colorful.Pix {
		colorful.Pix[i] = uint8(i * 7)
	}
	rgb, tiny := filepath.Join(dir, "rgb.png"), filepath.Join(dir, "tiny.png")
	writeImage(t, rgb, colorful)
	writeImage(t, tiny, image.NewGray(image.Rect(0, 0, 3, 3)))
	corrupt := filepath.Join(dir, "bad.pgm")
	os.WriteFile(corrupt, []byte("P5 28 28 255\n\x00"), 0o644)

	if _, err := run(t, "face", "identify", "-m", model, "-g", gal, a); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("identify on an empty gallery: %v", err)
	}
	if _, err := run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "ann", a); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "ann", b); err == nil || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "ann", "--replace", b); err != nil {
		t.Errorf("replace: %v", err)
	}
	out, err := run(t, "face", "identify", "-m", model, "-g", gal, "--json", b)
	if err != nil || !strings.Contains(out, `"name": "ann"`) {
		t.Errorf("identify: %v %s", err, out)
	}
	for _, tc := range []struct{ file, want string }{
		{rgb, "color image"}, {tiny, "far smaller"}, {corrupt, "bad.pgm"},
	} {
		_, err := run(t, "face", "enroll", "-m", model, "-g", gal, "--name", "x", tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line saying %q", tc.file, err, tc.want)
		}
	}
	out, err = run(t, "face", "gallery", "list", "-g", gal)
	if err != nil || !strings.Contains(out, "1 enrolled") || strings.Contains(out, "\nx\t") {
		t.Errorf("gallery list after failed enrolls: %v\n%s", err, out)
	}
	if _, err := run(t, "face", "gallery", "remove", "-m", model, "-g", gal, "ann"); err != nil {
		t.Error(err)
	}
}

// faceTrainCommand returns the app's `face train` command.
func faceTrainCommand(t *testing.T) *cli.Command {
	t.Helper()
	for _, c := range newApp().Commands {
		if c.Name == "face" {
			for _, s := range c.Subcommands {
				if s.Name == "train" {
					return s
				}
			}
		}
	}
	t.Fatal("no face train command")
	return nil
}

// `siamese face train` defaults to the face recipe (face.TrainConfig) but
// trains on the "train" split, leaving the validation subjects to
// calibrate the threshold.
func TestFaceTrainDefaults(t *testing.T) {
	train := faceTrainCommand(t)
	r := face.TrainConfig(800, 1)
	want := map[string]string{"items": fmt.Sprint(r.Items), "pairs": fmt.Sprint(r.Pairs), "steps": "800", "lr": fmt.Sprint(r.LR),
		"weight-decay": fmt.Sprint(r.WeightDecay), "schedule": r.Schedule, "augment": "true", "domain": face.Name}
	for _, f := range train.Flags {
		name := f.Names()[0]
		w, ok := want[name]
		if !ok {
			continue
		}
		delete(want, name)
		got := f.(cli.DocGenerationFlag).GetValue()
		if b, ok := f.(*cli.BoolFlag); ok {
			got = fmt.Sprint(b.Value)
		}
		if got != w && got != fmt.Sprintf("%q", w) {
			t.Errorf("--%s defaults to %s, want %s", name, got, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("flags missing: %v", want)
	}
}

// A --duration given alone replaces face train's default step budget; with
// --steps both hold.
func TestStepBudget(t *testing.T) {
	train := faceTrainCommand(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 800},
		{[]string{"--duration", "2m"}, 0},
		{[]string{"--duration", "2m", "--steps", "300"}, 300},
		{[]string{"--steps", "300"}, 300},
	} {
		fs := flag.NewFlagSet("train", flag.ContinueOnError)
		for _, f := range train.Flags {
			if err := f.Apply(fs); err != nil {
				t.Fatal(err)
			}
		}
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := stepBudget(cli.NewContext(newApp(), fs, nil)); got != tc.want {
			t.Errorf("face train %v: step budget %d, want %d", tc.args, got, tc.want)
		}
	}
}
