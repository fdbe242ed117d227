package main

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/domains/signature"
)

func TestSignatureCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := signature.WriteSynthetic(data, "sigcomp", 5, 7, 2); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "sig.model")
	if _, err := run(t, "signature", "train", "--data", data, "--opt", "test=2", "--opt", "val=1", "--steps", "3", "--items", "16", "--pairs", "16", "-o", model); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "signature", "eval", "--model", model, "--data", data, "--task", "test", "--json")
	if err != nil || !strings.Contains(out, `"eer"`) {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	gal := filepath.Join(dir, "refs.gallery")
	genuine := func(w, n int) string {
		return filepath.Join(data, fmt.Sprintf("sign_data/train/%03d/%03d_%02d.PNG", w, w, n))
	}
	forged := filepath.Join(data, "sign_data/train/001_forg/0208001_08.png")
	if _, err := run(t, "signature", "enroll", "-m", model, "-g", gal, "--writer", "001", genuine(1, 1), genuine(1, 2), genuine(1, 3)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{genuine(1, 6), forged} {
		out, err := run(t, "signature", "verify", "-m", model, "-g", gal, "--writer", "001", "--json", q)
		if err != nil || !strings.Contains(out, `"verdict"`) || !strings.Contains(out, `"aggregate": "mean"`) || !strings.Contains(out, `"normalized": true`) {
			t.Errorf("verify %s: %v\n%s", q, err, out)
		}
	}
	if out, err := run(t, "signature", "verify", "-m", model, "-g", gal, "--writer", "001", "--aggregate", "max", genuine(1, 7)); err != nil ||
		!(strings.Contains(out, "genuine") || strings.Contains(out, "forged")) {
		t.Errorf("verify --aggregate max: %v\n%s", err, out)
	}
	blank := filepath.Join(dir, "blank.png")
	page := image.NewGray(image.Rect(0, 0, 300, 150))
	for i := range page.Pix {
		page.Pix[i] = 240
	}
	writeImage(t, blank, page)
	corrupt := filepath.Join(dir, "bad.png")
	os.WriteFile(corrupt, []byte("\x89PNG\r\n\x1a\ngarbage"), 0o644)
	before, _ := os.ReadFile(gal)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "-m", model, "-g", gal, "--writer", "999", genuine(2, 1)}, `no writer named "999"`},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002"}, "give 2 to"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1)}, "give 2 to"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1), blank}, "no ink"},
		{[]string{"enroll", "-m", model, "-g", gal, "--writer", "002", genuine(2, 1), corrupt}, "bad.png"},
		{[]string{"verify", "-m", model, "-g", gal, "--writer", "001", blank}, "no ink"},
		{[]string{"verify", "-m", model, "-g", gal, "--writer", "001", "--aggregate", "median", genuine(1, 7)}, "want max or mean"},
	} {
		_, err := run(t, append([]string{"signature"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one line saying %q", tc.args, err, tc.want)
		}
	}
	if after, _ := os.ReadFile(gal); string(after) != string(before) {
		t.Error("a failed command changed the gallery")
	}
	out, err = run(t, "signature", "references", "list", "-g", gal)
	if err != nil || !strings.Contains(out, "001\t3 signature(s)") {
		t.Errorf("references list: %v\n%s", err, out)
	}
}
