// Command tracking trains a SiamFC-style tracker (scaled for a CPU) on the
// training sequences (tracking_train and the tracking folder, less the
// validation and test sequences), tunes the tracker's settings on the
// validation sequences, and evaluates on every sequence it did not train
// on (OTB Crossing, VOT bag, the validation ones) against two baselines:
// the first box held still and template matching by normalised
// cross-correlation. It prints the OTB one-pass figures (success AUC,
// precision at 20 pixels) per seed and per sequence, and writes the
// success and precision plots of the test sequence as PNG.
//
//	go run ./examples/tracking -seeds 1,2,3
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/internal/datadir"
)

func main() {
	data := flag.String("data", datadir.Domain("tracking"), "folder of tracking sequences (default $SIAMESE_DATA/tracking; tracking_train beside it joins)")
	steps := flag.Int("steps", 1000, "training steps (8 groups of exemplar, target and background crops each)")
	seeds := flag.String("seeds", "1", "training seeds, comma-separated")
	valEvery := flag.Int("val-every", 200, "validate (tracker success on the validation sequences) every N steps; the best weights are kept (0: never)")
	tune := flag.Bool("tune", false, "tune the tracker's settings on the validation sequences after training")
	spec := flag.String("tower", "", `tower config JSON for fconv (default the domain's: {"preset":"small"})`)
	out := flag.String("o", "tracking", "prefix of the saved models (PREFIX-seedN.model) and plots (PREFIX-success.png, PREFIX-precision.png of the first seed)")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	opt := flag.String("opt", "", "domain options KEY=VALUE,… (e.g. patches=0.8,gap=30)")
	from := flag.String("from", "", "load PREFIX-seedN.model (as -o saved them) instead of training; with -tune, tune them afresh")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *data, *steps, *valEvery, *seeds, *tune, *spec, *opt, *out, *from, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "tracking:", err)
		os.Exit(1)
	}
}

type result struct {
	Seed     uint64            `json:"seed"`
	Steps    int               `json:"steps"`
	Seconds  float64           `json:"seconds"`
	Params   tracking.Params   `json:"params"`
	Runs     map[string]scores `json:"runs"` // by sequence
	Model    string            `json:"model"`
	ValMean  float64           `json:"validation_mean_auc"`
	BestStep int               `json:"best_step,omitempty"`
}

type scores struct {
	AUC, P20 float64
	FPS      float64 `json:",omitempty"`
}

