// Package metrics scores a model: verification over labelled pairs (ROC,
// AUC, EER, FAR/FRR, TAR at a FAR), N-way K-shot identification over a
// domain's episodes, and the calibration of a model's threshold.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/siamesenet/siamese/core"
)

// Verification holds the metrics of scores over labelled pairs.
type Verification struct {
	Pairs     int     `json:"pairs"`
	Positives int     `json:"positives"`
	AUC       float64 `json:"auc"`           // ROC area
	EER       float64 `json:"eer"`           // equal error rate
	EERThresh float64 `json:"eer_threshold"` // score at the EER
	Threshold float64 `json:"threshold"`     // threshold the next fields use
	Accuracy  float64 `json:"accuracy"`
	FAR       float64 `json:"far"` // false accepts / negatives
	FRR       float64 `json:"frr"` // false rejects / positives
	F1        float64 `json:"f1"`  // of the "same" class at Threshold
	// LogLoss treats each score as the probability of "same".
	LogLoss float64    `json:"log_loss"`
	ROC     []ROCPoint `json:"-"`
	// Scores and Same are the scored pairs, kept for plots.
	Scores []float64 `json:"-"`
	Same   []bool    `json:"-"`
}

// ROCPoint is one operating point: accept when score ≥ Threshold.
type ROCPoint struct {
	Threshold float64 `json:"threshold"`
	FAR       float64 `json:"far"`
	TAR       float64 `json:"tar"`
}

// Verify computes verification metrics for scores (higher = more alike)
// and labels (true = same), at the given threshold (NaN: at the EER).
func Verify(scores []float64, same []bool, threshold float64) (*Verification, error) {
	if len(scores) != len(same) {
		return nil, fmt.Errorf("%d scores for %d labels", len(scores), len(same))
	}
	v := &Verification{Pairs: len(scores), Scores: scores, Same: same}
	for _, s := range same {
		if s {
			v.Positives++
		}
	}
	neg := v.Pairs - v.Positives
	if v.Positives == 0 || neg == 0 {
		return nil, errors.New("verification needs both same and different pairs")
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	// Sweep thresholds from high to low; ties are one step.
	v.ROC = append(v.ROC, ROCPoint{Threshold: math.Inf(1)})
	tp, fp := 0, 0
	auc := 0.0
	bestGap := math.Inf(1)
	for i := 0; i < len(idx); {
		j := i
		dtp, dfp := 0, 0
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if same[idx[j]] {
				dtp++
			} else {
				dfp++
			}
		}
		// Trapezoid: ties count half.
		auc += float64(dfp) * (float64(tp) + float64(dtp)/2)
		tp += dtp
		fp += dfp
		pt := ROCPoint{Threshold: scores[idx[i]], FAR: float64(fp) / float64(neg), TAR: float64(tp) / float64(v.Positives)}
		v.ROC = append(v.ROC, pt)
		frr := 1 - pt.TAR
		if gap := math.Abs(pt.FAR - frr); gap < bestGap {
			bestGap = gap
			v.EER = (pt.FAR + frr) / 2
			v.EERThresh = pt.Threshold
		}
		i = j
	}
	v.AUC = auc / float64(v.Positives*neg)
	if math.IsNaN(threshold) {
		threshold = v.EERThresh
	}
	v.Threshold = threshold
	var fa, fr, correct int
	for i, s := range scores {
		acc := s >= threshold
		switch {
		case acc && !same[i]:
			fa++
		case !acc && same[i]:
			fr++
		default:
			correct++
		}
	}
	v.FAR = float64(fa) / float64(neg)
	v.FRR = float64(fr) / float64(v.Positives)
	v.Accuracy = float64(correct) / float64(v.Pairs)
	tp = v.Positives - fr
	if tp > 0 {
		v.F1 = 2 * float64(tp) / float64(2*tp+fa+fr)
	}
	for i, s := range scores {
		p := math.Min(math.Max(s, 1e-7), 1-1e-7)
		if same[i] {
			v.LogLoss -= math.Log(p)
		} else {
			v.LogLoss -= math.Log(1 - p)
		}
	}
	v.LogLoss /= float64(v.Pairs)
	return v, nil
}

