package train_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/internal/testmodel"
)

// vecDomain is a small in-test domain: 6-d vectors around 8 class centres.
type vecDomain struct{}

func (vecDomain) Describe() core.Description {
	return core.Description{Name: "vec", Splits: []string{"train"}, Input: core.InputSpec{Kind: core.Dense, Shape: []int{6}}}
}

func (vecDomain) item(c int, rng *rand.Rand) core.Item {
	x := make([]float32, 6)
	for j := range x {
		x[j] = float32(((c>>(j%3))&1)*2-1) + float32(0.3*rng.NormFloat64())
	}
	return core.Item{Dense: x}
}

type vecStream struct {
	req  core.PairRequest
	step int
}

func (s *vecStream) Next(ctx context.Context) (*core.Batch, error) {
	rng := rand.New(rand.NewPCG(s.req.Seed, uint64(s.step)))
	s.step++
	bt := &core.Batch{}
	var cls []int
	for i := 0; i < s.req.Items; i++ {
		c := rng.IntN(8)
		cls = append(cls, c)
		bt.Items = append(bt.Items, vecDomain{}.item(c, rng))
	}
	for len(bt.A) < s.req.Pairs {
		a, b := rng.IntN(s.req.Items), rng.IntN(s.req.Items)
		if a == b {
			continue
		}
		y := float32(0)
		if cls[a] == cls[b] {
			y = 1
		}
		bt.A, bt.B, bt.Y = append(bt.A, a), append(bt.B, b), append(bt.Y, y)
	}
	return bt, ctx.Err()
}

func (s *vecStream) Close() error { return nil }

func (vecDomain) Pairs(ctx context.Context, req core.PairRequest) (core.Stream, error) {
	return &vecStream{req: req, step: req.Start}, nil
}

