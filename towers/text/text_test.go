package text_test

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/core/train"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/towers/text"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		c    coretest.TowerCase
		head string
	}{
		{coretest.TowerCase{Name: "mean", Tower: text.Name, Config: text.Config{Bits: 6, MaxFeatures: 7, Dim: 5, Hidden: []int{6}, Embed: 4}}, "contrastive"},
		{coretest.TowerCase{Name: "sum", Tower: text.Name, Config: text.Config{Bits: 6, MaxFeatures: 5, Dim: 4, Hidden: []int{}, Embed: 3, Sum: true}}, "l1sigmoid"},
	} {
		t.Run(tc.c.Name, func(t *testing.T) { coretest.TestTower(t, tc.c, tc.head) })
	}
	// Probe the embedding table densely: most of it is untouched by a
	// batch, where the gradient must be exactly zero.
	m, err := core.New(core.Spec{Tower: text.Name, TowerConfig: []byte(`{"bits":6,"max_features":9,"dim":3,"hidden":[5],"embed":4}`), Head: "contrastive"}, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	coretest.GradCheck(t, m, coretest.RandomBatch(m.Tower, 6, 8, 5), 192)
}

// The embedding is L2-normalised, and a training step changes only the
// table rows of the batch's features.
func TestSparseRowsAndUnitLength(t *testing.T) {
	m, err := core.New(core.Spec{Tower: text.Name, TowerConfig: []byte(`{"bits":12,"max_features":8,"dim":8,"hidden":[16],"embed":8}`), Head: "contrastive"}, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	items := []core.Item{{Bag: []int32{1, 2, 3}}, {Bag: []int32{3, 4}}, {Bag: []int32{5}}, {Bag: []int32{6, 7, 8, 9}}}
	emb, err := m.Embed(context.Background(), items, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range emb {
		var s float64
		for _, v := range e {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("embedding %d has squared norm %g", i, s)
		}
	}
	table := m.Tower.Params()[0]
	before := append([]float32(nil), table.Data...)
	d := &fixedDomain{bt: &core.Batch{Items: items, A: []int{0, 1, 2, 3}, B: []int{1, 2, 3, 0}, Y: []float32{1, 0, 1, 0}}}
	tr := &train.Trainer{Model: m, Domain: d, Config: train.Config{Steps: 3, Items: 4, Pairs: 4, Seed: 1, LR: 0.01}}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	changed := map[int]bool{}
	for i := range table.Data {
		if table.Data[i] != before[i] {
			changed[i/8] = true
		}
	}
	for r := range changed {
		if r < 1 || r > 9 {
			t.Errorf("row %d changed but no item uses it", r)
		}
	}
	if len(changed) != 9 {
		t.Errorf("%d rows changed, want the 9 used", len(changed))
	}
}

type fixedDomain struct{ bt *core.Batch }

func (d *fixedDomain) Describe() core.Description {
	return core.Description{Name: "fixed", Splits: []string{"train"}}
}
func (d *fixedDomain) Pairs(context.Context, core.PairRequest) (core.Stream, error) {
	return &fixedStream{d.bt}, nil
}
func (d *fixedDomain) Episodes(context.Context, string) ([]core.Episode, error) { return nil, nil }
func (d *fixedDomain) Decode([]byte) (core.Item, error)                         { return core.Item{}, nil }

type fixedStream struct{ bt *core.Batch }

func (s *fixedStream) Next(context.Context) (*core.Batch, error) { return s.bt, nil }
func (s *fixedStream) Close() error                              { return nil }

func TestTokenizeAndFeatures(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"How do I learn Go?", []string{"how", "do", "i", "learn", "go"}},
		{"ÉCOLE d'été, Straße", []string{"école", "d'été", "straße"}},
		{"  C++ vs. C#: 2024 ", []string{"c", "vs", "c", "2024"}},
		{"日本語 テキスト", []string{"日本語", "テキスト"}},
	} {
		if got := text.Tokenize(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	f := text.Featurizer{Bits: 18, Max: 1000}
	a, _, err := f.Features("How do I learn Go")
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := f.Features("how DO i learn go!")
	if !reflect.DeepEqual(a, b) {
		t.Error("case and punctuation change the features")
	}
	// 5 unigrams + 4 bigrams + trigrams of <how> <do> <i> <learn> <go>: 3+2+1+5+2.
	if len(a) != 5+4+13 {
		t.Errorf("%d features, want 22", len(a))
	}
	for _, v := range a {
		if v < 0 || v >= 1<<18 {
			t.Fatalf("feature %d outside 2^18 buckets", v)
		}
	}
	if short, _, _ := (text.Featurizer{Bits: 18, Max: 3}).Features("How do I learn Go"); !reflect.DeepEqual(short, a[:3]) {
		t.Error("Max does not keep the first features")
	}
	if _, _, err := f.Features(" ?! "); err != text.ErrEmpty {
		t.Errorf("no words: %v", err)
	}
	if _, _, err := f.Features("ok \xff\xfe"); err == nil || !strings.Contains(err.Error(), "UTF-8 at byte 3") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	long := strings.Repeat("wörd ", 1<<18)
	feats, truncated, err := f.Features(long)
	if err != nil || !truncated || len(feats) != 1000 {
		t.Errorf("1 MB text: %d features, truncated %v, %v", len(feats), truncated, err)
	}
}

func FuzzFeatures(f *testing.F) {
	for _, s := range []string{"How do I learn Go?", "", "\xff", "d'été", strings.Repeat("a", 100)} {
		f.Add(s)
	}
	fz := text.Featurizer{Bits: 10, Max: 64}
	f.Fuzz(func(t *testing.T, s string) {
		feats, _, err := fz.Features(s)
		if err != nil {
			return
		}
		if len(feats) == 0 || len(feats) > 64 {
			t.Fatalf("%d features", len(feats))
		}
		for _, v := range feats {
			if v < 0 || v >= 1<<10 {
				t.Fatalf("feature %d out of range", v)
			}
		}
	})
}
