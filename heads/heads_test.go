package heads_test

import (
	"testing"

	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	_ "github.com/siamesenet/siamese/towers/mlp"
)

func TestHeads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config any
	}{
		{"l1sigmoid", nil},
		{"contrastive", map[string]float64{"margin": 1}},
		{"contrastive", map[string]float64{"margin": 3}},
	} {
		t.Run(tc.name, func(t *testing.T) { coretest.TestHead(t, tc.name, tc.config) })
	}
}
