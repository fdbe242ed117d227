// Command tracking trains a SiamFC-style tracker (scaled for a CPU) on the
// VOT2015 bag sequence and evaluates it on the OTB sequence Crossing, which
// it never saw, against two baselines: the first box held still and
// template matching by normalised cross-correlation. It prints the OTB
// one-pass figures (success AUC, precision at 20 pixels) and the tracker's
// speed, and writes the success and precision plots as PNG.
//
//	go run ./examples/tracking -steps 1000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/internal/datadir"
)

func main() {
	data := flag.String("data", datadir.Domain("tracking"), "folder of tracking sequences (default $SIAMESE_DATA/tracking)")
	steps := flag.Int("steps", 1000, "training steps (8 groups of exemplar, target and background crops each)")
	seed := flag.Uint64("seed", 1, "training seed")
	test := flag.String("test", tracking.DefaultTest, "sequence to evaluate on (never trained on)")
	out := flag.String("o", "tracking.model", "where to save the model")
	png := flag.String("plots", "tracking", "prefix of the success and precision plots (PNG); empty for none")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	opt := flag.String("opt", "", "domain options KEY=VALUE,… (e.g. patches=0.8,gap=30)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *data, *steps, *seed, *test, *opt, *out, *png, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "tracking:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data string, steps int, seed uint64, test, opt, out, png string, jsonOut bool) error {
	opts := map[string]string{"test": test}
	for _, kv := range strings.Split(opt, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			opts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		} else if strings.TrimSpace(kv) != "" {
			return fmt.Errorf("-opt %q: want KEY=VALUE", kv)
		}
	}
	d, err := tracking.OpenDomain(core.DomainOptions{DataDir: data, Extra: opts})
	if err != nil {
		return err
	}
	m, err := core.New(d.Desc.Spec, d.Desc.Preprocess, seed)
	if err != nil {
		return err
	}
	cfg := train.Config{Schedule: "cosine", Steps: steps, Seed: seed, Augment: true, Items: 24, Pairs: 16, LR: 1e-3}
	tr := &train.Trainer{Model: m, Domain: d, Log: slog.Default(), Config: cfg}
	tr.OnProgress = func(p train.Progress) {
		if p.Step%100 == 0 && !jsonOut {
			fmt.Fprintf(os.Stderr, "step %d/%d loss %.4f (%.0f pairs/s)\n", p.Step, p.Steps, p.Loss, p.PairsPerSec)
		}
	}
	res, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	m.Info.Domain = tracking.Name
	m.Info.DomainOptions = opts
	if err := m.Save(out); err != nil {
		return err
	}
	seqs, closeAll, err := tracking.OpenAll(data)
	if err != nil {
		return err
	}
	defer closeAll()
	seq, err := tracking.Find(seqs, test)
	if err != nil {
		return err
	}
	frames, err := tracking.Images(seq)
	if err != nil {
		return err
	}
	mine, err := tracking.RunTracker(ctx, m, tracking.Params{}, frames, seq.Boxes)
	if err != nil {
		return err
	}
	runs, err := tracking.RunBaselines(seq)
	if err != nil {
		return err
	}
	runs = append([]tracking.Run{mine}, runs...)
	if png != "" {
		if err := tracking.SavePlots(png+"-success.png", png+"-precision.png", seq.Name, runs); err != nil {
			return err
		}
	}
	var names []string
	for _, v := range d.Videos {
		names = append(names, v.Name)
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"train": names, "steps": res.Steps, "seconds": res.Seconds, "test": seq.Name, "frames": len(frames), "runs": runs, "model": out})
	}
	fmt.Printf("Tracking: trained on %v (%d steps, %.0f s); evaluated on %s (%d frames, never seen)\n\n", names, res.Steps, res.Seconds, seq.Name, len(frames))
	fmt.Println("| tracker | success AUC | precision at 20 px | frames per second |")
	fmt.Println("|---|---|---|---|")
	for _, r := range runs {
		fps := "–"
		if r.FPS > 0 {
			fps = fmt.Sprintf("%.0f", r.FPS)
		}
		fmt.Printf("| %s | %.3f | %.3f | %s |\n", r.Name, r.Scores.SuccessAUC, r.Scores.PrecisionAt, fps)
	}
	return nil
}
