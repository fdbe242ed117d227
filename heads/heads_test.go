package heads_test

import (
	"testing"

	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/heads/xcorr"
	"github.com/siamesenet/siamese/towers/cnn"
	"github.com/siamesenet/siamese/towers/fconv"
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
		{"cosine", nil},
		{"cosine", map[string]float64{"scale": 4, "margin": 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) { coretest.TestHead(t, tc.name, tc.config) })
	}
}

// The cross-correlation head compares feature maps, so it runs on a small
// fully-convolutional tower.
func TestXCorrHead(t *testing.T) {
	tower := fconv.Config{Input: []int{2, 10, 10}, Blocks: []cnn.Block{{Filters: 3, Kernel: 3, Pool: 2}, {Filters: 2, Kernel: 2}}}
	for _, tc := range []struct {
		name   string
		config xcorr.Config
	}{
		{"default", xcorr.Config{}},
		{"exemplar 2 radius 1", xcorr.Config{Exemplar: 2, Radius: 1, Scale: 0.5}},
		{"normalised with focus", xcorr.Config{Exemplar: 3, Normalize: true, Focus: 0.4}},
	} {
		t.Run(tc.name, func(t *testing.T) { coretest.TestHeadOn(t, xcorr.Name, tc.config, fconv.Name, tower) })
	}
}
