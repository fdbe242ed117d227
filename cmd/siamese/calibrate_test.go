package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/domains/glyphs"
	"github.com/siamesenet/siamese/internal/datadir"
)

// Every built-in domain, trained for a few steps as the README trains it,
// stores the threshold that calibration on its declared validation task
// gives, not the default.
func TestTrainCalibratesEveryDomain(t *testing.T) {
	t.Parallel()
	for _, name := range core.Domains() {
		t.Run(name, func(t *testing.T) {
			pol, _ := core.DomainPolicy(name)
			if name != glyphs.Name && datadir.Domain(pol.DataFolder) == "" {
				t.Skipf("SIAMESE_DATA/%s not found (set SIAMESE_DATA to the shared data)", pol.DataFolder)
			}
			model := filepath.Join(t.TempDir(), name+".model")
			if _, err := run(t, "train", "--domain", name, "--steps", "2", "--val-every", "1000", "-o", model, "--json"); err != nil {
				t.Fatal(err)
			}
			m, err := core.Load(model)
			if err != nil {
				t.Fatal(err)
			}
			cal := m.Info.Calibration
			at := "eer" // or at the false-accept rate the domain's policy names
			if pol.FAR > 0 {
				at = "far"
			}
			if cal == nil || cal.Task != pol.ValTask || cal.At != at || cal.Pairs == 0 || (pol.FAR > 0 && cal.FAR != pol.FAR) {
				t.Fatalf("calibration %+v, want on %q at the %s (policy FAR %g)", cal, pol.ValTask, at, pol.FAR)
			}
			// Calibrating the stored model again on the same task gives
			// the stored threshold.
			dom, err := core.OpenDomain(name, core.DomainOptions{DataDir: datadir.Domain(pol.DataFolder), Input: m.Tower.Input().Shape, Extra: m.Info.DomainOptions})
			if err != nil {
				t.Fatal(err)
			}
			want := m.Threshold
			got := math.NaN()
			if c, ok := dom.(core.Calibrator); ok { // the domain calibrates its own score (questions: the lexical fusion)
				if err := c.Calibrate(context.Background(), m, pol.ValTask, pol.FAR); err != nil {
					t.Fatal(err)
				}
				got = m.Threshold
			} else {
				if _, err := metrics.Calibrate(context.Background(), m, dom, pol.ValTask, pol.FAR); err != nil {
					t.Fatal(err)
				}
				got = m.Threshold
			}
			if want != got || want == core.DefaultThreshold {
				t.Errorf("stored threshold %v; calibration gives %v", want, got)
			}
		})
	}
}

// A plugin domain gets the same: its policy (sent over gRPC) names the
// recipe and the validation task, and the model is calibrated on it. Its
// input kind is its own, unknown to the host: the host decodes users'
// files through the plugin.
func TestPluginDomainPolicy(t *testing.T) {
	bin, pdir := binaries(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "shapes.model")
	out, err := cliCmd(bin, pdir, nil, "train", "--domain", "shapes", "--steps", "3", "-o", model, "--json").Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct {
		Result struct{ Steps int }
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Result.Steps != 3 {
		t.Fatalf("train: %v %s", err, out)
	}
	m, err := core.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	if cal := m.Info.Calibration; cal == nil || cal.Task != "val5" {
		t.Fatalf("plugin model calibration %+v, want on val5", cal)
	}
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("5"), 0o644)
	os.WriteFile(b, []byte("5 star"), 0o644)
	out, err = cliCmd(bin, pdir, nil, "compare", "--model", model, "--json", a, b).Output()
	if err != nil || !strings.Contains(string(out), `"verdict"`) {
		t.Fatalf("compare through the plugin's decoder: %v\n%s", err, out)
	}
	os.WriteFile(b, []byte("12"), 0o644)
	out, err = cliCmd(bin, pdir, nil, "compare", "--model", model, a, b).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "b.txt") || !strings.Contains(string(out), "3 to 9") {
		t.Fatalf("a file the plugin cannot decode: %v\n%s", err, out)
	}
	noOrphans(t, pdir)
}

