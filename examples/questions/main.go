// Command questions reproduces the duplicate-question protocol on the
// shared data: train the text tower on one Quora subset (the first 1,000
// pairs; 10% held out for validation), SemEval STS and PAN's training
// pairs; fit the lexical fusion and every method's threshold on the
// validation pairs; then compare the model's head, the model's fused
// score, TF-IDF cosine and BM25 on the other Quora subset and on PAN's
// test pairs: accuracy, F1, ROC AUC and log loss on pairs; recall@1,
// recall@5 and MRR on retrieval among each test set's questions.
//
//	go run ./examples/questions -steps 15000
//	go run ./examples/questions -steps 15000 -hard 5000   # with BM25-mined hard negatives
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
	_ "github.com/siamesenet/siamese/heads/cosine"
	"github.com/siamesenet/siamese/internal/datadir"
)

func main() {
	data := flag.String("data", datadir.Domain("quora_pairs"), "Quora pairs folder or zip (default $SIAMESE_DATA/quora_pairs)")
	steps := flag.Int("steps", 30000, "training steps (64 questions, 128 pairs each)")
	seed := flag.Uint64("seed", 1, "seed")
	head := flag.String("head", "", "head (default: the domain's)")
	hard := flag.Int("hard", 0, "hard negatives mined with BM25 among the training pairs")
	headConfig := flag.String("head-config", "", "head config as JSON (default: the domain's)")
	out := flag.String("o", "questions.model", "where to save the model")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, *data, *steps, *seed, *hard, *head, *headConfig, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "questions:", err)
		os.Exit(1)
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("Question pairs: trained on %d pairs (Quora subset 1, SemEval STS, PAN train), %d steps in %.0f s; fusion fitted and thresholds at the EER of %d validation pairs (Quora subset 1, held out)\n",
		r.TrainPairs, r.Steps, r.Seconds, r.ValPairs)
	fmt.Printf("fusion: p(duplicate) = σ(%.3f + %.3f·siamese + %.3f·tf-idf cosine)\n", r.Fusion.Bias, r.Fusion.Learned, r.Fusion.Lexical)
	for _, set := range r.Sets {
		fmt.Printf("\n%s: %d pairs; retrieval: %d queries among %d questions\n\n", set.Name, set.Pairs, set.Methods[0].Retrieval.Queries, set.Methods[0].Retrieval.Base)
		fmt.Println("| method | accuracy | F1 | ROC AUC | log loss | recall@1 | recall@5 | MRR |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
		for _, m := range set.Methods {
			ll := fmt.Sprintf("%.3f", m.LogLoss)
			if m.Method == questions.MethodBM25 {
				ll = "—" // not a probability
			}
			fmt.Printf("| %s | %.1f%% | %.3f | %.4f | %s | %.1f%% | %.1f%% | %.3f |\n", m.Method, 100*m.Accuracy, m.F1, m.AUC, ll,
				100*m.Retrieval.RecallAt1, 100*m.Retrieval.RecallAt5, m.Retrieval.MRR)
		}
	}
}

// Scores are one method's figures on one test set.
type Scores struct {
	Method    string                    `json:"method"`
	Accuracy  float64                   `json:"accuracy"`
	F1        float64                   `json:"f1"`
	AUC       float64                   `json:"roc_auc"`
	LogLoss   float64                   `json:"log_loss"`
	Threshold float64                   `json:"threshold"`
	Retrieval questions.RetrievalResult `json:"retrieval"`
}

// Set is a test set's table.
type Set struct {
	Name    string   `json:"name"`
	Pairs   int      `json:"pairs"`
	Methods []Scores `json:"methods"`
}

// Result is the example's report.
type Result struct {
	Steps      int              `json:"steps"`
	Seconds    float64          `json:"seconds"`
	TrainPairs int              `json:"train_pairs"`
	ValPairs   int              `json:"val_pairs"`
	Fusion     questions.Fusion `json:"fusion"`
	Sets       []Set            `json:"sets"`
}

func run(ctx context.Context, data string, steps int, seed uint64, hard int, head, headConfig, out string) (*Result, error) {
	d, err := questions.Open(core.DomainOptions{DataDir: data, Extra: map[string]string{"hard_negatives": fmt.Sprint(hard)}})
	if err != nil {
		return nil, err
	}
	spec := d.Describe().Spec
	if head != "" {
		spec.Head, spec.HeadConfig = head, nil
	}
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
	sc, err := d.FitScoring(ctx, m)
	if err != nil {
		return nil, err
	}
	r := &Result{Steps: res.Steps, Seconds: res.Seconds, TrainPairs: len(d.Train), ValPairs: len(d.Val), Fusion: sc.Fusion}
	// Every method's threshold at the EER of its scores of the
	// validation pairs; the model keeps its fused one.
	val, err := d.Compare(ctx, m, d.Val)
	if err != nil {
		return nil, err
	}
	thresholds := map[string]float64{}
	for _, v := range val {
		vv, err := metrics.Verify(v.Pairs, labels(d.Val), math.NaN())
		if err != nil {
			return nil, err
		}
		thresholds[v.Method] = vv.EERThresh
	}
	m.Threshold = thresholds[questions.MethodFused]
	m.Info.Calibration = &core.Calibration{Task: "val", Pairs: len(d.Val), At: "eer"}
	for _, set := range []struct {
		name  string
		pairs []questions.Pair
	}{{"Quora subset 2 (held out)", d.Test}, {"PAN test", d.PANTest}} {
		if len(set.pairs) == 0 {
			continue
		}
		ms, err := d.Compare(ctx, m, set.pairs)
		if err != nil {
			return nil, err
		}
		out := Set{Name: set.name, Pairs: len(set.pairs)}
		for _, me := range ms {
			v, err := metrics.Verify(me.Pairs, labels(set.pairs), thresholds[me.Method])
			if err != nil {
				return nil, err
			}
			out.Methods = append(out.Methods, Scores{Method: me.Method, Accuracy: v.Accuracy, F1: v.F1, AUC: v.AUC, LogLoss: v.LogLoss, Threshold: thresholds[me.Method], Retrieval: me.Retrieval})
		}
		r.Sets = append(r.Sets, out)
	}
	m.Info.Domain = questions.Name
	return r, m.Save(out)
}

func labels(ps []questions.Pair) []bool {
	out := make([]bool, len(ps))
	for i, p := range ps {
		out[i] = p.Same
	}
	return out
}
