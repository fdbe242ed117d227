package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/glyphs"
	"github.com/siamesenet/siamese/plugins"
)

// runPluginOverhead trains the small net on the glyphs domain in process
// and through the glyphs plugin, interleaved, and prints pairs/s of each.
func runPluginOverhead(reps, steps int) error {
	dir, err := os.MkdirTemp("", "siamese-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, plugins.Prefix+"glyphs")
	if out, err := exec.Command("go", "build", "-o", bin, "./plugins/glyphs").CombinedOutput(); err != nil {
		return fmt.Errorf("build the glyphs plugin (run from the repository root): %v: %s", err, out)
	}
	ctx := context.Background()
	local, err := glyphs.Open(glyphs.Options{})
	if err != nil {
		return err
	}
	p, err := plugins.Start(bin, plugins.Options{})
	if err != nil {
		return err
	}
	defer p.Close()
	remote, err := p.Open(ctx, core.DomainOptions{})
	if err != nil {
		return err
	}
	rates := map[string][]float64{}
	for r := 0; r < reps; r++ {
		for _, c := range []struct {
			name string
			d    core.Domain
		}{{"in process", local}, {"plugin", remote}} {
			rate, err := trainRate(ctx, c.d, steps)
			if err != nil {
				return err
			}
			rates[c.name] = append(rates[c.name], rate)
			fmt.Fprintf(os.Stderr, "rep %d %s: %.0f pairs/s\n", r+1, c.name, rate)
		}
	}
	med := func(xs []float64) float64 { sort.Float64s(xs); return xs[len(xs)/2] }
	in, out := med(rates["in process"]), med(rates["plugin"])
	fmt.Printf("small net on glyphs (64 images, 128 pairs a step, augmented), median of %d runs of %d steps\n\n", reps, steps)
	fmt.Printf("| pairs from | pairs/s |\n|---|---|\n| in process | %.0f |\n| plugin (gRPC) | %.0f |\n\nplugin overhead: %.1f%%\n", in, out, 100*(1-out/in))
	return nil
}

func trainRate(ctx context.Context, d core.Domain, steps int) (float64, error) {
	desc := d.Describe()
	m, err := core.New(desc.Spec, desc.Preprocess, 1)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	var t0 time.Time
	var secs float64
	tr := &train.Trainer{Model: m, Domain: d, Config: train.Config{Steps: steps + 1, Augment: true, Seed: 1},
		OnProgress: func(p train.Progress) {
			if p.Step == 1 {
				t0 = time.Now()
			}
			if p.Step == steps+1 {
				secs = time.Since(t0).Seconds()
			}
		}}
	res, err := tr.Run(ctx)
	if err != nil {
		return 0, err
	}
	return float64(int64(steps)*res.Pairs/int64(res.Steps)) / secs, nil
}
