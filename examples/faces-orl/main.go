// Command faces-orl runs the face protocol on AT&T/ORL: train a Siamese CNN
// on some subjects, then measure on the 10 subjects it never saw: pair
// verification (EER, ROC AUC, TAR at FAR 1e-3), verification against a
// 5-photo enrolment (the gallery's protocol), 10-way 1-shot and 5-shot
// identification, and an open set (5 unseen people enrolled, all 10 probed)
// at the threshold calibrated on held-out subjects. Raw pixels under the
// same protocols are printed beside the model as a baseline.
//
//	go run ./examples/faces-orl            # 25 subjects train, 5 calibrate the threshold
//	go run ./examples/faces-orl -val 0     # all 30 train (no threshold: no open-set figures)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/internal/datadir"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func main() {
	data := flag.String("data", datadir.Domain("att_faces"), "ORL folder or att_faces.zip (default $SIAMESE_DATA/att_faces)")
	steps := flag.Int("steps", 800, "training steps")
	budget := flag.Duration("budget", 5*time.Minute, "wall-time training budget (stops early if reached)")
	val := flag.Int("val", 5, "subjects held out from training to calibrate the threshold (the rest of the 30 train)")
	splitSeed := flag.Int("split-seed", 1, "which 10 subjects are unseen")
	seed := flag.Uint64("seed", 1, "training seed")
	out := flag.String("o", "faces-orl.model", "where to save the model")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, log, *data, *steps, *budget, *val, *splitSeed, *seed, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faces-orl:", err)
		os.Exit(1)
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	r.print()
}

// Scores are one method's figures on the unseen subjects.
type Scores struct {
	PairEER     float64 `json:"pair_eer"`
	PairAUC     float64 `json:"pair_auc"`
	TARAtFAR    float64 `json:"tar_at_far_1e-3"`
	EnrolEER    float64 `json:"enrol5_eer"`
	OneShot     float64 `json:"way10_shot1"`
	FiveShot    float64 `json:"way10_shot5"`
	RankOne     float64 `json:"rank1"`
	Accepted    int     `json:"open_enrolled_accepted"`
	Rejected    int     `json:"open_strangers_rejected"`
	OpenProbes  int     `json:"open_probes_each"`
	Threshold   float64 `json:"threshold"`
	TrainedSecs float64 `json:"trained_seconds,omitempty"`
}

// Result is the example's report.
type Result struct {
	Steps int    `json:"steps"`
	Model Scores `json:"model"`
	Raw   Scores `json:"raw_pixels"`
	Train int    `json:"train_subjects"`
	Val   int    `json:"val_subjects"`
	File  string `json:"model_file"`
}

func run(ctx context.Context, log *slog.Logger, data string, steps int, budget time.Duration, val int, splitSeed int, seed uint64, out string) (*Result, error) {
	dom, err := face.Open(core.DomainOptions{DataDir: data, Extra: map[string]string{
		"test": "10", "val": strconv.Itoa(val), "split_seed": strconv.Itoa(splitSeed)}})
	if err != nil {
		return nil, err
	}
	m, err := core.New(dom.Desc.Spec, dom.Desc.Preprocess, seed)
	if err != nil {
		return nil, err
	}
	m.Rule = dom.Desc.Rule
	cfg := face.TrainConfig(steps, seed)
	cfg.Duration = budget
	if val > 0 {
		cfg.Split = "train" // the calibration subjects stay unseen
	}
	tr := &train.Trainer{Model: m, Domain: dom, Log: log, Config: cfg}
	res, err := tr.Run(ctx)
	if err != nil {
		return nil, err
	}
	threshold := math.NaN() // with no held-out subjects the model keeps its default threshold
	if val > 0 {
		if _, err := metrics.Calibrate(ctx, m, dom, "val-5shot", 0); err != nil {
			return nil, err
		}
		threshold = m.Threshold
	}
	r := &Result{Steps: res.Steps, Train: len(dom.Train), Val: len(dom.Val), File: out}
	if r.Model, err = measure(ctx, dom, m.Embed, m.Head.Score, threshold); err != nil {
		return nil, err
	}
	r.Model.TrainedSecs = res.Seconds
	// Raw pixels: the embedding is the image, the score exp(−distance/100).
	raw := func(_ context.Context, items []core.Item, _ int) ([][]float32, error) {
		e := make([][]float32, len(items))
		for i, it := range items {
			e[i] = it.Dense
		}
		return e, nil
	}
	rawScore := func(a, b []float32) float32 {
		var s float64
		for i := range a {
			d := float64(a[i] - b[i])
			s += d * d
		}
		return float32(math.Exp(-math.Sqrt(s) / 100))
	}
	// The raw threshold is calibrated like the model's: at the EER of the
	// held-out subjects' images against 5-photo enrolments (closest photo).
	rawTh := math.NaN()
	if val > 0 {
		eps, err := dom.Episodes(ctx, "val-5shot")
		if err != nil {
			return nil, err
		}
		v, err := enrolledRaw(eps, rawScore)
		if err != nil {
			return nil, err
		}
		rawTh = v.EERThresh
	}
	if r.Raw, err = measure(ctx, dom, raw, rawScore, rawTh); err != nil {
		return nil, err
	}
	m.Info.Domain = face.Name
	if m.Info.Metrics == nil {
		m.Info.Metrics = map[string]float64{}
	}
	m.Info.Metrics["test.pair_eer"] = r.Model.PairEER
	m.Info.Metrics["test.enrol5_eer"] = r.Model.EnrolEER
	return r, m.Save(out)
}