// Every --json command writes JSON that encoding/json reads back, even
// when the threshold is infinite (--threshold Inf here; eval's threshold at
// a FAR no score reaches, or a degenerate EER, in use): the figures JSON
// cannot hold come out as null.
func TestJSONWithInfiniteThreshold(t *testing.T) {
	t.Parallel()
	dir, model, a, b := glyphFixture(t)
	gal := filepath.Join(dir, "f.gallery")
	for _, args := range [][]string{
		{"info", "--json", model},
		{"compare", "--model", model, "--threshold", "Inf", "--json", a, b},
		{"embed", "--model", model, "--json", a},
		{"eval", "--model", model, "--task", "val20", "--threshold", "Inf", "--json"},
		{"face", "enroll", "--model", model, "--gallery", gal, "--name", "x", "--json", a},
		{"face", "identify", "--model", model, "--gallery", gal, "--threshold", "+Inf", "--json", a, b},
		{"face", "verify", "--model", model, "--gallery", gal, "--name", "x", "--threshold", "Inf", "--json", b},
		{"face", "gallery", "list", "--gallery", gal, "--json"},
		{"signature", "verify", "--model", model, "--gallery", gal, "--writer", "x", "--threshold", "-Inf", "--json", b},
	} {
		out, err := run(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		if strings.Contains(strings.Join(args, " "), "compare") && !strings.Contains(out, `"threshold": null`) {
			t.Errorf("%v: the infinite threshold is not null:\n%s", args, out)
		}
	}
}

// glyphFixture is a folder holding a glyph model trained for two steps and
// two glyph images, a and b.
func glyphFixture(t *testing.T) (dir, model, a, b string) {
	t.Helper()
	dir = t.TempDir()
	model = glyphModel(t, dir)
	a, b = filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writePNG(t, a, 3)
	writePNG(t, b, 17)
	return dir, model, a, b
}

// glyphModel trains a glyph model for two steps into dir.
func glyphModel(t *testing.T, dir string) string {
	t.Helper()
	model := filepath.Join(dir, "g.model")
	if _, err := run(t, "train", "--domain", "glyphs", "--steps", "2", "--items", "16", "--pairs", "16", "-o", model); err != nil {
		t.Fatal(err)
	}
	return model
}

// A signature writer enrolled from 6 and from 20 references (the domain's
// limit is 20, the old gallery check's 5) is still in the gallery after
// it is reloaded, and verifies; 21 are refused before anything is written.
func TestSignatureReferencesReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := glyphModel(t, dir)
	var refs []string
	for i := 0; i < 21; i++ {
		refs = append(refs, filepath.Join(dir, fmt.Sprintf("r%02d.png", i)))
		writePNG(t, refs[i], i)
	}
	for _, n := range []int{6, 20} {
		gal := filepath.Join(dir, fmt.Sprintf("refs%d.gallery", n))
		if _, err := run(t, append([]string{"signature", "enroll", "--model", model, "--gallery", gal, "--writer", "030"}, refs[:n]...)...); err != nil {
			t.Fatalf("%d references: %v", n, err)
		}
		out, err := run(t, "signature", "references", "list", "--gallery", gal)
		if err != nil || !strings.Contains(out, fmt.Sprintf("030\t%d signature(s)", n)) {
			t.Fatalf("%d references: list: %v\n%s", n, err, out)
		}
		out, err = run(t, "signature", "verify", "--model", model, "--gallery", gal, "--writer", "030", refs[20])
		if err != nil || !strings.Contains(out, "030: ") {
			t.Fatalf("%d references: verify after reload: %v\n%s", n, err, out)
		}
	}
	gal := filepath.Join(dir, "too-many.gallery")
	if _, err := run(t, append([]string{"signature", "enroll", "--model", model, "--gallery", gal, "--writer", "031"}, refs...)...); err == nil || !strings.Contains(err.Error(), "2 to 20") {
		t.Fatalf("21 references: %v", err)
	}
	if _, err := os.Stat(gal); err == nil {
		t.Error("a refused enrolment wrote a gallery")
	}
}
