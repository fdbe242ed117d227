package questions

import (
	"context"
	"fmt"

	"github.com/siamesenet/siamese/core"
)

// RetrievalResult holds retrieval metrics over a question base.
type RetrievalResult struct {
	Queries   int     `json:"queries"`
	Base      int     `json:"base"`
	RecallAt1 float64 `json:"recall_at_1"`
	RecallAt5 float64 `json:"recall_at_5"`
	MRR       float64 `json:"mrr"`
}

// Base is the retrieval protocol on labelled pairs: the base is every
// distinct question of the pairs, and each duplicate pair (a, b) is a query
// that asks a and looks for b among the rest of the base.
func Base(pairs []Pair) (base []string, queries [][2]int) {
	index := map[string]int{}
	id := func(s string) int {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = len(base)
		base = append(base, s)
		return len(base) - 1
	}
	for _, p := range pairs {
		a, b := id(p.A), id(p.B)
		if p.Same && a != b {
			queries = append(queries, [2]int{a, b})
		}
	}
	return base, queries
}

// Rank scores each query against the n base questions (score(i, j),
// higher = more alike; the query itself left out) and summarises the
// 1-based ranks of the answers: recall@1, recall@5 and mean reciprocal rank.
func Rank(n int, queries [][2]int, score func(i, j int) float64) RetrievalResult {
	r := RetrievalResult{Queries: len(queries), Base: n}
	for _, q := range queries {
		target := score(q[0], q[1])
		rank := 1
		for j := 0; j < n; j++ {
			if j != q[0] && j != q[1] && score(q[0], j) > target {
				rank++
			}
		}
		if rank == 1 {
			r.RecallAt1++
		}
		if rank <= 5 {
			r.RecallAt5++
		}
		r.MRR += 1 / float64(rank)
	}
	if k := float64(len(queries)); k > 0 {
		r.RecallAt1 /= k
		r.RecallAt5 /= k
		r.MRR /= k
	}
	return r
}

// Retrieval runs the retrieval protocol of Base on pairs with model m.
func (d *Domain) Retrieval(ctx context.Context, m *core.Model, pairs []Pair) (RetrievalResult, error) {
	base, queries := Base(pairs)
	items := make([]core.Item, len(base))
	for i, s := range base {
		it, err := d.Item(s)
		if err != nil {
			return RetrievalResult{}, fmt.Errorf("retrieval: %q: %w", s, err)
		}
		items[i] = it
	}
	emb, err := m.Embed(ctx, items, 0)
	if err != nil {
		return RetrievalResult{}, err
	}
	return Rank(len(base), queries, func(i, j int) float64 { return float64(m.Head.Score(emb[i], emb[j])) }), nil
}
