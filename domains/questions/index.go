package questions

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/towers/text"
)

// IndexStats computes the word statistics of an index's questions (the
// entries' notes) and stores them in the index, so that they are saved
// with its embeddings in one atomic write.
func IndexStats(g *gallery.Gallery) error {
	texts := make([]string, len(g.People))
	for i, p := range g.People {
		texts[i] = p.Note
	}
	raw, err := json.Marshal(NewStats(texts))
	if err != nil {
		return err
	}
	g.Extra = raw
	return nil
}

// Index searches a question base exactly by a model's score: the head's
// score of the embeddings, fused with TF-IDF cosine under the statistics
// of the base when the model has a Scoring.
type Index struct {
	g      *gallery.Gallery
	m      *core.Model
	fusion *Fusion
	stats  *Stats
	emb    []float32 // every question's embedding, row-major
	// The lexical part: per word, the questions holding it and their
	// normalised TF-IDF weight.
	postings map[string][]posting
}

type posting struct {
	doc    int32
	weight float32
}

// Hit is one search result with the parts of its score.
type Hit struct {
	ID      string  `json:"id"`
	Text    string  `json:"text"`
	Score   float64 `json:"score"`             // what ranks: the fused probability, or the head's score
	Learned float64 `json:"learned"`           // the head's score
	Lexical float64 `json:"lexical,omitempty"` // TF-IDF cosine
	// FromLearned and FromLexical are the two terms of the fusion before
	// its logistic.
	FromLearned float64 `json:"from_learned,omitempty"`
	FromLexical float64 `json:"from_lexical,omitempty"`
}

// NewIndex prepares an index file's gallery for search with model m. The
// statistics stored in the index are used; an index without them (or
// whose count disagrees with its entries, written by an older version) has
// them computed now.
func NewIndex(g *gallery.Gallery, m *core.Model) (*Index, error) {
	sc, err := ParseScoring(m.Scoring)
	if err != nil {
		return nil, err
	}
	x := &Index{g: g, m: m}
	if sc != nil {
		x.fusion = &sc.Fusion
	}
	x.emb = make([]float32, 0, len(g.People)*g.Dim)
	for _, p := range g.People {
		if len(p.Embeddings) != 1 || len(p.Embeddings[0]) != g.Dim {
			return nil, fmt.Errorf("index entry %q has %d embeddings, want 1 of %d values", p.Name, len(p.Embeddings), g.Dim)
		}
		at := len(x.emb)
		x.emb = append(x.emb, p.Embeddings[0]...)
		p.Embeddings[0] = x.emb[at : at+g.Dim : at+g.Dim] // one copy in memory, not two
	}
	if x.fusion == nil {
		return x, nil
	}
	var st Stats
	if len(g.Extra) > 0 && json.Unmarshal(g.Extra, &st) == nil && st.Docs == len(g.People) && st.DF != nil {
		x.stats = &st
	} else {
		if err := IndexStats(g); err != nil {
			return nil, err
		}
		json.Unmarshal(g.Extra, &st)
		x.stats = &st
	}
	x.postings = map[string][]posting{}
	for i, p := range g.People {
		for _, t := range x.stats.Vector(text.Tokenize(p.Note)) {
			x.postings[t.Word] = append(x.postings[t.Word], posting{int32(i), float32(t.Weight)})
		}
	}
	return x, nil
}

// Len is the number of questions.
func (x *Index) Len() int { return len(x.g.People) }