func (vecDomain) Episodes(ctx context.Context, task string) ([]core.Episode, error) {
	rng := rand.New(rand.NewPCG(99, 1))
	var eps []core.Episode
	for e := 0; e < 10; e++ {
		var ep core.Episode
		for c := 0; c < 8; c++ {
			ep.Support = append(ep.Support, vecDomain{}.item(c, rng))
			ep.SupportLabel = append(ep.SupportLabel, c)
			ep.Query = append(ep.Query, vecDomain{}.item(c, rng))
			ep.QueryLabel = append(ep.QueryLabel, c)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

func (vecDomain) Decode([]byte) (core.Item, error) { return core.Item{}, errors.New("no") }

func trainModel(t *testing.T, head string, cfg train.Config) *core.Model {
	t.Helper()
	m := testmodel.MLP(t, head)
	tr := &train.Trainer{Model: m, Domain: vecDomain{}, Config: cfg}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameWeights(a, b *core.Model) bool {
	for i, p := range a.Params() {
		for j, v := range p.Data {
			if b.Params()[i].Data[j] != v {
				return false
			}
		}
	}
	return true
}

func TestTrainingLearnsAndIsDeterministic(t *testing.T) {
	for _, tc := range []struct {
		head string
		cfg  train.Config
	}{
		{"l1sigmoid", train.Config{Steps: 400, Items: 16, Pairs: 24, Seed: 5, LR: 3e-2}},
		{"contrastive", train.Config{Steps: 150, Items: 16, Pairs: 24, Seed: 5, Optimizer: "sgd", LR: 0.05, Schedule: "cosine", WeightDecay: 1e-4}},
		{"contrastive", train.Config{Steps: 150, Items: 16, Pairs: 24, Seed: 6, LR: 1e-2, Schedule: "step", DecayEvery: 50, DecayRate: 0.5, Warmup: 10}},
	} {
		t.Run(tc.head+"/"+tc.cfg.Schedule, func(t *testing.T) {
			eps, _ := vecDomain{}.Episodes(context.Background(), "")
			before, err := metrics.Identify(context.Background(), testmodel.MLP(t, tc.head), eps, nil)
			if err != nil {
				t.Fatal(err)
			}
			m1 := trainModel(t, tc.head, tc.cfg)
			m2 := trainModel(t, tc.head, tc.cfg)
			if !sameWeights(m1, m2) {
				t.Error("two runs with one seed gave different weights")
			}
			after, err := metrics.Identify(context.Background(), m1, eps, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("8-way one-shot: before %.2f after %.2f", before.Accuracy, after.Accuracy)
			if after.Accuracy < 0.6 || after.Accuracy <= before.Accuracy {
				t.Errorf("8-way one-shot accuracy %.2f after training (before %.2f, chance 0.125), want ≥ 0.6", after.Accuracy, before.Accuracy)
			}
		})
	}
}

func TestResumeContinuesTheSameRun(t *testing.T) {
	dir := t.TempDir()
	cfg := train.Config{Steps: 40, Items: 12, Pairs: 16, Seed: 2, Checkpoint: filepath.Join(dir, "a.ckpt")}
	straight := trainModel(t, "l1sigmoid", cfg)

	// Stop at step 20 by cancelling from the progress callback.
	m := testmodel.MLP(t, "l1sigmoid")
	cfg.Checkpoint = filepath.Join(dir, "b.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	tr := &train.Trainer{Model: m, Domain: vecDomain{}, Config: cfg, OnProgress: func(p train.Progress) {
		if p.Step == 20 {
			cancel()
		}
	}}
	_, err := tr.Run(ctx)
	if !errors.Is(err, train.ErrInterrupted) || !strings.Contains(err.Error(), cfg.Checkpoint) {
		t.Fatalf("interrupt: %v, want ErrInterrupted naming the checkpoint", err)
	}
	tr2, err := train.Resume(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	tr2.Domain = vecDomain{}
	res, err := tr2.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 40 {
		t.Errorf("resumed run ended at step %d, want 40", res.Steps)
	}
	if !sameWeights(straight, tr2.Model) {
		t.Error("interrupted and resumed run differs from the straight run")
	}
}

func TestEarlyStoppingKeepsBest(t *testing.T) {
	m := testmodel.MLP(t, "contrastive")
	calls := 0
	var bestWeights []float32
	tr := &train.Trainer{Model: m, Domain: vecDomain{}, Config: train.Config{Steps: 1000, Items: 8, Pairs: 8, ValEvery: 5, Patience: 3}}
	tr.Validate = func(ctx context.Context, m *core.Model) (float64, error) {
		calls++
		if calls == 2 {
			bestWeights = append([]float32(nil), m.Params()[0].Data...)
			return 1, nil
		}
		return 0, nil
	}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != "early-stop" || res.Steps != 25 || res.BestStep != 10 {
		t.Errorf("stopped %q at step %d (best %d), want early-stop at 25 with best at 10", res.Stopped, res.Steps, res.BestStep)
	}
	for j, v := range m.Params()[0].Data {
		if v != bestWeights[j] {
			t.Fatal("weights are not those of the best validation")
		}
	}
}

func TestTimeBudget(t *testing.T) {
	m := testmodel.MLP(t, "contrastive")
	tr := &train.Trainer{Model: m, Domain: vecDomain{}, Config: train.Config{Duration: 300 * time.Millisecond, Items: 8, Pairs: 8}}
	start := time.Now()
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != "time" || time.Since(start) > 5*time.Second || res.Steps == 0 {
		t.Errorf("time budget: stopped %q after %d steps in %v", res.Stopped, res.Steps, time.Since(start))
	}
}

func TestTrainConfigErrors(t *testing.T) {
	for _, c := range []train.Config{
		{},                             // no budget
		{Steps: 1, Optimizer: "lbfgs"}, // unknown optimizer
		{Steps: 1, Schedule: "zigzag"},
		{Steps: 1, LR: -1},
	} {
		tr := &train.Trainer{Model: testmodel.MLP(t, "contrastive"), Domain: vecDomain{}, Config: c}
		if _, err := tr.Run(context.Background()); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
}

// A checkpoint write killed with SIGKILL leaves the previous checkpoint
// loadable: a child process rewrites a checkpoint in a loop and is killed.
func TestCheckpointSurvivesSIGKILL(t *testing.T) {
	if p := os.Getenv("SIAMESE_CKPT_HELPER"); p != "" {
		m, err := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":512,"hidden":[2048],"embed":1024}`), Head: "contrastive"}, core.Preprocess{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			m.Info.Steps = i
			if err := m.Save(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "c.ckpt")
	for round := 0; round < 4; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointSurvivesSIGKILL$")
		cmd.Env = append(os.Environ(), "SIAMESE_CKPT_HELPER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Stat(path); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		m, err := core.Load(path)
		if err != nil {
			t.Fatalf("round %d: checkpoint unreadable after SIGKILL: %v", round, err)
		}
		t.Logf("round %d: checkpoint of write %d intact", round, m.Info.Steps)
	}
}
