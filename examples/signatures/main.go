// Command signatures runs writer-independent signature verification on the
// shared sets pooled by writer (SigComp2011 Dutch, 19 writers, and NFI, 24
// distinct owners): train the domain's recipe on the training writers,
// calibrate the threshold on the validation writers (never on training
// ones), then verify the test writers, never seen: every questioned
// signature (each genuine one and each skilled forgery) against 5 genuine
// references of its writer. It prints the tables of docs/results.md:
//
//	go run ./examples/signatures -seeds 1,2,3      # the default recipe, three seeds
//	go run ./examples/signatures -rules            # four scoring rules, seed 1
//	go run ./examples/signatures -cross            # train on one set, test on the other
//	go run ./examples/signatures -tried            # the recipes tried, chosen on validation
//
// Each row reports the EER on the test writers (skilled forgeries as
// negatives), ROC AUC, and the FAR (skilled) and FRR at the threshold
// calibrated on the validation writers (where 10% of their skilled
// forgeries pass, the domain's policy), the one stored in the model.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/signature"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/plots"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func main() {
	data := flag.String("data", datadir.Domain("signatures"), "signature folder or zip (default $SIAMESE_DATA/signatures; signatures_nfi beside it joins the pool)")
	seeds := flag.String("seeds", "1", "training seeds (comma-separated) of the default recipe")
	steps := flag.Int("steps", 0, "training steps (default: the domain's recipe)")
	rules := flag.Bool("rules", false, "also compare four scoring rules (first seed)")
	cross := flag.Bool("cross", false, "also train on each set alone and test on all writers of the other")
	tried := flag.Bool("tried", false, "also train the recipes tried (first seed), each judged on the validation writers")
	only := flag.String("only", "", "with -tried: only the recipes whose name contains this")
	skipSeeds := flag.Bool("skip-seeds", false, "do not train the default recipe (with -tried or -cross)")
	out := flag.String("o", "signatures.model", "where to save the first seed's model")
	roc := flag.String("roc", "signatures-roc.png", "ROC plot of the first seed on the test writers; empty for none")
	jsonOut := flag.Bool("json", false, "print the results as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, config{data: *data, seeds: *seeds, steps: *steps, rules: *rules, cross: *cross, tried: *tried, only: *only, skipSeeds: *skipSeeds, out: *out, roc: *roc, json: *jsonOut}); err != nil {
		fmt.Fprintln(os.Stderr, "signatures:", err)
		os.Exit(1)
	}
}

type config struct {
	data, seeds, out, roc, only          string
	steps                                int
	rules, cross, tried, json, skipSeeds bool
}

// Row is one trained model's figures.
type Row struct {
	Name       string  `json:"name"`
	Seed       uint64  `json:"seed"`
	Steps      int     `json:"steps"`
	Seconds    float64 `json:"seconds"`
	Train      int     `json:"train_writers"`
	Test       int     `json:"test_writers"`
	Questioned int     `json:"questioned"`
	Forged     int     `json:"skilled_forgeries"`
	ValEER     float64 `json:"val_eer"`
	EER        float64 `json:"eer"`
	AUC        float64 `json:"roc_auc"`
	Threshold  float64 `json:"threshold"` // calibrated on the validation writers
	FAR        float64 `json:"far_skilled"`
	FRR        float64 `json:"frr"`
	// EER of the test writers of each set alone
	BySet map[string]float64 `json:"eer_by_set,omitempty"`
}

// Recipe is a network and training recipe to try.
type Recipe struct {
	Name   string
	Spec   func(input []int) core.Spec
	Recipe core.Recipe
}

// recipes are what was tried against the default (the first).
func recipes() []Recipe {
	def := Recipe{Name: "default: " + describe(signature.Policy.Recipe), Spec: signature.Spec, Recipe: signature.Policy.Recipe}
	contrastive := func(input []int) core.Spec {
		return core.Spec{Tower: "cnn", TowerConfig: signature.TowerConfig(input, false), Head: "contrastive", HeadConfig: json.RawMessage(`{"margin":2}`)}
	}
	contrastiveBN := func(input []int) core.Spec {
		return core.Spec{Tower: "cnn", TowerConfig: signature.TowerConfig(input, true), Head: "contrastive", HeadConfig: json.RawMessage(`{"margin":2}`)}
	}
	cosineNoBN := func(input []int) core.Spec {
		return core.Spec{Tower: "cnn", TowerConfig: signature.TowerConfig(input, false), Head: "cosine"}
	}
	short := signature.Policy.Recipe
	short.Steps /= 2
	v1 := core.Recipe{Steps: short.Steps, Augment: true, Schedule: "cosine", Items: 64, Pairs: 128}
	return []Recipe{
		def,
		{Name: "contrastive head, 128 random pairs, no batch norm (the first recipe), half the steps", Spec: contrastive, Recipe: v1},
		{Name: "contrastive head, 128 random pairs, batch norm, half the steps", Spec: contrastiveBN, Recipe: v1},
		{Name: "cosine head, every genuine and skilled pair, no batch norm, half the steps", Spec: cosineNoBN, Recipe: short},
		{Name: "default, half the steps", Spec: signature.Spec, Recipe: short},
	}
}

