package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Fold is one fold of a pair protocol: scores (higher = more alike) and
// labels (true = same).
type Fold struct {
	Scores []float64
	Same   []bool
}

// KFold is the result of LFW's verification protocol: for each fold, the
// threshold that is most accurate on the other folds, and its accuracy on
// this one.
type KFold struct {
	Accuracies []float64 `json:"accuracies"` // per fold
	Thresholds []float64 `json:"thresholds"` // chosen on the other folds
	Mean       float64   `json:"mean"`       // mean accuracy
	StdErr     float64   `json:"std_err"`    // standard error of the mean: sample std / √folds
	// All pairs of every fold together.
	AUC      float64 `json:"auc"`
	EER      float64 `json:"eer"`
	TARAt1e3 float64 `json:"tar_at_far_1e-3"` // true-accept rate at a false-accept rate of 1e-3
}

// CrossValidate runs the protocol over folds (at least two).
func CrossValidate(folds []Fold) (*KFold, error) {
	each := make([][]Fold, len(folds))
	for i := range each {
		each[i] = folds
	}
	return CrossValidateEach(each)
}

// CrossValidateEach runs the protocol where each fold has a model of its
// own (trained without that fold's people): byModel[k] is every fold
// scored by model k, whose threshold comes from the other folds and whose
// accuracy is measured on fold k. AUC, EER and TAR pool each model's
// scores on its own fold.
func CrossValidateEach(byModel [][]Fold) (*KFold, error) {
	if len(byModel) < 2 {
		return nil, errors.New("cross-validation needs at least two folds")
	}
	for k, folds := range byModel {
		if len(folds) != len(byModel) {
			return nil, fmt.Errorf("model %d scored %d folds of %d", k+1, len(folds), len(byModel))
		}
	}
	folds := make([]Fold, len(byModel))
	for k := range byModel {
		folds[k] = byModel[k][k]
	}
	r := &KFold{}
	var all Fold
	for i, f := range folds {
		if len(f.Scores) != len(f.Same) || len(f.Scores) == 0 {
			return nil, fmt.Errorf("fold %d has %d scores for %d labels", i+1, len(f.Scores), len(f.Same))
		}
		all.Scores = append(all.Scores, f.Scores...)
		all.Same = append(all.Same, f.Same...)
	}
	for i := range folds {
		var rest Fold
		for j, f := range byModel[i] {
			if j != i {
				rest.Scores = append(rest.Scores, f.Scores...)
				rest.Same = append(rest.Same, f.Same...)
			}
		}
		th := BestThreshold(rest.Scores, rest.Same)
		r.Thresholds = append(r.Thresholds, th)
		r.Accuracies = append(r.Accuracies, accuracyAt(folds[i], th))
	}
	for _, a := range r.Accuracies {
		r.Mean += a
	}
	r.Mean /= float64(len(folds))
	ss := 0.0
	for _, a := range r.Accuracies {
		ss += (a - r.Mean) * (a - r.Mean)
	}
	r.StdErr = math.Sqrt(ss/float64(len(folds)-1)) / math.Sqrt(float64(len(folds)))
	v, err := Verify(all.Scores, all.Same, math.NaN())
	if err != nil {
		return nil, err
	}
	r.AUC, r.EER = v.AUC, v.EER
	_, r.TARAt1e3 = v.ThresholdAtFAR(1e-3)
	return r, nil
}

// BestThreshold is the threshold of highest accuracy on scored pairs:
// the midpoint between two neighbouring distinct scores (accept at or
// above it).
func BestThreshold(scores []float64, same []bool) float64 {
	idx := make([]int, len(scores))
	pos := 0
	for i := range idx {
		idx[i] = i
		if same[i] {
			pos++
		}
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	// Accept nothing: every negative right.
	correct := len(scores) - pos
	best, bestTh := correct, math.Inf(1)
	for i := 0; i < len(idx); {
		j := i
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if same[idx[j]] {
				correct++
			} else {
				correct--
			}
		}
		if correct > best {
			best = correct
			bestTh = scores[idx[i]]
			if j < len(idx) {
				bestTh = (scores[idx[i]] + scores[idx[j]]) / 2
			}
		}
		i = j
	}
	return bestTh
}

func accuracyAt(f Fold, th float64) float64 {
	n := 0
	for i, s := range f.Scores {
		if (s >= th) == f.Same[i] {
			n++
		}
	}
	return float64(n) / float64(len(f.Scores))
}