func run(ctx context.Context, data string, steps, valEvery int, seedList string, tune bool, tower, opt, out, from string, jsonOut bool) error {
	opts := map[string]string{}
	for _, kv := range strings.Split(opt, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			opts[strings.TrimSpace(k)] = strings.TrimSpace(v)
		} else if strings.TrimSpace(kv) != "" {
			return fmt.Errorf("-opt %q: want KEY=VALUE", kv)
		}
	}
	var seeds []uint64
	for _, s := range strings.Split(seedList, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("-seeds %q: %w", seedList, err)
		}
		seeds = append(seeds, v)
	}
	o := core.DomainOptions{DataDir: data, Extra: opts}
	d, err := tracking.OpenDomain(o)
	if err != nil {
		return err
	}
	dopt, _ := tracking.ParseOptions(o)
	split, closeAll, err := tracking.OpenSplit(data, dopt)
	if err != nil {
		return err
	}
	defer closeAll()
	// Every sequence not trained on: the test first, then the others.
	var evalSeqs []*tracking.Sequence
	if split.Test != nil {
		evalSeqs = append(evalSeqs, split.Test)
	}
	trained := map[string]bool{}
	for _, s := range split.Train {
		trained[s.Name] = true
	}
	for _, s := range split.Validation {
		trained[s.Name] = true // listed after the others
	}
	all, closeData, err := tracking.OpenAll(data)
	if err != nil {
		return err
	}
	defer closeData()
	for _, s := range all {
		if !trained[s.Name] && (split.Test == nil || s.Name != split.Test.Name) {
			evalSeqs = append(evalSeqs, s)
		}
	}
	evalSeqs = append(evalSeqs, split.Validation...)
	frames := map[string][]*tracking.Image{}
	base := map[string][]tracking.Run{}
	for _, s := range evalSeqs {
		if frames[s.Name], err = tracking.Images(s); err != nil {
			return err
		}
		if base[s.Name], err = tracking.RunBaselines(s); err != nil {
			return err
		}
	}
	spec := d.Desc.Spec
	if tower != "" {
		spec.TowerConfig = json.RawMessage(tower)
	}
	var results []result
	for k, seed := range seeds {
		m, r, err := model(ctx, d, spec, seed, steps, valEvery, from, jsonOut)
		if err != nil {
			return err
		}
		if from == "" {
			m.Info.Domain = tracking.Name
			m.Info.DomainOptions = opts
		}
		if tune {
			tuned, err := tracking.Tune(ctx, m, d.Validation, tracking.Params{}, func(t tracking.Trial) {
				if !jsonOut {
					fmt.Fprintf(os.Stderr, "seed %d: tune %s: validation AUC %.3f\n", seed, t.Params, t.Mean)
				}
			})
			if err != nil {
				return err
			}
			if err := tracking.SetParams(m, tuned.Params); err != nil {
				return err
			}
			r.ValMean = tuned.Mean
		}
		p, err := tracking.ParamsOf(m)
		if err != nil {
			return err
		}
		r.Params = p
		r.Model = fmt.Sprintf("%s-seed%d.model", out, seed)
		if err := m.Save(r.Model); err != nil {
			return err
		}
		for _, s := range evalSeqs {
			run, err := tracking.RunTracker(ctx, m, p, frames[s.Name], s.Boxes)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			r.Runs[s.Name] = scores{run.Scores.SuccessAUC, run.Scores.PrecisionAt, run.FPS}
			if k == 0 && split.Test != nil && s.Name == split.Test.Name && out != "" {
				if err := tracking.SavePlots(out+"-success.png", out+"-precision.png", s.Name, append([]tracking.Run{run}, base[s.Name]...)); err != nil {
					return err
				}
			}
		}
		m.Close()
		results = append(results, r)
		if !jsonOut {
			fmt.Fprintf(os.Stderr, "seed %d: %v\n", seed, r.Runs)
		}
	}
	if jsonOut {
		bs := map[string]map[string]scores{}
		for n, runs := range base {
			bs[n] = map[string]scores{}
			for _, r := range runs {
				bs[n][r.Name] = scores{AUC: r.Scores.SuccessAUC, P20: r.Scores.PrecisionAt}
			}
		}
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"train": d.TrainingSequences(), "validation": names(split.Validation), "results": results, "baselines": bs})
	}
	fmt.Printf("Tracking: trained on %d sequences (%d steps per seed); validation %v\n\n", len(d.Videos), steps, names(split.Validation))
	if split.Test != nil {
		t := split.Test.Name
		fmt.Printf("### %s by seed (success AUC, precision at 20 px)\n\n| seed | success AUC | precision@20 | fps | validation mean AUC |\n|---|---|---|---|---|\n", t)
		var sum float64
		for _, r := range results {
			fmt.Printf("| %d | %.3f | %.3f | %.0f | %.3f |\n", r.Seed, r.Runs[t].AUC, r.Runs[t].P20, r.Runs[t].FPS, r.ValMean)
			sum += r.Runs[t].AUC
		}
		fmt.Printf("| mean | %.3f | | | |\n", sum/float64(len(results)))
		for _, b := range base[t] {
			fmt.Printf("| %s | %.3f | %.3f | | |\n", b.Name, b.Scores.SuccessAUC, b.Scores.PrecisionAt)
		}
	}
	fmt.Printf("\n### every sequence not trained on (success AUC / precision at 20 px)\n\n| sequence |")
	for _, r := range results {
		fmt.Printf(" seed %d |", r.Seed)
	}
	fmt.Printf(" NCC | still box |\n|---|")
	for range results {
		fmt.Printf("---|")
	}
	fmt.Println("---|---|")
	for _, s := range evalSeqs {
		fmt.Printf("| %s |", s.Name)
		for _, r := range results {
			fmt.Printf(" %.3f / %.2f |", r.Runs[s.Name].AUC, r.Runs[s.Name].P20)
		}
		for _, b := range []int{1, 0} {
			fmt.Printf(" %.3f / %.2f |", base[s.Name][b].Scores.SuccessAUC, base[s.Name][b].Scores.PrecisionAt)
		}
		fmt.Println()
	}
	return nil
}

// model trains seed's model, or loads it from PREFIX-seedN.model.
func model(ctx context.Context, d *tracking.Domain, spec core.Spec, seed uint64, steps, valEvery int, from string, jsonOut bool) (*core.Model, result, error) {
	r := result{Seed: seed, Runs: map[string]scores{}}
	if from != "" {
		m, err := core.Load(fmt.Sprintf("%s-seed%d.model", from, seed))
		if err != nil {
			return nil, r, err
		}
		return m, r, nil
	}
	m, err := core.New(spec, d.Desc.Preprocess, seed)
	if err != nil {
		return nil, r, err
	}
	cfg := train.Config{Schedule: "cosine", Steps: steps, Seed: seed, Augment: true, Items: 24, Pairs: 16, LR: 1e-3, ValEvery: valEvery}
	tr := &train.Trainer{Model: m, Domain: d, Log: slog.Default(), Config: cfg}
	if valEvery > 0 {
		tr.Validate = d.Validate
	}
	tr.OnProgress = func(p train.Progress) {
		if jsonOut {
			return
		}
		if p.Val != nil {
			fmt.Fprintf(os.Stderr, "seed %d: step %d validation AUC %.3f\n", seed, p.Step, *p.Val)
		}
		if p.Step%100 == 0 {
			fmt.Fprintf(os.Stderr, "seed %d: step %d/%d loss %.4f (%.0f pairs/s)\n", seed, p.Step, p.Steps, p.Loss, p.PairsPerSec)
		}
	}
	res, err := tr.Run(ctx)
	if err != nil {
		return nil, r, err
	}
	r.Steps, r.Seconds, r.BestStep, r.ValMean = res.Steps, res.Seconds, res.BestStep, res.BestScore
	return m, r, nil
}

func names(seqs []*tracking.Sequence) []string {
	var out []string
	for _, s := range seqs {
		out = append(out, s.Name)
	}
	return out
}
