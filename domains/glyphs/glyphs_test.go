package glyphs_test

import (
	"context"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/glyphs"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func TestConformance(t *testing.T) {
	d, err := glyphs.Open(glyphs.Options{TrainClasses: 30, ValClasses: 20, TestClasses: 20, PerClass: 8, TestEpisodes: 3, ValEpisodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	coretest.TestDomain(t, d)
}

func TestDeterministic(t *testing.T) {
	o := glyphs.Options{TrainClasses: 5, ValClasses: 20, TestClasses: 20, PerClass: 6}
	a, _ := glyphs.Open(o)
	b, _ := glyphs.Open(o)
	ea, _ := a.Episodes(context.Background(), "test20")
	eb, _ := b.Episodes(context.Background(), "test20")
	for i, it := range ea[0].Support {
		for j, v := range it.Dense {
			if eb[0].Support[i].Dense[j] != v {
				t.Fatal("the same seed drew different glyphs")
			}
		}
	}
}

// The demo's claim, at a smaller budget: 20 s of training lifts 20-way
// one-shot accuracy on unseen glyph classes far above chance (5%).
func TestTrainingLifts20WayAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for 20 s")
	}
	d, err := glyphs.Open(glyphs.Options{TestEpisodes: 50})
	if err != nil {
		t.Fatal(err)
	}
	desc := d.Describe()
	m, err := core.New(desc.Spec, desc.Preprocess, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eps, _ := d.Episodes(ctx, "test20")
	before, _ := metrics.Identify(ctx, m, eps, nil)
	tr := &train.Trainer{Model: m, Domain: d, Config: train.Config{Duration: 20 * time.Second, Seed: 1, Augment: true}}
	if _, err := tr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := metrics.Identify(ctx, m, eps, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("20-way one-shot on unseen glyphs: before %.3f, after %.3f", before.Accuracy, after.Accuracy)
	if after.Accuracy < 0.15 || after.Accuracy < before.Accuracy+0.1 {
		t.Errorf("accuracy %.3f after 20 s (before %.3f, chance 0.05); want ≥ 0.15 and 0.1 above before", after.Accuracy, before.Accuracy)
	}
}