// ThresholdAtFAR returns the lowest threshold whose false-accept rate on
// the ROC is at most far.
func (v *Verification) ThresholdAtFAR(far float64) (threshold, tar float64) {
	threshold, tar = math.Inf(1), 0
	for _, p := range v.ROC {
		if p.FAR <= far {
			threshold, tar = p.Threshold, p.TAR
		}
	}
	return threshold, tar
}

// Identification is the result of N-way K-shot episodes.
type Identification struct {
	Episodes int     `json:"episodes"`
	Trials   int     `json:"trials"`
	Correct  int     `json:"correct"`
	Accuracy float64 `json:"accuracy"`
	Ways     int     `json:"ways"`  // N of the first episode
	Shots    int     `json:"shots"` // K of the first episode
	Chance   float64 `json:"chance"`
}

// Identify runs episodes: each query is given the label of the support
// class with the highest mean score over its K shots. Each item is embedded
// once. progress, if not nil, is called after each episode.
func Identify(ctx context.Context, m *core.Model, eps []core.Episode, progress func(done, total int)) (*Identification, error) {
	id, _, err := Evaluate(ctx, m, eps, progress)
	return id, err
}

// Evaluate runs episodes as Identify does and also scores every query
// against every support item as a labelled pair, for verification metrics
// at the model's threshold.
func Evaluate(ctx context.Context, m *core.Model, eps []core.Episode, progress func(done, total int)) (*Identification, *Verification, error) {
	id, scores, same, err := evaluate(ctx, m, eps, progress)
	if err != nil {
		return nil, nil, err
	}
	v, err := Verify(scores, same, m.Threshold)
	if err != nil {
		return nil, nil, err
	}
	return id, v, nil
}

func evaluate(ctx context.Context, m *core.Model, eps []core.Episode, progress func(done, total int)) (*Identification, []float64, []bool, error) {
	var scores []float64
	var same []bool
	res := &Identification{Episodes: len(eps)}
	for n, ep := range eps {
		if len(ep.Support) == 0 || len(ep.Support) != len(ep.SupportLabel) || len(ep.Query) != len(ep.QueryLabel) {
			return nil, nil, nil, fmt.Errorf("episode %d is malformed", n)
		}
		items := append(append([]core.Item(nil), ep.Support...), ep.Query...)
		emb, err := m.Embed(ctx, items, 0)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("episode %d: %w", n, err)
		}
		sup, qry := emb[:len(ep.Support)], emb[len(ep.Support):]
		classes := map[int]int{}
		for _, l := range ep.SupportLabel {
			classes[l]++
		}
		if n == 0 {
			res.Ways = len(classes)
			res.Shots = len(ep.Support) / len(classes)
			res.Chance = 1 / float64(res.Ways)
		}
		for q, e := range qry {
			sum := map[int]float64{}
			for s, se := range sup {
				sc := float64(m.Head.Score(e, se))
				sum[ep.SupportLabel[s]] += sc
				scores = append(scores, sc)
				same = append(same, ep.SupportLabel[s] == ep.QueryLabel[q])
			}
			if len(classes) < 2 {
				continue // a verification episode: nothing to identify
			}
			best, bestScore := -1, math.Inf(-1)
			for l, s := range sum {
				mean := s / float64(classes[l])
				if mean > bestScore || (mean == bestScore && l < best) {
					best, bestScore = l, mean
				}
			}
			res.Trials++
			if best == ep.QueryLabel[q] {
				res.Correct++
			}
		}
		if progress != nil {
			progress(n+1, len(eps))
		}
	}
	if res.Trials > 0 {
		res.Accuracy = float64(res.Correct) / float64(res.Trials)
	}
	return res, scores, same, nil
}

// AccuracyOn returns a Trainer.Validate function: N-way K-shot accuracy on
// the episodes of a domain's task, or, for verification episodes (one
// class each, nothing to identify), the ROC AUC of their pairs.
func AccuracyOn(d core.Domain, task string) func(context.Context, *core.Model) (float64, error) {
	return func(ctx context.Context, m *core.Model) (float64, error) {
		eps, err := d.Episodes(ctx, task)
		if err != nil {
			return 0, err
		}
		r, v, err := Evaluate(ctx, m, eps, nil)
		if err != nil {
			return 0, err
		}
		if r.Trials == 0 {
			return v.AUC, nil
		}
		return r.Accuracy, nil
	}
}

