package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// shareClasses sort a profile's functions into where a training step's
// time goes, first match wins.
var shareClasses = []struct {
	name string
	re   *regexp.Regexp
}{
	{"products: packing panels (gemm.packA, packB, the implicit im2col's imagePacker)", regexp.MustCompile(`internal/gemm\.pack|imagePacker`)},
	{"products: micro-kernel and blocking", regexp.MustCompile(`internal/gemm\.`)},
	{"convolution lowering (im2col, col2im and its vector adds)", regexp.MustCompile(`im2col|col2im|vec\.(Add|addAVX2)`)},
	{"pooling and activations (a conv's bias and ReLU: forwardPart, vec.Bias)", regexp.MustCompile(`(?i)pool|relu|sigmoid|softplus|mask|forwardPart|vec\.bias`)},
	{"optimizer", regexp.MustCompile(`(?i)core\.\(\*adam|optim|adam`)},
	{"Go runtime (allocation, GC, scheduling)", regexp.MustCompile(`^runtime\.|^aeshash|^memeqbody|^indexbytebody`)},
	{"gorgonia and its tensors (per-op overhead, stock ops)", regexp.MustCompile(`gorgonia\.org/`)},
}

// runShares profiles one case (NET/MODE) in a process of its own and
// prints the share of its CPU time in each class: what the next lever is.
// It needs the go tool for pprof.
func runShares(c string, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "siamese-bench-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	prof := filepath.Join(dir, "cpu.prof")
	if _, err := runJSON(self, "-case", c, "-steps", fmt.Sprint(o.steps), "-batch", fmt.Sprint(o.batch), "-embed-batch", fmt.Sprint(o.embedBatch), "-gemm", o.gemm, "-cpuprofile", prof); err != nil {
		return err
	}
	var out bytes.Buffer
	// memmove and memclr are counted where they are called from (packing
	// a product's panels, lowering a convolution), not as the runtime's.
	cmd := exec.Command("go", "tool", "pprof", "-top", "-nodecount=100000", `-hide=^runtime\.mem(move|clr)`, self, prof)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	sums := make([]float64, len(shareClasses)+1)
	var total float64
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		flat, err := parseSeconds(f[0])
		if err != nil {
			continue
		}
		fn := strings.Join(f[5:], " ")
		class := len(shareClasses)
		for i, sc := range shareClasses {
			if sc.re.MatchString(fn) {
				class = i
				break
			}
		}
		sums[class] += flat
		total += flat
	}
	if total == 0 {
		return fmt.Errorf("the profile of %s holds no samples", c)
	}
	fmt.Printf("siamese bench -shares %s: %s\nproducts %s, %d steps, %.1f s of CPU samples\n\n| where | share |\n|---|---|\n", c, machine(), o.gemm, o.steps, total)
	for i, sc := range shareClasses {
		fmt.Printf("| %s | %.0f%% |\n", sc.name, 100*sums[i]/total)
	}
	fmt.Printf("| other | %.0f%% |\n", 100*sums[len(shareClasses)]/total)
	return nil
}

// parseSeconds reads pprof's durations ("1.25s", "340ms", "0").
func parseSeconds(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"ms", 1e-3}, {"us", 1e-6}, {"µs", 1e-6}, {"ns", 1e-9}, {"s", 1}, {"min", 60}, {"h", 3600}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f * u.scale, err
		}
	}
	return strconv.ParseFloat(s, 64)
}
