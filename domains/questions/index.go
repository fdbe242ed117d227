package questions

import (
	"encoding/json"
	"fmt"
	"runtime"
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
// query text, best first, with the parts of their scores.
func (x *Index) Search(query string, emb []float32, k int) []Hit {
	n := x.Len()
	if n == 0 || k <= 0 {
		return nil
	}
	learned := x.learned(emb)
	rank := learned
	var lex []float32
	if x.fusion != nil {
		lex = make([]float32, n)
		for _, t := range x.stats.Vector(text.Tokenize(query)) {
			qv := t.Weight
			for _, p := range x.postings[t.Word] {
				lex[p.doc] += float32(qv) * p.weight
			}
		}
		rank = make([]float32, n)
		fl, fx := float32(x.fusion.Learned), float32(x.fusion.Lexical)
		for i := range rank {
			rank[i] = fl*learned[i] + fx*lex[i]
		}
	}
	top := topK(rank, k)
	out := make([]Hit, len(top))
	for i, j := range top {
		p := x.g.People[j]
		h := Hit{ID: p.Name, Text: p.Note, Learned: float64(learned[j]), Score: float64(learned[j])}
		if x.fusion != nil {
			h.Lexical = float64(lex[j])
			h.FromLearned, h.FromLexical = x.fusion.Parts(h.Learned, h.Lexical)
			h.Score = x.fusion.Score(h.Learned, h.Lexical)
		}
		out[i] = h
	}
	return out
}

// learned is the head's score of emb against every question, split
// across cores (core.Search's ranking keys turned back into scores).
func (x *Index) learned(emb []float32) []float32 {
	n, d := x.Len(), len(emb)
	out := make([]float32, n)
	r, fast := x.m.Head.(core.Ranker)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/4096))
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			if fast {
				r.RankKeys(emb, x.emb[lo*d:hi*d], out[lo:hi])
				for i := lo; i < hi; i++ {
					out[i] = r.ScoreOfKey(out[i])
				}
				return
			}
			for i := lo; i < hi; i++ {
				out[i] = x.m.Head.Score(emb, x.emb[i*d:(i+1)*d])
			}
		}()
	}
	wg.Wait()
	return out
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

// GallerySearcher is how a service searches a gallery of questions with
// model m: a search made from the gallery as it is (made again when it
// changes), ranking by the fused score with the gallery's own word
// statistics; nil for a model without a lexical fusion, whose head's scan
// is the search.
func GallerySearcher(m *core.Model) func(g *gallery.Gallery) (func(raw []byte, emb []float32, k int) []gallery.Match, error) {
	if sc, err := ParseScoring(m.Scoring); err != nil || sc == nil {
		return nil
	}
	return func(g *gallery.Gallery) (func(raw []byte, emb []float32, k int) []gallery.Match, error) {
		x, err := NewIndex(g, m)
		if err != nil {
			return nil, err
		}
		return func(raw []byte, emb []float32, k int) []gallery.Match {
			hits := x.Search(string(raw), emb, k)
			out := make([]gallery.Match, len(hits))
			for i, h := range hits {
				out[i] = gallery.Match{Name: h.ID, Score: float32(h.Score)}
			}
			return out
		}, nil
	}
}
