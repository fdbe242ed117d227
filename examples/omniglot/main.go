// Command omniglot reproduces Koch et al.'s one-shot protocol: train a
// Siamese net on the Omniglot background alphabets, then measure 20-way
// one-shot accuracy on Lake et al.'s 20 official runs (400 trials).
//
//	go run ./examples/omniglot -data ../shared/data/omniglot -budget 1h
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/omniglot"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/towers/cnn"
)

func main() {
	data := flag.String("data", datadir.Domain("omniglot"), "folder with images_background.zip and all_runs.zip (default $SIAMESE_DATA/omniglot)")
	budget := flag.Duration("budget", 5*time.Minute, "wall-time training budget")
	side := flag.Int("side", 28, "input side in pixels (105 for the paper's net)")
	preset := flag.String("preset", "small", "cnn preset: small, koch-half or koch")
	head := flag.String("head", "l1sigmoid", "head: l1sigmoid or contrastive")
	lr := flag.Float64("lr", 1e-3, "Adam learning rate")
	schedule := flag.String("schedule", "cosine", "learning-rate schedule: constant, step or cosine (over the budget)")
	items := flag.Int("items", 64, "distinct images per batch")
	pairs := flag.Int("pairs", 128, "pairs per batch")
	augment := flag.Bool("augment", true, "Koch's affine distortions")
	valEvery := flag.Int("val-every", 500, "validate (20-way, held-out background alphabets) every N steps")
	seed := flag.Uint64("seed", 1, "seed")
	out := flag.String("o", "omniglot.model", "where to save the model")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *data, *budget, *side, *preset, *head, *lr, *schedule, *items, *pairs, *augment, *valEvery, *seed, *out, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "omniglot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, data string, budget time.Duration, side int, preset, head string, lr float64, schedule string, items, pairs int, augment bool, valEvery int, seed uint64, out string, jsonOut bool) error {
	dom, err := omniglot.Open(core.DomainOptions{DataDir: data, Input: []int{1, side, side}})
	if err != nil {
		return err
	}
	tc, _ := json.Marshal(cnn.Config{Preset: preset, Input: []int{1, side, side}})
	m, err := core.New(core.Spec{Tower: cnn.Name, TowerConfig: tc, Head: head}, dom.Desc.Preprocess, seed)
	if err != nil {
		return err
	}
	runs, err := dom.Episodes(ctx, "lake20")
	if err != nil {
		return err
	}
	before, err := metrics.Identify(ctx, m, runs, nil)
	if err != nil {
		return err
	}
	log.Info("before training", "lake20", before.Accuracy)
	tr := &train.Trainer{Model: m, Domain: dom, Log: log, Config: train.Config{
		LR: lr, Schedule: schedule, Items: items, Pairs: pairs, Duration: budget, Seed: seed, Augment: augment, ValEvery: valEvery,
		Checkpoint: out + ".ckpt", CkptEvery: 1000,
	}}
	tr.Validate = metrics.AccuracyOn(dom, "val20")
	last := time.Now()
	tr.OnProgress = func(p train.Progress) {
		if time.Since(last) > 30*time.Second || p.Val != nil {
			last = time.Now()
			log.Info("progress", "step", p.Step, "loss", p.Loss, "pairs/s", int(p.PairsPerSec), "eta", p.ETA.Round(time.Second))
		}
	}
	res, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	after, err := metrics.Identify(ctx, m, runs, nil)
	if err != nil {
		return err
	}
	m.Info.Domain = omniglot.Name
	m.Info.Metrics = map[string]float64{"lake20": after.Accuracy}
	if err := m.Save(out); err != nil {
		return err
	}
	r := map[string]any{"net": preset, "side": side, "head": head, "schedule": schedule, "lr": lr, "budget": budget.String(), "steps": res.Steps,
		"pairs": res.Pairs, "seconds": res.Seconds, "val20_best": res.BestScore, "lake20_before": before.Accuracy,
		"lake20": after.Accuracy, "trials": after.Trials, "cores": runtime.NumCPU(), "model": out}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Printf("Omniglot, Lake's 20 runs (400 trials of 20-way one-shot), %s net at %d×%d, %s head\n", preset, side, side, head)
	fmt.Printf("  trained %d steps (%d pairs) in %.0f s on %d cores; best validation %.1f%%\n", res.Steps, res.Pairs, res.Seconds, runtime.NumCPU(), 100*res.BestScore)
	fmt.Printf("  accuracy before %.1f%%, after %.1f%% (chance 5.0%%)\n", 100*before.Accuracy, 100*after.Accuracy)
	return nil
}
