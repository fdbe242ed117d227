// Command bench measures training and embedding speed of the tower presets
// on synthetic data: pairs/s, images/s, GFLOP/s and peak RSS.
//
//	go run ./examples/bench -nets small,koch-half -steps 20
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/towers/cnn"
)

func main() {
	nets := flag.String("nets", "small,koch-half,koch", "comma-separated cnn presets")
	steps := flag.Int("steps", 10, "timed training steps (after one warm-up step)")
	batch := flag.Int("batch", 32, "training pairs per step (2×batch images, the classic twin layout)")
	embedBatch := flag.Int("embed-batch", 64, "images per embedding batch")
	profile := flag.String("cpuprofile", "", "write a CPU profile")
	mode := flag.String("mode", "train,embed", "train, embed or both")
	jsonOut := flag.Bool("json", false, "print JSON lines")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if !*jsonOut {
		fmt.Printf("%-10s %-6s %12s %10s %10s\n", "net", "mode", "rate", "GFLOP/s", "peak RSS")
	}
	for _, net := range strings.Split(*nets, ",") {
		for _, md := range strings.Split(*mode, ",") {
			r, err := bench(net, md, *steps, *batch, *embedBatch)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
			if *jsonOut {
				json.NewEncoder(os.Stdout).Encode(r)
				continue
			}
			unit := "pairs/s"
			if md == "embed" {
				unit = "img/s"
			}
			fmt.Printf("%-10s %-6s %8.1f %-7s %8.1f %8.2f GB\n", net, md, r.Rate, unit, r.GFLOPs, float64(r.PeakRSS)/1e9)
		}
	}
}

type result struct {
	Net     string  `json:"net"`
	Mode    string  `json:"mode"`
	Rate    float64 `json:"rate"`
	GFLOPs  float64 `json:"gflops"`
	PeakRSS int64   `json:"peak_rss"`
}

func bench(preset, mode string, steps, batch, embedBatch int) (*result, error) {
	tc, _ := json.Marshal(cnn.Config{Preset: preset})
	m, err := core.New(core.Spec{Tower: cnn.Name, TowerConfig: tc, Head: "l1sigmoid"}, core.Preprocess{}, 1)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	flops := forwardFLOPs(m.Tower.(*cnn.Tower).Config())
	rng := rand.New(rand.NewPCG(1, 1))
	r := &result{Net: preset, Mode: mode}
	switch mode {
	case "train":
		bt := coretest.RandomBatch(m.Tower, 2*batch, batch, 1)
		for i := range bt.A { // classic layout: pair i is (i, batch+i)
			bt.A[i], bt.B[i] = i, batch+i
		}
		net, err := m.NewTrainNet(2*batch, batch)
		if err != nil {
			return nil, err
		}
		defer net.Close()
		net.Forward(bt)
		start := time.Now()
		for i := 0; i < steps; i++ {
			if _, _, err := net.Forward(bt); err != nil {
				return nil, err
			}
		}
		el := time.Since(start).Seconds()
		r.Rate = float64(steps*batch) / el
		r.GFLOPs = 3 * flops * float64(2*batch*steps) / el / 1e9
	case "embed":
		var items []core.Item
		for i := 0; i < embedBatch; i++ {
			items = append(items, coretest.RandomItem(m.Tower.Input(), rng))
		}
		ctx := context.Background()
		m.Embed(ctx, items, embedBatch)
		start := time.Now()
		for i := 0; i < steps; i++ {
			if _, err := m.Embed(ctx, items, embedBatch); err != nil {
				return nil, err
			}
		}
		el := time.Since(start).Seconds()
		r.Rate = float64(steps*embedBatch) / el
		r.GFLOPs = flops * r.Rate / 1e9
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	r.PeakRSS = ru.Maxrss * 1024
	return r, nil
}

// forwardFLOPs counts the multiply-adds (×2) of one image through the tower.
func forwardFLOPs(c cnn.Config) float64 {
	ch, h, w := c.Input[0], c.Input[1], c.Input[2]
	f := 0.0
	for _, b := range c.Blocks {
		h, w = h-b.Kernel+1, w-b.Kernel+1
		f += 2 * float64(b.Filters*ch*b.Kernel*b.Kernel*h*w)
		ch = b.Filters
		if b.Pool > 1 {
			h, w = h/b.Pool, w/b.Pool
		}
	}
	in := ch * h * w
	for _, o := range append(append([]int(nil), c.Hidden...), c.Embed) {
		f += 2 * float64(in*o)
		in = o
	}
	return f
}