// enrolledRaw scores raw pixels as metrics.VerifyEnrolled scores a model
// with the closest-photo rule.
func enrolledRaw(eps []core.Episode, score scoreFunc) (*metrics.Verification, error) {
	var s []float64
	var same []bool
	for _, ep := range eps {
		for q, x := range ep.Query {
			best := map[int]float64{}
			for i, y := range ep.Support {
				l := ep.SupportLabel[i]
				v := float64(score(x.Dense, y.Dense))
				if b, ok := best[l]; !ok || v > b {
					best[l] = v
				}
			}
			for l, v := range best {
				s = append(s, v)
				same = append(same, l == ep.QueryLabel[q])
			}
		}
	}
	return metrics.Verify(s, same, math.NaN())
}

type embedFunc func(context.Context, []core.Item, int) ([][]float32, error)
type scoreFunc func(a, b []float32) float32

// verifyClasses scores every pair of images of some subjects.
func verifyClasses(ctx context.Context, dom *face.Domain, classes []int, embed embedFunc, score scoreFunc) (*metrics.Verification, error) {
	var items []core.Item
	var labels []int
	for _, c := range classes {
		for _, x := range dom.Set.Classes[c].Items {
			items = append(items, core.Item{Dense: x})
			labels = append(labels, c)
		}
	}
	emb, err := embed(ctx, items, 0)
	if err != nil {
		return nil, err
	}
	var s []float64
	var same []bool
	for i := range emb {
		for j := i + 1; j < len(emb); j++ {
			s = append(s, float64(score(emb[i], emb[j])))
			same = append(same, labels[i] == labels[j])
		}
	}
	return metrics.Verify(s, same, math.NaN())
}

