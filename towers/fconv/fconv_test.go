package fconv_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/heads/xcorr"
	"github.com/siamesenet/siamese/towers/cnn"
	"github.com/siamesenet/siamese/towers/fconv"
)

func TestConformance(t *testing.T) {
	for _, tc := range []coretest.TowerCase{
		{Name: "small-reduced", Tower: fconv.Name, Config: fconv.Config{Preset: "small", Input: []int{3, 24, 24},
			Blocks: []cnn.Block{{Filters: 3, Kernel: 5, Pool: 2}, {Filters: 3, Kernel: 3, Pool: 2}, {Filters: 2, Kernel: 1}}}},
		{Name: "no-pool", Tower: fconv.Name, Config: fconv.Config{Input: []int{1, 9, 9}, Blocks: []cnn.Block{{Filters: 2, Kernel: 3}, {Filters: 2, Kernel: 3}}}},
	} {
		t.Run(tc.Name, func(t *testing.T) { coretest.TestTower(t, tc, xcorr.Name) })
	}
}

// The tower is fully convolutional: the centre window of the features of
// a 96×96 crop equals the features of the crop's central 48×48 (what the
// tracker relies on to embed the exemplar), and the map has the declared
// shape and stride.
func TestExemplarIsCentreOfSearch(t *testing.T) {
	newModel := func(input []int) *core.Model {
		cfg, _ := json.Marshal(fconv.Config{Preset: "small", Input: input})
		m, err := core.New(core.Spec{Tower: fconv.Name, TowerConfig: cfg, Head: xcorr.Name}, core.Preprocess{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	big, small := newModel(nil), newModel([]int{3, 48, 48})
	defer big.Close()
	defer small.Close()
	for i, p := range small.Params() {
		copy(p.Data, big.Params()[i].Data)
	}
	if got := big.Tower.Output(); got[0] != 64 || got[1] != 18 || got[2] != 18 || big.Tower.(*fconv.Tower).Config().Stride() != 4 {
		t.Fatalf("small preset: output %v, want [64 18 18] at a stride of 4", got)
	}
	if got := big.Tower.(*fconv.Tower).Config().ExemplarPixels(6); got != 48 {
		t.Fatalf("small preset: 6×6 cells see %d pixels, want 48", got)
	}
	if got := small.Tower.Output(); got[1] != 6 || got[2] != 6 {
		t.Fatalf("48×48 exemplar: output %v, want 6×6", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 3*96*96)
	for i := range x {
		x[i] = rng.Float32()
	}
	z := make([]float32, 0, 3*48*48)
	for c := 0; c < 3; c++ {
		for i := 24; i < 72; i++ {
			z = append(z, x[(c*96+i)*96+24:][:48]...)
		}
	}
	embed := func(m *core.Model, item []float32) []float32 {
		e, err := m.Embed(context.Background(), []core.Item{{Dense: item}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return e[0]
	}
	fx, fz := embed(big, x), embed(small, z)
	h, err := xcorr.New(big.Tower.Output(), xcorr.Config{Exemplar: 6})
	if err != nil {
		t.Fatal(err)
	}
	centre := h.Exemplar(fx)
	for i := range fz {
		if math.Abs(float64(centre[i]-fz[i])) > 1e-4*math.Max(1, math.Abs(float64(fz[i]))) {
			t.Fatalf("feature %d: centre of the search map %g, exemplar map %g", i, centre[i], fz[i])
		}
	}
}
