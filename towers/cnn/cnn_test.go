package cnn_test

import (
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
