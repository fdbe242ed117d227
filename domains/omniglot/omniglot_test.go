package omniglot_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/omniglot"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/internal/datadir"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

func dataDir(t *testing.T) string {
	root := datadir.Root()
	if root == "" {
		t.Skip("SIAMESE_DATA is not set: skipping the Omniglot tests (set it to the folder holding omniglot/)")
	}
	dir := filepath.Join(root, "omniglot")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("SIAMESE_DATA is set but %v", err)
	}
	return dir
}

func TestLakeRuns(t *testing.T) {
	eps, err := omniglot.LoadRuns(filepath.Join(dataDir(t), "all_runs.zip"), omniglot.Preprocess(28))
	if err != nil {
		t.Fatal(err)
	}
	trials := 0
	for _, ep := range eps {
		if len(ep.Support) != 20 || len(ep.Query) != 20 {
			t.Fatalf("run with %d classes and %d queries", len(ep.Support), len(ep.Query))
		}
		trials += len(ep.Query)
	}
	if len(eps) != 20 || trials != 400 {
		t.Errorf("%d runs, %d trials; want 20 and 400", len(eps), trials)
	}
}

func TestMissingData(t *testing.T) {
	_, err := omniglot.Open(core.DomainOptions{DataDir: t.TempDir()})
	if err == nil {
		t.Fatal("no error for a folder without Omniglot")
	}
}

func TestConformance(t *testing.T) {
	d, err := omniglot.Open(core.DomainOptions{DataDir: dataDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	coretest.TestDomain(t, d)
}

// Koch's protocol at a CPU budget: train on the background alphabets for
// at most 5 minutes on 2 cores, then Lake's 400 trials of 20-way one-shot
// classification. Chance is 5%; nearest neighbour on raw pixels about 22%.
func TestOneShotAccuracy(t *testing.T) {
	dir := dataDir(t)
	if testing.Short() {
		t.Skip("trains for 4.5 minutes")
	}
	start := time.Now()
	d, err := omniglot.Open(core.DomainOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	desc := d.Describe()
	m, err := core.New(desc.Spec, desc.Preprocess, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runs, err := d.Episodes(ctx, "lake20")
	if err != nil {
		t.Fatal(err)
	}
	budget := 5*time.Minute - time.Since(start) - 20*time.Second
	tr := &train.Trainer{Model: m, Domain: d, Config: train.Config{Duration: budget, Seed: 1, Augment: true}}
	res, err := tr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := metrics.Identify(ctx, m, runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Lake's 20 runs: %.1f%% of %d trials after %d steps (%d pairs) in %.0f s", 100*acc.Accuracy, acc.Trials, res.Steps, res.Pairs, res.Seconds)
	if acc.Accuracy < 0.40 {
		t.Errorf("20-way one-shot accuracy %.1f%%, want ≥ 40%% (chance 5%%)", 100*acc.Accuracy)
	}
}
