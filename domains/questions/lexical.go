package questions

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/siamesenet/siamese/towers/text"
)

// Stats are the word statistics of a base of texts: how many texts hold
// each word, how many texts there are and their total length in words.
// They are what a lexical score needs of the base being searched: a word
// shared by two questions counts for more the rarer it is in that base.
type Stats struct {
	Docs  int            `json:"docs"`
	Words int64          `json:"words"` // total length, for BM25's average
	DF    map[string]int `json:"df"`
}

// NewStats counts the words of texts.
func NewStats(texts []string) *Stats {
	s := &Stats{DF: map[string]int{}}
	for _, t := range texts {
		s.Add(text.Tokenize(t))
	}
	return s
}

// Add counts one more text, given as its words.
func (s *Stats) Add(words []string) {
	s.Docs++
	s.Words += int64(len(words))
	for _, w := range distinct(words) {
		s.DF[w]++
	}
}

func distinct(words []string) []string {
	seen := make(map[string]bool, len(words))
	out := words[:0:0]
	for _, w := range words {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// IDF is the smoothed inverse document frequency of scikit-learn's
// TfidfVectorizer: ln((1+N)/(1+df)) + 1; an unseen word is as rare as a
// word can be.
func (s *Stats) IDF(w string) float64 {
	return math.Log(float64(1+s.Docs)/float64(1+s.DF[w])) + 1
}

// Term is one word of a vector and its weight.
type Term struct {
	Word   string
	Weight float64
}

// Vector is a sparse vector: its terms sorted by word, so that sums over
// it are the same in every run.
type Vector []Term

// Vector is the L2-normalised TF-IDF vector of a text's words.
func (s *Stats) Vector(words []string) Vector {
	sorted := append([]string(nil), words...)
	sort.Strings(sorted)
	var v Vector
	for _, w := range sorted {
		if len(v) > 0 && v[len(v)-1].Word == w {
			v[len(v)-1].Weight += s.IDF(w)
			continue
		}
		v = append(v, Term{w, s.IDF(w)})
	}
	var n float64
	for _, t := range v {
		n += t.Weight * t.Weight
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i].Weight /= n
	}
	return v
}

// BM25 parameters: the usual defaults.
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// BM25 is Okapi BM25 of a query's words against a document's: for each
// query word the document holds, idf · tf·(k1+1) / (tf + k1·(1−b+b·|d|/avgdl)),
// with idf = ln(1 + (N−df+½)/(df+½)) (Lucene's, never negative).
func (s *Stats) BM25(query, doc []string) float64 {
	if len(doc) == 0 || s.Docs == 0 {
		return 0
	}
	tf := make(map[string]int, len(doc))
	for _, w := range doc {
		tf[w]++
	}
	avg := float64(s.Words) / float64(s.Docs)
	norm := BM25K1 * (1 - BM25B + BM25B*float64(len(doc))/avg)
	var score float64
	for _, w := range distinct(query) {
		f := tf[w]
		if f == 0 {
			continue
		}
		df := float64(s.DF[w])
		idf := math.Log(1 + (float64(s.Docs)-df+0.5)/(df+0.5))
		score += idf * float64(f) * (BM25K1 + 1) / (float64(f) + norm)
	}
	return score
}

// PairBM25 is BM25 made a symmetric pair score: the mean of each text as
// the query against the other.
func (s *Stats) PairBM25(a, b []string) float64 { return (s.BM25(a, b) + s.BM25(b, a)) / 2 }

// Cosine of two normalised vectors.
func Cosine(a, b Vector) float64 {
	var s float64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].Word < b[j].Word:
			i++
		case a[i].Word > b[j].Word:
			j++
		default:
			s += a[i].Weight * b[j].Weight
			i++
			j++
		}
	}
	return s
}

// Fusion is how a questions model scores a pair: a logistic regression of
// the learned score (the head's) and the lexical one (TF-IDF cosine with
// the statistics of the base searched), fitted on validation pairs, so
// that the network brings paraphrase and the base brings which shared
// words are rare. Score is the probability of a duplicate.
type Fusion struct {
	Bias    float64 `json:"bias"`
	Learned float64 `json:"learned"`
	Lexical float64 `json:"lexical"`
}

