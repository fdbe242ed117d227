package metrics_test

import (
	"context"
	"math"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/internal/testmodel"
)

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scores   []float64
		same     []bool
		auc, eer float64
	}{
		{"perfect", []float64{0.9, 0.8, 0.3, 0.1}, []bool{true, true, false, false}, 1, 0},
		{"reversed", []float64{0.1, 0.2, 0.8, 0.9}, []bool{true, true, false, false}, 0, 1},
		{"ties", []float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, true, false}, 0.5, 0.5},
		{"one swap", []float64{0.9, 0.7, 0.8, 0.1}, []bool{true, true, false, false}, 0.75, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := metrics.Verify(tc.scores, tc.same, math.NaN())
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(v.AUC-tc.auc) > 1e-12 {
				t.Errorf("AUC %v, want %v", v.AUC, tc.auc)
			}
			if math.Abs(v.EER-tc.eer) > 1e-12 {
				t.Errorf("EER %v, want %v", v.EER, tc.eer)
			}
		})
	}
	v, err := metrics.Verify([]float64{0.9, 0.6, 0.4, 0.1}, []bool{true, false, true, false}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if v.FAR != 0.5 || v.FRR != 0.5 || v.Accuracy != 0.5 {
		t.Errorf("at 0.5: FAR %v FRR %v accuracy %v, want 0.5 each", v.FAR, v.FRR, v.Accuracy)
	}
	if th, tar := v.ThresholdAtFAR(0); th != 0.9 || tar != 0.5 {
		t.Errorf("threshold at FAR 0: %v (TAR %v), want 0.9 (0.5)", th, tar)
	}
	if _, err := metrics.Verify([]float64{1}, []bool{true}, 0.5); err == nil {
		t.Error("no error without negatives")
	}
}

// Queries identical to a support item of their class must be identified
// with any tower, for K = 1 and K = 3.
func TestIdentify(t *testing.T) {
	m := testmodel.MLP(t, "contrastive")
	item := func(v float32) core.Item {
		return core.Item{Dense: []float32{v, -v, 2 * v, v * v, 1, v / 2}}
	}
	for _, k := range []int{1, 3} {
		var ep core.Episode
		for c := 0; c < 5; c++ {
			for s := 0; s < k; s++ {
				ep.Support = append(ep.Support, item(float32(10*c+s)))
				ep.SupportLabel = append(ep.SupportLabel, c)
			}
			ep.Query = append(ep.Query, item(float32(10*c)))
			ep.QueryLabel = append(ep.QueryLabel, c)
		}
		if k == 1 {
			// a wrong label must be counted wrong
			ep.QueryLabel[0] = 1
		}
		res, err := metrics.Identify(context.Background(), m, []core.Episode{ep}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 5
		if k == 1 {
			want = 4
		}
		if res.Ways != 5 || res.Shots != k || res.Trials != 5 || res.Correct != want {
			t.Errorf("K=%d: %+v, want 5-way %d-shot with %d of 5 correct", k, res, k, want)
		}
	}
}

func TestCrossValidate(t *testing.T) {
	// Two folds, separable at 0.5 except one mistake in fold 2.
	folds := []metrics.Fold{
		{Scores: []float64{0.9, 0.8, 0.2, 0.1}, Same: []bool{true, true, false, false}},
		{Scores: []float64{0.7, 0.4, 0.3, 0.6}, Same: []bool{true, true, false, false}},
	}
	r, err := metrics.CrossValidate(folds)
	if err != nil {
		t.Fatal(err)
	}
	// Fold 1's threshold comes from fold 2: best between 0.7 and 0.6 is
	// any of (0.4, 0.6] with 3/4 right — the first midpoint found is 0.65
	// (0.7 accepted alone: 3 of 4) — on fold 1 every pair is then right.
	if r.Accuracies[0] != 1 {
		t.Errorf("fold 1 accuracy %v, want 1 (threshold %v)", r.Accuracies[0], r.Thresholds[0])
	}
	// Fold 2's threshold from fold 1 lies between 0.2 and 0.8: 0.5; fold 2
	// then has 0.4 rejected and 0.6 accepted wrongly: 2 of 4.
	if r.Thresholds[1] != 0.5 || r.Accuracies[1] != 0.5 {
		t.Errorf("fold 2: threshold %v accuracy %v, want 0.5 and 0.5", r.Thresholds[1], r.Accuracies[1])
	}
	if r.Mean != 0.75 || math.Abs(r.StdErr-0.25) > 1e-12 {
		t.Errorf("mean %v ± %v, want 0.75 ± 0.25", r.Mean, r.StdErr)
	}
	if _, err := metrics.CrossValidate(folds[:1]); err == nil {
		t.Error("one fold: no error")
	}
	if _, err := metrics.CrossValidate([]metrics.Fold{folds[0], {Scores: []float64{1}}}); err == nil {
		t.Error("fold with missing labels: no error")
	}
}
