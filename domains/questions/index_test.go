package questions

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	_ "github.com/siamesenet/siamese/heads/cosine"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/towers/text"
)

// bruteForce scores every question of x and sorts them: what Search must
// return, found the slow way.
func bruteForce(x *Index, query string, emb []float32, k int) []candidate {
	n, d := x.Len(), len(emb)
	lex := make([]float32, n)
	x.accumulate(x.stats.Vector(text.Tokenize(query)), lex, 0, n)
	fl, fx := float32(x.fusion.Learned), float32(x.fusion.Lexical)
	all := make([]candidate, n)
	for j := range all {
		key := make([]float32, 1)
		r := x.m.Head.(core.Ranker)
		r.RankKeys(emb, x.emb[j*d:(j+1)*d], key)
		s := r.ScoreOfKey(key[0])
		all[j] = candidate{doc: j, rank: float32(fl*s) + float32(fx*lex[j]), learned: s, lexical: lex[j]}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].better(all[j]) })
	return all[:min(k, n)]
}

// TestSearchIsExact checks that the pruned, split search returns exactly
// the questions and scores of scoring every question, for each head with
// a ranking key, embedding sizes on and off the vector kernels' widths,
// fusions whose learned weight is positive, negative or zero, and k from
// 1 to more than the base.
func TestSearchIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	zipf := rand.NewZipf(rng, 1.1, 2, 2999)
	sentence := func() string {
		ws := make([]string, 3+rng.IntN(10))
		for i := range ws {
			ws[i] = fmt.Sprintf("w%d", zipf.Uint64())
		}
		return strings.Join(ws, " ")
	}
	heads := []struct{ name, config string }{{"contrastive", `{"margin":1.4}`}, {"l1sigmoid", ``}, {"cosine", ``}}
	for _, hd := range heads {
		for _, dim := range []int{32, 20} {
			for _, fusion := range []Fusion{{Bias: -2.6, Learned: 0.7, Lexical: 3.2}, {Bias: 0, Learned: 4, Lexical: 0.5}, {Bias: 1, Learned: -1, Lexical: 2}, {Bias: 0, Learned: 0, Lexical: 1}} {
				t.Run(fmt.Sprintf("%s/%d/%v", hd.name, dim, fusion), func(t *testing.T) {
					spec := core.Spec{Tower: text.Name, Head: hd.name, TowerConfig: []byte(fmt.Sprintf(`{"bits":12,"max_features":64,"dim":16,"hidden":[16],"embed":%d}`, dim))}
					if hd.config != "" {
						spec.HeadConfig = []byte(hd.config)
					}
					m, err := core.New(spec, core.Preprocess{Kind: "text"}, 1)
					if err != nil {
						t.Fatal(err)
					}
					sc := &Scoring{Fusion: fusion, Stats: NewStats([]string{"w1 w2"})}
					if m.Scoring, err = sc.Marshal(); err != nil {
						t.Fatal(err)
					}
					const n = 20000
					people := make([]*gallery.Person, n)
					for i := range people {
						e := make([]float32, dim)
						for j := range e {
							e[j] = float32(rng.NormFloat64())
						}
						people[i] = &gallery.Person{Name: fmt.Sprintf("q%d", i), Note: sentence(), Embeddings: [][]float32{e}}
					}
					// Some questions twice: equal scores must break ties the same way.
					for i := 0; i < 50; i++ {
						a, b := rng.IntN(n), rng.IntN(n)
						people[b].Note = people[a].Note
						copy(people[b].Embeddings[0], people[a].Embeddings[0])
					}
					g := gallery.New(m, 1)
					if err := g.EnrollAll(people, false); err != nil {
						t.Fatal(err)
					}
					x, err := NewIndex(g, m)
					if err != nil {
						t.Fatal(err)
					}
					for q := range 20 {
						query := sentence()
						emb := make([]float32, dim)
						for j := range emb {
							emb[j] = float32(rng.NormFloat64())
						}
						if q%5 == 0 { // a question of the base itself
							p := people[rng.IntN(n)]
							query, emb = p.Note, append([]float32(nil), p.Embeddings[0]...)
						}
						k := []int{1, 5, 20, n + 3}[q%4]
						got, want := x.Search(query, emb, k), bruteForce(x, query, emb, k)
						if len(got) != len(want) {
							t.Fatalf("query %d: %d hits, want %d", q, len(got), len(want))
						}
						for i := range want {
							w := want[i]
							if got[i].ID != x.g.People[w.doc].Name || got[i].Learned != float64(w.learned) || got[i].Lexical != float64(w.lexical) {
								t.Fatalf("query %d hit %d: %s (learned %v, lexical %v), want %s (%v, %v)", q, i, got[i].ID, got[i].Learned, got[i].Lexical, x.g.People[w.doc].Name, w.learned, w.lexical)
							}
						}
					}
				})
			}
		}
	}
}
