package cnn_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/towers/cnn"
)

// Each preset keeps its structure (kernels, pools, activation) at a reduced
// width and input so that a float64 gradient check runs in seconds.
func TestConformance(t *testing.T) {
	for _, tc := range []coretest.TowerCase{
		{Name: "koch-reduced", Tower: cnn.Name, Config: cnn.Config{Preset: "koch", Input: []int{1, 65, 65},
			Blocks: []cnn.Block{{2, 10, 2}, {2, 7, 2}, {2, 4, 2}, {3, 4, 0}}, Embed: 5}},
		{Name: "koch-half-reduced", Tower: cnn.Name, Config: cnn.Config{Preset: "koch-half", Input: []int{1, 66, 66},
			Blocks: []cnn.Block{{2, 10, 2}, {3, 7, 2}, {2, 4, 2}, {2, 4, 0}}, Embed: 4}},
		{Name: "small-reduced", Tower: cnn.Name, Config: cnn.Config{Preset: "small", Input: []int{1, 12, 12},
			Blocks: []cnn.Block{{3, 3, 2}, {4, 3, 2}}, Embed: 6}},
		{Name: "batch-norm", Tower: cnn.Name, Config: cnn.Config{Preset: "small", Input: []int{2, 10, 10},
			Blocks: []cnn.Block{{3, 3, 2}, {2, 2, 0}}, BatchNorm: true, Embed: 4}},
		{Name: "hidden-rgb", Tower: cnn.Name, Config: cnn.Config{Input: []int{3, 9, 9},
			Blocks: []cnn.Block{{2, 3, 0}}, Hidden: []int{5}, Embed: 3, Activation: "none"}},
	} {
		t.Run(tc.Name, func(t *testing.T) { coretest.TestTower(t, tc, "contrastive") })
	}
}

// The paper's net with the L1 head has 38,951,745 parameters.
func TestKochParameterCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tw, err := cnn.New(cnn.Config{Preset: "koch"}, rng)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l1sigmoid.New(tw.Output(), rng)
	if err != nil {
		t.Fatal(err)
	}
	if got := core.CountParams(tw.Params()) + core.CountParams(h.Params()); got != 38951745 {
		t.Errorf("koch + l1sigmoid has %d parameters, want 38951745", got)
	}
}

func TestConfigErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []cnn.Config{
		{Preset: "nope"},
		{Preset: "koch", Input: []int{1, 30, 30}},
		{Preset: "small", Input: []int{28, 28}},
		{Preset: "small", Activation: "swish"},
	} {
		if _, err := cnn.New(c, rng); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
}

// Training updates the running statistics; inference uses them, so an
// item's embedding does not depend on its batch.
func TestBatchNormRunningStats(t *testing.T) {
	tc, _ := json.Marshal(cnn.Config{Input: []int{1, 8, 8}, Blocks: []cnn.Block{{3, 3, 2}}, BatchNorm: true, Embed: 4})
	m, err := core.New(core.Spec{Tower: cnn.Name, TowerConfig: tc, Head: "contrastive"}, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var mean *core.Param
	for _, p := range m.Params() {
		if p.Name == "bn1.mean" {
			mean = p
		}
	}
	if mean == nil || !mean.Frozen {
		t.Fatal("no frozen bn1.mean param")
	}
	net, err := m.NewTrainNet(6, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		if p.Frozen {
			t.Fatalf("frozen param %s is trained", p.Name)
		}
	}
	bt := coretest.RandomBatch(m.Tower, 6, 4, 2)
	for i := 0; i < 3; i++ {
		if _, _, err := net.Forward(bt); err != nil {
			t.Fatal(err)
		}
	}
	moved := false
	for _, v := range mean.Data {
		moved = moved || v != 0
	}
	if !moved {
		t.Error("running mean did not move after three training steps")
	}
}
