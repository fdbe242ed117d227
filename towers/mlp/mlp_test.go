package mlp_test

import (
	"testing"

	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/towers/mlp"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		c    coretest.TowerCase
		head string
	}{
		{coretest.TowerCase{Name: "one-layer", Tower: mlp.Name, Config: mlp.Config{Input: 7, Embed: 3}}, "contrastive"},
		{coretest.TowerCase{Name: "deep-sigmoid", Tower: mlp.Name, Config: mlp.Config{Input: 6, Hidden: []int{8, 5}, Embed: 4, Activation: "sigmoid"}}, "l1sigmoid"},
	} {
		t.Run(tc.c.Name, func(t *testing.T) { coretest.TestTower(t, tc.c, tc.head) })
	}
}