// Calibrate sets m.Threshold from the pairs formed by the episodes of a
// domain's task (each query against each support item, or, when the model
// has a Rule, against each class's references by that rule): at the equal-error
// rate, or at a target false-accept rate when far > 0. It records the
// task's EER and ROC AUC (and TAR at that FAR) in m.Info.Metrics and
// returns the verification of those pairs.
func Calibrate(ctx context.Context, m *core.Model, d core.Domain, task string, far float64) (*Verification, error) {
	eps, err := d.Episodes(ctx, task)
	if err != nil {
		return nil, err
	}
	var v *Verification
	if m.Rule != nil {
		v, err = VerifyEnrolled(ctx, m, eps, *m.Rule)
	} else {
		_, v, err = Evaluate(ctx, m, eps, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("calibrate on %s: %w", task, err)
	}
	if m.Info.Metrics == nil {
		m.Info.Metrics = map[string]float64{}
	}
	m.Info.Metrics[task+".eer"] = v.EER
	m.Info.Metrics[task+".auc"] = v.AUC
	if far > 0 {
		th, tar := v.ThresholdAtFAR(far)
		if math.IsInf(th, 0) {
			return nil, fmt.Errorf("calibrate on %s: no threshold reaches FAR %g on %d pairs", task, far, v.Pairs)
		}
		m.Threshold = th
		m.Info.Metrics[fmt.Sprintf("%s.tar_at_far_%g", task, far)] = tar
		m.Info.Calibration = &core.Calibration{Task: task, Pairs: v.Pairs, At: "far", FAR: far}
		return v, nil
	}
	if math.IsInf(v.EERThresh, 0) || math.IsNaN(v.EERThresh) {
		return nil, fmt.Errorf("calibrate on %s: no finite threshold at the equal-error rate of %d pairs", task, v.Pairs)
	}
	m.Threshold = v.EERThresh
	m.Info.Calibration = &core.Calibration{Task: task, Pairs: v.Pairs, At: "eer"}
	return v, nil
}

// VerifyAll embeds items and scores every pair of them (i < j), labelled
// same when their labels are equal: the usual verification protocol on a
// closed set of images.
func VerifyAll(ctx context.Context, m *core.Model, items []core.Item, labels []int) (*Verification, error) {
	if len(items) != len(labels) {
		return nil, fmt.Errorf("%d items for %d labels", len(items), len(labels))
	}
	emb, err := m.Embed(ctx, items, 0)
	if err != nil {
		return nil, err
	}
	n := len(emb)
	scores := make([]float64, 0, n*(n-1)/2)
	same := make([]bool, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			scores = append(scores, float64(m.Head.Score(emb[i], emb[j])))
			same = append(same, labels[i] == labels[j])
		}
	}
	return Verify(scores, same, math.NaN())
}

// VerifyEnrolled is verification against enrolled references: each query
// of each episode is scored against each support class by rule (over that
// class's items); the pair is same when the query's label is the class.
// (A probe against a person's 1–5 photos, or a questioned signature
// against a writer's references.)
func VerifyEnrolled(ctx context.Context, m *core.Model, eps []core.Episode, rule core.ScoreRule) (*Verification, error) {
	var scores []float64
	var same []bool
	for n, ep := range eps {
		emb, err := m.Embed(ctx, append(append([]core.Item(nil), ep.Support...), ep.Query...), 0)
		if err != nil {
			return nil, fmt.Errorf("episode %d: %w", n, err)
		}
		sup, qry := emb[:len(ep.Support)], emb[len(ep.Support):]
		byClass := map[int][][]float32{}
		var classes []int
		for i, l := range ep.SupportLabel {
			if len(byClass[l]) == 0 {
				classes = append(classes, l)
			}
			byClass[l] = append(byClass[l], sup[i])
		}
		for q, e := range qry {
			for _, c := range classes {
				s, err := rule.Score(m.Head, e, byClass[c])
				if err != nil {
					return nil, fmt.Errorf("episode %d: %w", n, err)
				}
				scores = append(scores, s)
				same = append(same, ep.QueryLabel[q] == c)
			}
		}
	}
	return Verify(scores, same, m.Threshold)
}
