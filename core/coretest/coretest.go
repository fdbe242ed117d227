// Package coretest is the conformance suite that every Tower, Head and
// Domain must pass, in the style of gonum's testblas: a tower or head
// package calls these functions from its own tests.
package coretest

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/siamesenet/siamese/core"
)

// RandomBatch makes a batch of n random items for tower t and p random
// pairs, half labelled same.
func RandomBatch(t core.Tower, n, p int, seed uint64) *core.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := t.Input()
	bt := &core.Batch{}
	for i := 0; i < n; i++ {
		bt.Items = append(bt.Items, RandomItem(in, rng))
	}
	for i := 0; i < p; i++ {
		a := rng.IntN(n)
		b := (a + 1 + rng.IntN(n-1)) % n
		bt.A = append(bt.A, a)
		bt.B = append(bt.B, b)
		bt.Y = append(bt.Y, float32(i%2))
	}
	return bt
}

// RandomItem makes one random item of the given spec.
func RandomItem(in core.InputSpec, rng *rand.Rand) core.Item {
	size := core.Size(in.Shape)
	switch in.Kind {
	case core.Bag:
		bag := make([]int32, 1+rng.IntN(size))
		for j := range bag {
			bag[j] = int32(rng.IntN(64)) // bag towers have at least 64 rows
		}
		return core.Item{Bag: bag}
	default:
		x := make([]float32, size)
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		return core.Item{Dense: x}
	}
}

// GradCheck compares the analytic gradient of every parameter of m with
// central differences in float64, probing up to probes elements of each.
// It fails when fewer than 95% of probes agree within 1e-4 relative error
// or when the median relative error exceeds 1e-6.
func GradCheck(t *testing.T, m *core.Model, bt *core.Batch, probes int) {
	t.Helper()
	net, err := m.NewTrainNet64(len(bt.Items), len(bt.A))
	if err != nil {
		t.Fatalf("float64 net: %v", err)
	}
	defer net.Close()
	if _, _, err := net.Forward(bt); err != nil {
		t.Fatalf("forward: %v", err)
	}
	params := net.Params()
	if len(params) == 0 {
		t.Fatal("model has no learnables in the graph")
	}
	grads := make([][]float64, len(params))
	for i := range params {
		if grads[i], err = net.Grad(i); err != nil {
			t.Fatalf("grad %s: %v", params[i].Name, err)
		}
	}
	const eps = 1e-6
	rng := rand.New(rand.NewPCG(7, 7))
	var errs []float64
	bad := 0
	nonzero := 0
	for i, p := range params {
		w := net.Param64(i)
		n := min(probes, len(w))
		for k := 0; k < n; k++ {
			j := rng.IntN(len(w))
			if k < len(w) && len(w) <= probes {
				j = k
			}
			orig := w[j]
			w[j] = orig + eps
			lp, _, err := net.Forward(bt)
			if err != nil {
				t.Fatal(err)
			}
			w[j] = orig - eps
			lm, _, err := net.Forward(bt)
			if err != nil {
				t.Fatal(err)
			}
			w[j] = orig
			num := (lp - lm) / (2 * eps)
			an := grads[i][j]
			if an != 0 {
				nonzero++
			}
			rel := math.Abs(num-an) / math.Max(1e-6, math.Max(math.Abs(num), math.Abs(an)))
			if math.Abs(num-an) < 1e-9 {
				rel = 0
			}
			errs = append(errs, rel)
			if rel > 1e-4 {
				bad++
				t.Logf("%s[%d]: analytic %.8g numeric %.8g (rel %.2g)", p.Name, j, an, num, rel)
			}
		}
	}
	// A second run on the same batch gives the same gradients (they are
	// not accumulated across steps).
	if _, _, err := net.Forward(bt); err != nil {
		t.Fatal(err)
	}
	for i, p := range params {
		g, err := net.Grad(i)
		if err != nil {
			t.Fatal(err)
		}
		for j := range g {
			if math.Abs(g[j]-grads[i][j]) > 1e-9*math.Max(1, math.Abs(g[j])) {
				t.Fatalf("%s: gradient changed between two runs on one batch: %g then %g", p.Name, grads[i][j], g[j])
			}
		}
	}
	sort.Float64s(errs)
	median := errs[len(errs)/2]
	if float64(bad) > 0.05*float64(len(errs)) || median > 1e-6 {
		t.Errorf("gradient check: %d of %d probes off by more than 1e-4, median relative error %.2g", bad, len(errs), median)
	}
	if nonzero == 0 {
		t.Errorf("gradient check: every analytic gradient probed is zero")
	}
}