// Search returns the k questions that score highest against an embedded
// query text, best first, with the parts of their scores. The search is
// exact: the same k as scoring every question, found with less work. The
// questions are split across cores; each scans its rows with the head's
// ranking keys and computes the fused score only of the questions whose
// bound (their TF-IDF cosine with the best learned score of their chunk)
// can still beat its k-th best.
func (x *Index) Search(query string, emb []float32, k int) []Hit {
	n := x.Len()
	if n == 0 || k <= 0 {
		return nil
	}
	k = min(k, n)
	var hits []candidate
	if x.fusion == nil {
		for _, h := range core.Search(x.m.Head, emb, x.emb, k) {
			hits = append(hits, candidate{doc: h.Index, learned: h.Score, rank: h.Score})
		}
	} else {
		hits = x.fused(x.stats.Vector(text.Tokenize(query)), emb, k)
	}
	out := make([]Hit, len(hits))
	for i, s := range hits {
		p := x.g.People[s.doc]
		h := Hit{ID: p.Name, Text: p.Note, Learned: float64(s.learned), Score: float64(s.learned)}
		if x.fusion != nil {
			h.Lexical = float64(s.lexical)
			h.FromLearned, h.FromLexical = x.fusion.Parts(h.Learned, h.Lexical)
			h.Score = x.fusion.Score(h.Learned, h.Lexical)
		}
		out[i] = h
	}
	return out
}

// candidate is one question's score: the ranking value (fl·learned +
// fx·lexical, the fusion before its logistic) and its parts.
type candidate struct {
	doc                    int
	rank, learned, lexical float32
}

// better orders candidate questions: the higher rank first, then the lower
// index.
func (a candidate) better(b candidate) bool {
	return a.rank > b.rank || a.rank == b.rank && a.doc < b.doc
}

// candHeap is a min-heap under better: its root is the worst kept.
type candHeap []candidate

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return h[j].better(h[i]) }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(v any)        { *h = append(*h, v.(candidate)) }
func (h *candHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// lexBuffers recycles the per-query TF-IDF accumulators (one float32 a
// question), which are too big to allocate on every search.
var lexBuffers sync.Pool

// fused is the exact top k under the fusion, split across cores.
func (x *Index) fused(qv Vector, emb []float32, k int) []candidate {
	n := x.Len()
	lex, _ := lexBuffers.Get().([]float32)
	if cap(lex) < n {
		lex = make([]float32, n)
	}
	lex = lex[:n]
	defer func() { clear(lex); lexBuffers.Put(lex) }()

	workers := min(runtime.GOMAXPROCS(0), max(1, n/8192))
	heaps := make([]candHeap, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.accumulate(qv, lex, lo, hi)
			heaps[w] = x.scan(emb, lex, lo, hi, k)
		}()
	}
	wg.Wait()
	var all []candidate
	for _, h := range heaps {
		all = append(all, h...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].better(all[j]) })
	return all[:min(k, len(all))]
}

// accumulate adds the query's TF-IDF cosine with questions [lo, hi) into
// lex, from the postings (each sorted by question).
func (x *Index) accumulate(qv Vector, lex []float32, lo, hi int) {
	for _, t := range qv {
		ps := x.postings[t.Word]
		at := sort.Search(len(ps), func(i int) bool { return int(ps[i].doc) >= lo })
		qw := float32(t.Weight)
		for _, p := range ps[at:] {
			if int(p.doc) >= hi {
				break
			}
			lex[p.doc] += float32(qw * p.weight)
		}
	}
}

