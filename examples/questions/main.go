// Command questions reproduces the duplicate-question protocol on the
// shared data: train the text tower on one Quora subset (the first 1,000
// pairs) plus SemEval STS, test on the other subset (a random 1,000), and
// compare with a TF-IDF cosine baseline on the same pairs: accuracy, F1,
// ROC AUC and log loss on pairs; recall@1, recall@5 and MRR on retrieval
// among the test subset's questions.
//
//	go run ./examples/questions -steps 30000
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
	"github.com/siamesenet/siamese/domains/questions"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/datadir"
)

func main() {
	data := flag.String("data", datadir.Domain("quora_pairs"), "Quora pairs folder or zip (default $SIAMESE_DATA/quora_pairs)")
	steps := flag.Int("steps", 30000, "training steps (64 questions, 128 pairs each)")
	seed := flag.Uint64("seed", 1, "seed")
	headConfig := flag.String("head-config", "", "head config as JSON (default: the domain's)")
	out := flag.String("o", "questions.model", "where to save the model")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, *data, *steps, *seed, *headConfig, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "questions:", err)
		os.Exit(1)
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("Quora duplicates: trained on %d pairs (Quora subset 1 + SemEval STS), %d steps in %.0f s; tested on %d held-out Quora pairs\n\n",
		r.TrainPairs, r.Steps, r.Seconds, r.TestPairs)
	fmt.Println("| method | accuracy | F1 | ROC AUC | log loss | recall@1 | recall@5 | MRR |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, m := range []Scores{r.Model, r.TFIDF} {
		fmt.Printf("| %s | %.1f%% | %.3f | %.4f | %.3f | %.1f%% | %.1f%% | %.3f |\n", m.Method, 100*m.Accuracy, m.F1, m.AUC, m.LogLoss,
			100*m.Retrieval.RecallAt1, 100*m.Retrieval.RecallAt5, m.Retrieval.MRR)
	}
	fmt.Printf("\nthresholds calibrated at the EER of %d validation pairs; retrieval: %d queries among %d questions\n", r.ValPairs, r.Model.Retrieval.Queries, r.Model.Retrieval.Base)
}

// Scores are one method's figures.
type Scores struct {
	Method    string                    `json:"method"`
	Accuracy  float64                   `json:"accuracy"`
	F1        float64                   `json:"f1"`
	AUC       float64                   `json:"roc_auc"`
	LogLoss   float64                   `json:"log_loss"`
	Threshold float64                   `json:"threshold"`
	Retrieval questions.RetrievalResult `json:"retrieval"`
}

// Result is the example's report.
type Result struct {
	Steps      int     `json:"steps"`
	Seconds    float64 `json:"seconds"`
	TrainPairs int     `json:"train_pairs"`
	ValPairs   int     `json:"val_pairs"`
	TestPairs  int     `json:"test_pairs"`
	Model      Scores  `json:"siamese"`
	TFIDF      Scores  `json:"tfidf"`
}

func run(ctx context.Context, data string, steps int, seed uint64, headConfig, out string) (*Result, error) {
	d, err := questions.Open(core.DomainOptions{DataDir: data})
	if err != nil {
		return nil, err
	}
	spec := d.Describe().Spec
	if headConfig != "" {
		spec.HeadConfig = json.RawMessage(headConfig)
	}
	m, err := core.New(spec, d.Describe().Preprocess, seed)
	if err != nil {
		return nil, err
	}
	tr := &train.Trainer{Model: m, Domain: d, Log: slog.Default(), Config: train.Config{Steps: steps, Seed: seed, ValEvery: 500}}
	tr.Validate = metrics.AccuracyOn(d, "val")
	res, err := tr.Run(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := metrics.Calibrate(ctx, m, d, "val", 0); err != nil {
		return nil, err
	}
	r := &Result{Steps: res.Steps, Seconds: res.Seconds, TrainPairs: len(d.Train), ValPairs: len(d.Val), TestPairs: len(d.Test)}
	eps, err := d.Episodes(ctx, "test")
	if err != nil {
		return nil, err
	}
	_, v, err := metrics.Evaluate(ctx, m, eps, nil)
	if err != nil {
		return nil, err
	}
	r.Model = Scores{Method: "Siamese text tower", Accuracy: v.Accuracy, F1: v.F1, AUC: v.AUC, LogLoss: v.LogLoss, Threshold: m.Threshold}
	if r.Model.Retrieval, err = d.Retrieval(ctx, m, d.Test); err != nil {
		return nil, err
	}
	// TF-IDF cosine: document frequencies from every question of the
	// training and test pairs; its threshold at the EER of the same
	// validation pairs.
	var corpus []string
	for _, p := range append(append(append([]questions.Pair(nil), d.Train...), d.Val...), d.Test...) {
		corpus = append(corpus, p.A, p.B)
	}
	tf := questions.NewTFIDF(corpus)
	cos := func(ps []questions.Pair) ([]float64, []bool) {
		var s []float64
		var same []bool
		for _, p := range ps {
			s = append(s, questions.Cosine(tf.Vector(p.A), tf.Vector(p.B)))
			same = append(same, p.Same)
		}
		return s, same
	}
	vs, vsame := cos(d.Val)
	vv, err := metrics.Verify(vs, vsame, math.NaN())
	if err != nil {
		return nil, err
	}
	ts, tsame := cos(d.Test)
	tv, err := metrics.Verify(ts, tsame, vv.EERThresh)
	if err != nil {
		return nil, err
	}
	r.TFIDF = Scores{Method: "TF-IDF cosine", Accuracy: tv.Accuracy, F1: tv.F1, AUC: tv.AUC, LogLoss: tv.LogLoss, Threshold: vv.EERThresh}
	base, queries := questions.Base(d.Test)
	vecs := make([]map[string]float64, len(base))
	for i, s := range base {
		vecs[i] = tf.Vector(s)
	}
	r.TFIDF.Retrieval = questions.Rank(len(base), queries, func(i, j int) float64 { return questions.Cosine(vecs[i], vecs[j]) })
	m.Info.Domain = questions.Name
	m.Info.Metrics["test.auc"] = v.AUC
	return r, m.Save(out)
}
