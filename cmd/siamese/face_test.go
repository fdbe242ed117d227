package main

import (
	"bytes"
	"flag"
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
	t.Parallel()
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

	if _, err := run(t, "face", "identify", "-m", model, "-g", gal, a); err == nil || !strings.Contains(err.Error(), "no such gallery") {
		t.Errorf("identify before anyone is enrolled: %v", err)
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

// `siamese face train` trains by the face recipe of the domain's policy
// (on the "train" split, leaving the validation subjects to calibrate the
// threshold); a flag the user sets wins, and a --duration given alone
// replaces the recipe's step budget.
func TestTrainConfigFromRecipe(t *testing.T) {
	t.Parallel()
	var train *cli.Command
	for _, c := range newApp().Commands {
		for _, s := range c.Subcommands {
			if c.Name == "face" && s.Name == "train" {
				train = s
			}
		}
	}
	r := face.Policy.Recipe
	for _, tc := range []struct {
		args  []string
		steps int
		items int
		lr    float64
	}{
		{nil, 800, r.Items, r.LR},
		{[]string{"--duration", "2m"}, 0, r.Items, r.LR},
		{[]string{"--duration", "2m", "--steps", "300"}, 300, r.Items, r.LR},
		{[]string{"--steps", "300", "--items", "32", "--lr", "0.01"}, 300, 32, 0.01},
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
		got := trainConfig(cli.NewContext(newApp(), fs, nil), r)
		if got.Steps != tc.steps || got.Items != tc.items || got.LR != tc.lr || got.Split != "train" || got.Pairs != r.Pairs ||
			got.Schedule != r.Schedule || got.WeightDecay != r.WeightDecay || !got.Augment {
			t.Errorf("face train %v: %+v", tc.args, got)
		}
	}
	if d := train.Flags[0].(*cli.StringFlag); d.Name != "domain" || d.Value != face.Name {
		t.Errorf("face train --domain defaults to %q", d.Value)
	}
}