// scan keeps the k best questions of [lo, hi) under the fusion. A
// question's rank is fl·S(key) + fx·lex with S the head's score of its
// ranking key, increasing in the key; with S at most S(best key of its
// chunk), a question whose bound cannot beat the k-th best kept (nor tie
// it, since every question kept has a lower index) is skipped without
// computing its score.
func (x *Index) scan(emb, lex []float32, lo, hi, k int) candHeap {
	d := len(emb)
	fl, fx := float32(x.fusion.Learned), float32(x.fusion.Lexical)
	r, fast := x.m.Head.(core.Ranker)
	const chunk = 4096
	keys := make([]float32, chunk)
	h := make(candHeap, 0, k+1)
	score := func(key float32) float32 { // a key's learned score
		if fast {
			return r.ScoreOfKey(key)
		}
		return key
	}
	for c := lo; c < hi; c += chunk {
		e := min(c+chunk, hi)
		ks := keys[:e-c]
		if fast {
			r.RankKeys(emb, x.emb[c*d:e*d], ks)
		} else {
			for i := range ks {
				ks[i] = x.m.Head.Score(emb, x.emb[(c+i)*d:(c+i+1)*d])
			}
		}
		// The best a learned term can be in this chunk.
		kmin, kmax := ks[0], ks[0]
		for _, v := range ks {
			kmin, kmax = min(kmin, v), max(kmax, v)
		}
		bestLearned := max(fl*score(kmin), fl*score(kmax))
		for i, key := range ks {
			j := c + i
			l := lex[j]
			if len(h) == k && bestLearned+float32(fx*l) <= h[0].rank {
				continue
			}
			s := score(key)
			v := candidate{doc: j, rank: float32(fl*s) + float32(fx*l), learned: s, lexical: l}
			if len(h) < k {
				heap.Push(&h, v)
			} else if v.better(h[0]) {
				h[0] = v
				heap.Fix(&h, 0)
			}
		}
	}
	return h
}

// topK returns the indices of the k largest values, largest first (ties:
// the lower index first).
func topK(v []float32, k int) []int {
	k = min(k, len(v))
	idx := make([]int, 0, k+1)
	less := func(a, b int) bool { return v[a] < v[b] || v[a] == v[b] && a > b }
	for i := range v {
		if len(idx) == k && !less(idx[len(idx)-1], i) {
			continue
		}
		at := sort.Search(len(idx), func(j int) bool { return less(idx[j], i) })
		idx = append(idx, 0)
		copy(idx[at+1:], idx[at:])
		idx[at] = i
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	return idx
}

// Identify is Search as a service matches a gallery: the k best
// entries' names and fused scores (serve.GalleryScorer).
func (x *Index) Identify(raw []byte, emb []float32, k int) []gallery.Match {
	hits := x.Search(string(raw), emb, k)
	out := make([]gallery.Match, len(hits))
	for i, h := range hits {
		out[i] = gallery.Match{Name: h.ID, Score: float32(h.Score)}
	}
	return out
}

// Verify is the score Search gives the named question against a query
// text and its embedding (serve.GalleryScorer).
func (x *Index) Verify(name string, raw []byte, emb []float32) (float64, error) {
	j := slices.IndexFunc(x.g.People, func(p *gallery.Person) bool { return p.Name == name })
	if j < 0 {
		return 0, fmt.Errorf("question %q is not in the index", name)
	}
	d := len(emb)
	row := x.emb[j*d : (j+1)*d]
	var learned float32
	if r, ok := x.m.Head.(core.Ranker); ok {
		key := []float32{0}
		r.RankKeys(emb, row, key)
		learned = r.ScoreOfKey(key[0])
	} else {
		learned = x.m.Head.Score(emb, row)
	}
	if x.fusion == nil {
		return float64(learned), nil
	}
	// The lexical part summed as accumulate sums it, for the same score.
	var lex float32
	for _, t := range x.stats.Vector(text.Tokenize(string(raw))) {
		ps := x.postings[t.Word]
		if at, found := slices.BinarySearchFunc(ps, int32(j), func(p posting, doc int32) int { return int(p.doc - doc) }); found {
			lex += float32(float32(t.Weight) * ps[at].weight)
		}
	}
	return x.fusion.Score(float64(learned), float64(lex)), nil
}

// PairScore is how a model scores two texts outside any base (a service's
// compare): the head's score fused with their TF-IDF cosine under the
// statistics the model keeps; nil for a model without a fusion.
func PairScore(m *core.Model) func(a, b []byte, ea, eb []float32) float64 {
	sc, err := ParseScoring(m.Scoring)
	if err != nil || sc == nil {
		return nil
	}
	return func(a, b []byte, ea, eb []float32) float64 {
		return sc.PairScore(float64(m.Head.Score(ea, eb)), string(a), string(b))
	}
}