// measure computes every figure on the unseen subjects for one method.
func measure(ctx context.Context, dom *face.Domain, embed embedFunc, score scoreFunc, threshold float64) (Scores, error) {
	var r Scores
	r.Threshold = threshold
	v, err := verifyClasses(ctx, dom, dom.Test, embed, score)
	if err != nil {
		return r, err
	}
	r.PairEER, r.PairAUC = v.EER, v.AUC
	_, r.TARAtFAR = v.ThresholdAtFAR(1e-3)
	// Embed every unseen image once.
	emb := make([][][]float32, len(dom.Test))
	for i, c := range dom.Test {
		items := make([]core.Item, len(dom.Set.Classes[c].Items))
		for j, x := range dom.Set.Classes[c].Items {
			items[j] = core.Item{Dense: x}
		}
		if emb[i], err = embed(ctx, items, 0); err != nil {
			return r, err
		}
	}
	// Enrolment protocols, averaged over 20 random draws of which photos
	// are enrolled: for each subject, K photos enrolled, the rest probe.
	const draws = 20
	rng := rand.New(rand.NewPCG(7, 7))
	var enrolEER float64
	var oneShot, fiveShot, rank1, trials float64
	for d := 0; d < draws; d++ {
		perm := make([][]int, len(emb))
		for i := range emb {
			perm[i] = rng.Perm(len(emb[i]))
		}
		// Score of probe against subject b: its closest enrolled photo
		// (the gallery's rule) and the mean over K (the episodes' rule).
		best := func(p []float32, b, k int) (mx, mean float64) {
			mx = math.Inf(-1)
			for _, j := range perm[b][:k] {
				s := float64(score(p, emb[b][j]))
				mx = max(mx, s)
				mean += s / float64(k)
			}
			return mx, mean
		}
		var s []float64
		var same []bool
		for a := range emb {
			for _, q := range perm[a][5:] {
				top1, top5, topMax := -1, -1, -1
				s1, s5, sMax := math.Inf(-1), math.Inf(-1), math.Inf(-1)
				for b := range emb {
					mx5, mean5 := best(emb[a][q], b, 5)
					one, _ := best(emb[a][q], b, 1)
					s = append(s, mx5)
					same = append(same, a == b)
					if one > s1 {
						s1, top1 = one, b
					}
					if mean5 > s5 {
						s5, top5 = mean5, b
					}
					if mx5 > sMax {
						sMax, topMax = mx5, b
					}
				}
				trials++
				oneShot += b2f(top1 == a)
				fiveShot += b2f(top5 == a)
				rank1 += b2f(topMax == a)
			}
		}
		v, err := metrics.Verify(s, same, math.NaN())
		if err != nil {
			return r, err
		}
		enrolEER += v.EER / draws
		// Open set: the first 5 subjects are enrolled with 5 photos each;
		// everyone's other photos probe the gallery.
		if d == 0 && !math.IsNaN(threshold) {
			half := len(emb) / 2
			for a := range emb {
				for _, q := range perm[a][5:] {
					bestB, bestS := -1, math.Inf(-1)
					for b := 0; b < half; b++ {
						if mx, _ := best(emb[a][q], b, 5); mx > bestS {
							bestB, bestS = b, mx
						}
					}
					known := bestS >= threshold
					switch {
					case a < half && known && bestB == a:
						r.Accepted++
					case a >= half && !known:
						r.Rejected++
					}
					if a == 0 {
						r.OpenProbes++
					}
				}
			}
			r.OpenProbes *= half
		}
	}
	r.EnrolEER = enrolEER
	r.OneShot, r.FiveShot, r.RankOne = oneShot/trials, fiveShot/trials, rank1/trials
	return r, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (r *Result) print() {
	fmt.Printf("AT&T/ORL: trained on %d subjects (%d more calibrate the threshold), tested on 10 unseen\n", r.Train, r.Val)
	fmt.Printf("  %d steps in %.0f s; model in %s\n\n", r.Steps, r.Model.TrainedSecs, r.File)
	fmt.Printf("| metric (10 unseen subjects) | Siamese CNN | raw pixels |\n|---|---|---|\n")
	row := func(name string, f func(Scores) string) { fmt.Printf("| %s | %s | %s |\n", name, f(r.Model), f(r.Raw)) }
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	row("EER, every pair of the 100 images", func(s Scores) string { return pct(s.PairEER) })
	row("ROC AUC, every pair", func(s Scores) string { return fmt.Sprintf("%.3f", s.PairAUC) })
	row("TAR at FAR 1e-3, every pair", func(s Scores) string { return pct(s.TARAtFAR) })
	row("EER, probe vs a 5-photo enrolment (closest photo)", func(s Scores) string { return pct(s.EnrolEER) })
	row("10-way 1-shot", func(s Scores) string { return pct(s.OneShot) })
	row("10-way 5-shot (mean score)", func(s Scores) string { return pct(s.FiveShot) })
	row("rank-1 vs 5-photo enrolment (closest photo)", func(s Scores) string { return pct(s.RankOne) })
	if r.Val == 0 {
		return // no threshold
	}
	row("open set: enrolled people accepted as themselves", func(s Scores) string {
		return fmt.Sprintf("%d/%d", s.Accepted, s.OpenProbes)
	})
	row("open set: strangers rejected", func(s Scores) string { return fmt.Sprintf("%d/%d", s.Rejected, s.OpenProbes) })
}
