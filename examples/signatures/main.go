// Command signatures runs writer-independent signature verification on the
// shared SigComp2011 Dutch subset (19 writers): train a SigNet-style
// Siamese CNN (scaled for a CPU) on 13 writers, then verify the 6 never
// seen: each questioned signature (the writer's other genuine ones and the
// skilled forgeries of them) against 5 genuine references of its writer.
// It reports FAR on skilled forgeries, FRR, EER and accuracy for four
// scoring rules (mean or max over the references, each raw or normalised by
// the references' scores among themselves), at the EER threshold and at the
// threshold calibrated on the training writers, and writes the ROC of the
// default rule (mean, normalised) as PNG.
//
//	go run ./examples/signatures -steps 2000
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"syscall"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/signature"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/plots"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func main() {
	data := flag.String("data", datadir.Domain("signatures"), "signature folder or zip (default $SIAMESE_DATA/signatures)")
	steps := flag.Int("steps", 2000, "training steps (64 signatures, 128 pairs each)")
	seed := flag.Uint64("seed", 1, "training seed")
	splitSeed := flag.String("split-seed", "1", "which 6 writers are unseen")
	out := flag.String("o", "signatures.model", "where to save the model")
	roc := flag.String("roc", "signatures-roc.png", "ROC plot (mean over references); empty for none")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *data, *steps, *seed, *splitSeed, *out, *roc, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "signatures:", err)
		os.Exit(1)
	}
}

// Row is one scoring rule's figures on the unseen writers.
type Row struct {
	Rule        string  `json:"rule"`
	EER         float64 `json:"eer"`
	AUC         float64 `json:"roc_auc"`
	AccAtEER    float64 `json:"accuracy_at_eer"`
	Threshold   float64 `json:"calibrated_threshold"`
	FAR         float64 `json:"far_skilled"` // at the calibrated threshold
	FRR         float64 `json:"frr"`
	AccAtThresh float64 `json:"accuracy"`
}

func run(ctx context.Context, data string, steps int, seed uint64, splitSeed, out, roc string, jsonOut bool) error {
	d, err := signature.Open(core.DomainOptions{DataDir: data, Extra: map[string]string{"test": "6", "val": "0", "split_seed": splitSeed}})
	if err != nil {
		return err
	}
	m, err := core.New(d.Desc.Spec, d.Desc.Preprocess, seed)
	if err != nil {
		return err
	}
	tr := &train.Trainer{Model: m, Domain: d, Log: slog.Default(), Config: train.Config{Schedule: "cosine", Steps: steps, Seed: seed, Augment: true}}
	res, err := tr.Run(ctx)
	if err != nil {
		return err
	}
	test, err := d.Episodes(ctx, "test")
	if err != nil {
		return err
	}
	// The threshold a deployment would use: calibrated on the training
	// writers (no writer is left for validation with 19).
	train, err := d.VerificationEpisodes(d.Train, signature.References, 2)
	if err != nil {
		return err
	}
	var rows []Row
	for _, rule := range []core.ScoreRule{signature.Rule, {Aggregate: core.Closest, Normalize: true}, {Aggregate: core.MeanScore}, {Aggregate: core.Closest}} {
		cal, err := metrics.VerifyEnrolled(ctx, m, train, rule)
		if err != nil {
			return err
		}
		v, err := metrics.VerifyEnrolled(ctx, m, test, rule)
		if err != nil {
			return err
		}
		at, err := metrics.Verify(v.Scores, v.Same, cal.EERThresh)
		if err != nil {
			return err
		}
		atEER, err := metrics.Verify(v.Scores, v.Same, math.NaN())
		if err != nil {
			return err
		}
		rows = append(rows, Row{Rule: rule.String(), EER: v.EER, AUC: v.AUC, AccAtEER: atEER.Accuracy, Threshold: cal.EERThresh, FAR: at.FAR, FRR: at.FRR, AccAtThresh: at.Accuracy})
		if rule == signature.Rule {
			m.Threshold, m.Rule = cal.EERThresh, &rule
			if roc != "" {
				if err := plots.ROC(roc, "signatures: 6 unseen writers, skilled forgeries, "+rule.String(), v); err != nil {
					return err
				}
			}
		}
	}
	m.Info.Domain = signature.Name
	m.Info.DomainOptions = map[string]string{"test": "6", "val": "0", "split_seed": splitSeed}
	if err := m.Save(out); err != nil {
		return err
	}
	questioned, forged := 0, 0
	for _, ep := range test {
		questioned += len(ep.Query)
		for _, l := range ep.QueryLabel {
			forged += l
		}
	}
	if jsonOut {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"steps": res.Steps, "seconds": res.Seconds, "train_writers": len(d.Train),
			"test_writers": len(d.Test), "questioned": questioned, "skilled_forgeries": forged, "results": rows, "model": out})
	}
	fmt.Printf("Signatures (SigComp2011 Dutch, 19 writers): trained on %d writers, %d steps in %.0f s; %d unseen writers,\n", len(d.Train), res.Steps, res.Seconds, len(d.Test))
	fmt.Printf("%d questioned signatures (%d skilled forgeries) each against %d genuine references\n\n", questioned, forged, signature.References)
	fmt.Println("| score against the references | EER | ROC AUC | accuracy at EER | FAR (skilled) | FRR | accuracy | threshold (from training writers) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %.1f%% | %.3f | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.4f |\n", r.Rule, 100*r.EER, r.AUC, 100*r.AccAtEER, 100*r.FAR, 100*r.FRR, 100*r.AccAtThresh, r.Threshold)
	}
	return nil
}