// TowerCase is one tower configuration for the suite.
type TowerCase struct {
	Name   string
	Tower  string
	Config any
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	if v == nil {
		return nil
	}
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTower runs the tower conformance suite: declared shapes match the
// graph, weights are deterministic in the seed, embeddings do not depend on
// the batch an item is in, and gradients match finite differences.
// headName is a registered head to pair it with (e.g. "contrastive").
func TestTower(t *testing.T, c TowerCase, headName string) {
	t.Helper()
	spec := core.Spec{Tower: c.Tower, TowerConfig: mustJSON(t, c.Config), Head: headName}
	m, err := core.New(spec, core.Preprocess{}, 1)
	if err != nil {
		t.Fatalf("%s: new model: %v", c.Name, err)
	}
	defer m.Close()
	tw := m.Tower
	if len(tw.Params()) == 0 {
		t.Errorf("%s: tower has no params", c.Name)
	}
	for _, p := range tw.Params() {
		if len(p.Data) != core.Size(p.Shape) || p.Name == "" {
			t.Errorf("%s: param %q has %d values for shape %v", c.Name, p.Name, len(p.Data), p.Shape)
		}
	}
	m2, err := core.New(spec, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		q := m2.Params()[i]
		for j := range p.Data {
			if p.Data[j] != q.Data[j] {
				t.Fatalf("%s: param %s differs between two models of the same seed", c.Name, p.Name)
			}
		}
	}

	bt := RandomBatch(tw, 4, 6, 3)
	ctx := context.Background()
	all, err := m.Embed(ctx, bt.Items, 4)
	if err != nil {
		t.Fatalf("%s: embed: %v", c.Name, err)
	}
	if len(all) != 4 || len(all[0]) != core.Size(tw.Output()) {
		t.Fatalf("%s: embed gave %d×%d, want 4×%d", c.Name, len(all), len(all[0]), core.Size(tw.Output()))
	}
	one, err := m.Embed(ctx, bt.Items[2:3], 1)
	if err != nil {
		t.Fatal(err)
	}
	for j := range one[0] {
		if d := math.Abs(float64(one[0][j] - all[2][j])); d > 1e-5*math.Max(1, math.Abs(float64(one[0][j]))) {
			t.Fatalf("%s: embedding of item 2 depends on its batch: %g vs %g", c.Name, one[0][j], all[2][j])
		}
	}
	GradCheck(t, m, bt, 6)
}

// TestHead runs the head conformance suite with a small tower: the graph's
// score matches Head.Score on cached embeddings within 1e-5, scores lie in
// [0,1], and gradients match finite differences.
func TestHead(t *testing.T, headName string, headConfig any) {
	t.Helper()
	TestHeadOn(t, headName, headConfig, "mlp", json.RawMessage(`{"input":5,"hidden":[6],"embed":4,"activation":"none"}`))
}

// TestHeadOn runs the head suite on a given tower, for heads that need
// embeddings of a particular shape (feature maps, for example).
func TestHeadOn(t *testing.T, headName string, headConfig any, tower string, towerConfig any) {
	t.Helper()
	spec := core.Spec{
		Tower: tower, TowerConfig: mustJSON(t, towerConfig),
		Head: headName, HeadConfig: mustJSON(t, headConfig),
	}
	m, err := core.New(spec, core.Preprocess{}, 2)
	if err != nil {
		t.Fatalf("new model with head %s: %v", headName, err)
	}
	defer m.Close()
	bt := RandomBatch(m.Tower, 6, 8, 5)
	net, err := m.NewTrainNet(len(bt.Items), len(bt.A))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	loss, scores, err := net.Forward(bt)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || loss < 0 {
		t.Errorf("head %s: loss %v", headName, loss)
	}
	emb, err := m.Embed(context.Background(), bt.Items, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bt.A {
		s := m.Head.Score(emb[bt.A[i]], emb[bt.B[i]])
		if s < 0 || s > 1 {
			t.Errorf("head %s: score %v outside [0,1]", headName, s)
		}
		if d := math.Abs(float64(s) - scores[i]); d > 1e-5 {
			t.Errorf("head %s: pair %d: Score %v, graph %v (|Δ| %.2g > 1e-5)", headName, i, s, scores[i], d)
		}
	}
	// Search over cached embeddings ranks as Score does and reports its scores.
	db := make([]float32, 0, len(emb)*len(emb[0]))
	for _, e := range emb {
		db = append(db, e...)
	}
	hits := core.Search(m.Head, emb[0], db, 3)
	if len(hits) != 3 {
		t.Fatalf("head %s: search gave %d hits, want 3", headName, len(hits))
	}
	for i, hit := range hits {
		want := m.Head.Score(emb[0], emb[hit.Index])
		if math.Abs(float64(hit.Score-want)) > 1e-4 {
			t.Errorf("head %s: hit %d score %v, Score says %v", headName, i, hit.Score, want)
		}
		for j := range emb {
			if s := m.Head.Score(emb[0], emb[j]); s > want+1e-4 && !contains(hits[:i+1], j) {
				t.Errorf("head %s: hit %d (row %d, %v) ranks below row %d (%v)", headName, i, hit.Index, want, j, s)
			}
		}
	}
	GradCheck(t, m, bt, 12)
}

func contains(hits []core.Hit, i int) bool {
	for _, h := range hits {
		if h.Index == i {
			return true
		}
	}
	return false
}