func describe(r core.Recipe) string {
	return fmt.Sprintf("cosine head, %d pairs of %d signatures (every genuine and skilled pair), batch norm, %d steps", r.Pairs, r.Items, r.Steps)
}

func run(ctx context.Context, cfg config) error {
	if cfg.data == "" {
		return fmt.Errorf("no data: set SIAMESE_DATA or -data")
	}
	var seeds []uint64
	for _, s := range strings.Split(cfg.seeds, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("-seeds %q: %w", cfg.seeds, err)
		}
		seeds = append(seeds, n)
	}
	d, err := signature.Open(core.DomainOptions{DataDir: cfg.data})
	if err != nil {
		return err
	}
	def := recipes()[0]
	results := map[string][]Row{}
	for i, seed := range seeds {
		if cfg.skipSeeds {
			break
		}
		roc, out := "", ""
		if i == 0 {
			roc, out = cfg.roc, cfg.out
		}
		r, m, err := trainOne(ctx, d, def, seed, cfg.steps, roc)
		if err != nil {
			return err
		}
		results["seeds"] = append(results["seeds"], r)
		if out != "" {
			m.Info.Domain = signature.Name
			if err := m.Save(out); err != nil {
				return err
			}
		}
		if i == 0 && cfg.rules {
			rows, err := compareRules(ctx, d, m)
			if err != nil {
				return err
			}
			results["rules"] = rows
		}
	}
	if cfg.cross {
		for _, c := range []struct{ name, testSet string }{
			{"train on signatures (SigComp2011 Dutch), test on every NFI writer", "signatures_nfi"},
			{"train on signatures_nfi (NFI), test on every SigComp2011 Dutch writer", "signatures"},
		} {
			dc, err := signature.Open(core.DomainOptions{DataDir: cfg.data, Extra: map[string]string{"test_set": c.testSet, "val": "4"}})
			if err != nil {
				return err
			}
			r, _, err := trainOne(ctx, dc, Recipe{Name: c.name, Spec: def.Spec, Recipe: def.Recipe}, seeds[0], cfg.steps, "")
			if err != nil {
				return err
			}
			results["cross"] = append(results["cross"], r)
		}
	}
	if cfg.tried {
		for _, rc := range recipes()[1:] {
			if cfg.only != "" && !strings.Contains(rc.Name, cfg.only) {
				continue
			}
			r, _, err := trainOne(ctx, d, rc, seeds[0], 0, "")
			if err != nil {
				return err
			}
			results["tried"] = append(results["tried"], r)
		}
	}
	if cfg.json {
		return json.NewEncoder(os.Stdout).Encode(results)
	}
	print := func(title string, rows []Row) {
		if len(rows) == 0 {
			return
		}
		fmt.Printf("\n%s\n\n| | train / test writers | steps (s) | questioned (forged) | validation EER | test EER | EER by set | ROC AUC | FAR (skilled) | FRR | threshold |\n|---|---|---|---|---|---|---|---|---|---|---|\n", title)
		for _, r := range rows {
			name := r.Name
			if title == "Seeds" {
				name = fmt.Sprintf("seed %d", r.Seed)
			}
			var sets []string
			for _, set := range slices.Sorted(maps.Keys(r.BySet)) {
				sets = append(sets, fmt.Sprintf("%s %.1f%%", set, 100*r.BySet[set]))
			}
			fmt.Printf("| %s | %d / %d | %d (%.0f) | %d (%d) | %.1f%% | **%.1f%%** | %s | %.3f | %.1f%% | %.1f%% | %.3f |\n",
				name, r.Train, r.Test, r.Steps, r.Seconds, r.Questioned, r.Forged, 100*r.ValEER, 100*r.EER, strings.Join(sets, ", "), r.AUC, 100*r.FAR, 100*r.FRR, r.Threshold)
		}
	}
	fmt.Printf("Signatures, pooled by writer (%d writers); FAR and FRR at the threshold calibrated on the validation writers (at FAR %g there)\n", len(d.Writers), signature.Policy.FAR)
	print("Seeds", results["seeds"])
	print("Scoring rules (seed "+strconv.FormatUint(seeds[0], 10)+")", results["rules"])
	print("Cross-data-set", results["cross"])
	print("Recipes tried (seed "+strconv.FormatUint(seeds[0], 10)+"; chosen by validation EER)", results["tried"])
	return nil
}