// Score fuses a learned and a lexical score.
func (f Fusion) Score(learned, lexical float64) float64 {
	return 1 / (1 + math.Exp(-(f.Bias + f.Learned*learned + f.Lexical*lexical)))
}

// Parts are the two terms of a fused score before the logistic, for
// explaining it.
func (f Fusion) Parts(learned, lexical float64) (fromLearned, fromLexical float64) {
	return f.Learned * learned, f.Lexical * lexical
}

// FitFusion fits the fusion on labelled pairs' scores by logistic
// regression (the log loss of the pairs).
func FitFusion(learned, lexical []float64, same []bool) (Fusion, error) {
	if len(learned) != len(lexical) || len(learned) != len(same) || len(same) < 4 {
		return Fusion{}, fmt.Errorf("fusion: need ≥ 4 scored pairs, got %d", len(same))
	}
	xs := make([][]float64, len(same))
	for i := range same {
		xs[i] = []float64{1, learned[i], lexical[i]}
	}
	w, err := logistic(xs, same)
	if err != nil {
		return Fusion{}, err
	}
	return Fusion{Bias: w[0], Learned: w[1], Lexical: w[2]}, nil
}

// RankPair is one comparison of a retrieval: a query's learned and lexical
// scores against its duplicate minus those against another question.
type RankPair struct{ Learned, Lexical float64 }

// FitRankedFusion fits the fusion in two steps: the direction of
// (learned, lexical) that ranks each query's duplicate above the other
// questions of a base (RankNet's pairwise logistic loss over the
// differences), then the bias and scale that turn that combination into
// the probability of a duplicate on labelled pairs. A fusion fitted on
// pairs alone weighs the learned score for telling a pair apart, not for
// ranking a base, where the rare shared words matter more.
func FitRankedFusion(diffs []RankPair, learned, lexical []float64, same []bool) (Fusion, error) {
	if len(diffs) < 2 {
		return Fusion{}, fmt.Errorf("fusion: need retrieval comparisons, got %d", len(diffs))
	}
	xs := make([][]float64, 0, 2*len(diffs))
	ys := make([]bool, 0, 2*len(diffs))
	for _, d := range diffs { // symmetric, so the fit needs no bias
		xs = append(xs, []float64{d.Learned, d.Lexical}, []float64{-d.Learned, -d.Lexical})
		ys = append(ys, true, false)
	}
	dir, err := logistic(xs, ys)
	if err != nil {
		return Fusion{}, err
	}
	if len(learned) != len(lexical) || len(learned) != len(same) || len(same) < 4 {
		return Fusion{}, fmt.Errorf("fusion: need ≥ 4 scored pairs, got %d", len(same))
	}
	zs := make([][]float64, len(same))
	for i := range same {
		zs[i] = []float64{1, dir[0]*learned[i] + dir[1]*lexical[i]}
	}
	ab, err := logistic(zs, same)
	if err != nil {
		return Fusion{}, err
	}
	return Fusion{Bias: ab[0], Learned: ab[1] * dir[0], Lexical: ab[1] * dir[1]}, nil
}

