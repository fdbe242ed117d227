package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/heads/xcorr"
	"github.com/siamesenet/siamese/internal/datadir"
)

// runTrack times the tracker of the tracking domain's default model (the
// weights do not change its speed) on OTB Crossing when SIAMESE_DATA has
// it, else on a synthetic 360×240 sequence: frames per second of the
// whole tracker after decoding, of decoding, and of the network's share
// of a frame (3 search crops through the tower and 3 response maps),
// which it also measures for the same network in PyTorch.
func runTrack(reps int, compare bool, python string) error {
	m, err := core.New(tracking.Spec, core.Preprocess{}, 1)
	if err != nil {
		return err
	}
	defer m.Close()
	var seq *tracking.Sequence
	var closeAll func()
	if root := datadir.Domain("tracking"); root != "" {
		seqs, c, err := tracking.OpenAll(root)
		if err != nil {
			return err
		}
		closeAll = c
		if seq, err = tracking.Find(seqs, tracking.DefaultTest); err != nil {
			return err
		}
	} else {
		dir, err := os.MkdirTemp("", "trackbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := tracking.WriteSynthetic(dir, "Synthetic", 120, 360, 240); err != nil {
			return err
		}
		seqs, src, err := tracking.Open(filepath.Join(dir, "Synthetic"))
		if err != nil {
			return err
		}
		closeAll = func() { src.Close() }
		seq = seqs[0]
	}
	defer closeAll()
	start := time.Now()
	frames, err := tracking.Images(seq)
	if err != nil {
		return err
	}
	decode := float64(len(frames)) / time.Since(start).Seconds()
	ctx := context.Background()
	var tracker, net []float64
	var torch []result
	for r := 0; r < reps; r++ {
		run, err := tracking.RunTracker(ctx, m, tracking.Params{}, frames, seq.Boxes)
		if err != nil {
			return err
		}
		tracker = append(tracker, run.FPS)
		rate, err := networkFPS(ctx, m, 100)
		if err != nil {
			return err
		}
		net = append(net, rate)
		if compare {
			tr, err := runJSONEnv(torchEnv(), python, torchScript(), "--net", "fconv", "--mode", "track", "--steps", "100")
			if err != nil {
				return fmt.Errorf("pytorch: %w", err)
			}
			torch = append(torch, tr)
		}
	}
	fmt.Printf("tracking %s (%d frames, %d×%d), default model (3 scales, 96×96 crops), median of %d, on %s\n\n", seq.Name, len(frames), frames[0].W, frames[0].H, reps, machine())
	fmt.Println("| what | frames per second |")
	fmt.Println("|---|---|")
	fmt.Printf("| tracker (crops, tower, responses, peak) | %.0f |\n", medianOf(tracker))
	fmt.Printf("| JPEG decoding alone (%d cores) | %.0f |\n", runtime.GOMAXPROCS(0), decode)
	fmt.Printf("| network share of a frame, Go | %.0f |\n", medianOf(net))
	if compare {
		tr := median(torch)
		fmt.Printf("| network share of a frame, PyTorch | %.0f |\n", tr.Rate)
		fmt.Printf("\nGo / PyTorch on the network share: %.2f×\n", medianOf(net)/tr.Rate)
	}
	return nil
}

// networkFPS times what the network does per frame: 3 search crops
// through the tower in one batch and 3 response maps.
func networkFPS(ctx context.Context, m *core.Model, steps int) (float64, error) {
	h := m.Head.(*xcorr.Head)
	items := make([]core.Item, 3)
	for i := range items {
		items[i].Dense = make([]float32, core.Size(m.Tower.Input().Shape))
		for k := range items[i].Dense {
			items[i].Dense[k] = float32(k%17) / 17
		}
	}
	e, err := m.Embed(ctx, items, 3)
	if err != nil {
		return 0, err
	}
	z := h.Exemplar(e[0])
	var r []float32
	start := time.Now()
	for s := 0; s < steps; s++ {
		f, err := m.Embed(ctx, items, 3)
		if err != nil {
			return 0, err
		}
		for _, x := range f {
			r = h.Response(z, x, r, nil)
		}
	}
	return float64(steps) / time.Since(start).Seconds(), nil
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