// trainOne trains a recipe on d's training writers, calibrates on its
// validation writers and verifies its test writers.
func trainOne(ctx context.Context, d *signature.Domain, rc Recipe, seed uint64, steps int, roc string) (Row, *core.Model, error) {
	desc := d.Describe()
	m, err := core.New(rc.Spec(desc.Input.Shape), desc.Preprocess, seed)
	if err != nil {
		return Row{}, nil, err
	}
	m.Rule = desc.Rule
	cfg := train.FromRecipe(rc.Recipe)
	cfg.Seed = seed
	if steps > 0 {
		cfg.Steps = steps
	}
	tr := &train.Trainer{Model: m, Domain: d, Log: slog.Default(), Config: cfg}
	if cfg.ValEvery > 0 {
		tr.Validate = d.Validate
	}
	res, err := tr.Run(ctx)
	if err != nil {
		return Row{}, nil, err
	}
	cal, err := metrics.Calibrate(ctx, m, d, "val", signature.Policy.FAR)
	if err != nil {
		return Row{}, nil, err
	}
	test, err := d.Episodes(ctx, "test")
	if err != nil {
		return Row{}, nil, err
	}
	v, err := metrics.VerifyEnrolled(ctx, m, test, *m.Rule)
	if err != nil {
		return Row{}, nil, err
	}
	at, err := metrics.Verify(v.Scores, v.Same, m.Threshold)
	if err != nil {
		return Row{}, nil, err
	}
	if roc != "" {
		if err := plots.ROC(roc, fmt.Sprintf("signatures: %d unseen writers, skilled forgeries, %s", len(d.Test), m.Rule), v); err != nil {
			return Row{}, nil, err
		}
	}
	bySet := map[string][]int{}
	for _, i := range d.Test {
		bySet[d.Writers[i].Set] = append(bySet[d.Writers[i].Set], i)
	}
	eerBySet := map[string]float64{}
	for set, idx := range bySet {
		eps, err := d.VerificationEpisodes(idx, signature.References, 1)
		if err != nil {
			return Row{}, nil, err
		}
		vs, err := metrics.VerifyEnrolled(ctx, m, eps, *m.Rule)
		if err != nil {
			return Row{}, nil, err
		}
		eerBySet[set] = vs.EER
	}
	slog.Info("trained", "recipe", rc.Name, "eer_by_set", eerBySet, "seed", seed, "val_eer", cal.EER, "test_eer", v.EER, "far", at.FAR, "frr", at.FRR)
	return Row{Name: rc.Name, Seed: seed, Steps: res.Steps, Seconds: res.Seconds, Train: len(d.Train), Test: len(d.Test),
		Questioned: v.Pairs, Forged: v.Pairs - v.Positives, ValEER: cal.EER, EER: v.EER, AUC: v.AUC,
		Threshold: m.Threshold, FAR: at.FAR, FRR: at.FRR, BySet: eerBySet}, m, nil
}

// compareRules scores the test writers with four rules, each calibrated
// on the validation writers.
func compareRules(ctx context.Context, d *signature.Domain, m *core.Model) ([]Row, error) {
	val, err := d.Episodes(ctx, "val")
	if err != nil {
		return nil, err
	}
	test, err := d.Episodes(ctx, "test")
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, rule := range []core.ScoreRule{signature.Rule, {Aggregate: core.Closest, Normalize: true}, {Aggregate: core.MeanScore}, {Aggregate: core.Closest}} {
		cal, err := metrics.VerifyEnrolled(ctx, m, val, rule)
		if err != nil {
			return nil, err
		}
		v, err := metrics.VerifyEnrolled(ctx, m, test, rule)
		if err != nil {
			return nil, err
		}
		th := cal.EERThresh
		if signature.Policy.FAR > 0 {
			th, _ = cal.ThresholdAtFAR(signature.Policy.FAR)
		}
		at, err := metrics.Verify(v.Scores, v.Same, th)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{Name: rule.String(), Train: len(d.Train), Test: len(d.Test), Questioned: v.Pairs, Forged: v.Pairs - v.Positives,
			ValEER: cal.EER, EER: v.EER, AUC: v.AUC, Threshold: th, FAR: at.FAR, FRR: at.FRR})
	}
	return rows, nil
}