// logistic fits weights w of p(y) = σ(w·x) by Newton's method on the mean
// log loss with a small L2 penalty (so that separable data stays finite).
func logistic(xs [][]float64, ys []bool) ([]float64, error) {
	pos := 0
	for _, y := range ys {
		if y {
			pos++
		}
	}
	if pos == 0 || pos == len(ys) {
		return nil, errors.New("fusion: the pairs need duplicates and non-duplicates")
	}
	k := len(xs[0])
	const lambda = 1e-3
	w := make([]float64, k)
	loss := func(w []float64) float64 {
		var l float64
		for i, x := range xs {
			var z float64
			for a := range k {
				z += w[a] * x[a]
			}
			if !ys[i] {
				z = -z
			}
			if z > 0 { // log(1 + e^−z), without overflow either way
				l += math.Log1p(math.Exp(-z))
			} else {
				l += -z + math.Log1p(math.Exp(z))
			}
		}
		var r float64
		for _, v := range w {
			r += v * v
		}
		return l/float64(len(xs)) + lambda/2*r
	}
	for range 100 {
		g := make([]float64, k)
		h := make([][]float64, k)
		for a := range h {
			h[a] = make([]float64, k)
		}
		for i, x := range xs {
			var z float64
			for a := range k {
				z += w[a] * x[a]
			}
			p := 1 / (1 + math.Exp(-z))
			y := 0.0
			if ys[i] {
				y = 1
			}
			for a := range k {
				g[a] += (p - y) * x[a]
				for b := range k {
					h[a][b] += p * (1 - p) * x[a] * x[b]
				}
			}
		}
		n := float64(len(xs))
		for a := range k {
			g[a] = g[a]/n + lambda*w[a]
			for b := range k {
				h[a][b] /= n
			}
			h[a][a] += lambda
		}
		step, ok := solve(h, g)
		if !ok {
			break
		}
		// Damped: halve the step until the loss does not grow (a nearly
		// separable set makes the full Newton step overshoot).
		cur := loss(w)
		next := make([]float64, k)
		for t := 1.0; t > 1e-9; t /= 2 {
			for a := range k {
				next[a] = w[a] - t*step[a]
			}
			if l := loss(next); l <= cur || math.IsNaN(cur) {
				break
			}
		}
		done := true
		for a := range k {
			if math.Abs(next[a]-w[a]) > 1e-10 {
				done = false
			}
			w[a] = next[a]
		}
		if done {
			break
		}
	}
	for _, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("fusion: the fit diverged (%v)", w)
		}
	}
	return w, nil
}

// solve solves a small linear system by Gaussian elimination with partial
// pivoting.
func solve(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if math.Abs(m[p][c]) < 1e-300 {
			return nil, false
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for j := c; j <= n; j++ {
				m[r][j] -= f * m[c][j]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for j := r + 1; j < n; j++ {
			s -= m[r][j] * x[j]
		}
		x[r] = s / m[r][r]
	}
	return x, true
}

// Scoring is what a questions model keeps beside its head (core.Model's
// Scoring): the fusion, and the statistics of the corpus it was fitted
// on, which score pairs when no base is being searched.
type Scoring struct {
	Fusion Fusion `json:"fusion"`
	Stats  *Stats `json:"stats"`
}

// ParseScoring reads a model's scoring (nil for a model without one:
// the head's score alone).
func ParseScoring(raw json.RawMessage) (*Scoring, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var s Scoring
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("questions scoring: %w", err)
	}
	if s.Stats == nil || s.Stats.Docs <= 0 {
		return nil, errors.New("questions scoring: no corpus statistics")
	}
	for _, v := range []float64{s.Fusion.Bias, s.Fusion.Learned, s.Fusion.Lexical} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("questions scoring: fusion weight %v", v)
		}
	}
	return &s, nil
}

// Trim returns the statistics without the words held by fewer than min
// texts (a word they no longer know counts as unseen: as rare as can be),
// to keep a model file small.
func (s *Stats) Trim(min int) *Stats {
	t := &Stats{Docs: s.Docs, Words: s.Words, DF: map[string]int{}}
	for w, n := range s.DF {
		if n >= min {
			t.DF[w] = n
		}
	}
	return t
}

// Marshal is the scoring as a model keeps it.
func (s *Scoring) Marshal() (json.RawMessage, error) { return json.Marshal(s) }

// PairScore is the fused score of two texts whose head score is learned,
// with the statistics the scoring keeps (learned itself for a nil
// scoring).
func (s *Scoring) PairScore(learned float64, a, b string) float64 {
	if s == nil {
		return learned
	}
	return s.Fusion.Score(learned, Cosine(s.Stats.Vector(text.Tokenize(a)), s.Stats.Vector(text.Tokenize(b))))
}
