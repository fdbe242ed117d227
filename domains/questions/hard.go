package questions

import (
	"math"
	"math/rand/v2"

	"github.com/siamesenet/siamese/towers/text"
)

// HardNegatives mines n pairs that share many words but are not
// duplicates: for n questions drawn from pairs, the question of the other
// pairs that BM25 ranks first against it (its own partner and copies of
// itself left out), labelled not duplicate. They teach the network what
// word overlap alone does not say, which is what it adds to the lexical
// score.
func HardNegatives(pairs []Pair, n int, rng *rand.Rand) []Pair {
	if n <= 0 || len(pairs) < 2 {
		return nil
	}
	// The distinct questions, each with the pairs it appears in.
	var texts []string
	at := map[string]int{}
	partners := map[int]map[int]bool{}
	id := func(s string) int {
		if i, ok := at[s]; ok {
			return i
		}
		at[s] = len(texts)
		texts = append(texts, s)
		return len(texts) - 1
	}
	for _, p := range pairs {
		a, b := id(p.A), id(p.B)
		for _, e := range [][2]int{{a, b}, {b, a}} {
			if partners[e[0]] == nil {
				partners[e[0]] = map[int]bool{}
			}
			partners[e[0]][e[1]] = true
		}
	}
	words := make([][]string, len(texts))
	st := &Stats{DF: map[string]int{}}
	postings := map[string][]int32{}
	for i, t := range texts {
		words[i] = text.Tokenize(t)
		st.Add(words[i])
		for _, w := range distinct(words[i]) {
			postings[w] = append(postings[w], int32(i))
		}
	}
	avg := float64(st.Words) / float64(st.Docs)
	scores := make([]float64, len(texts))
	var touched []int32
	var out []Pair
	for range n {
		q := rng.IntN(len(texts))
		for _, w := range distinct(words[q]) {
			df := float64(st.DF[w])
			idf := math.Log(1 + (float64(st.Docs)-df+0.5)/(df+0.5))
			for _, d := range postings[w] {
				if scores[d] == 0 {
					touched = append(touched, d)
				}
				// tf is taken as 1: questions rarely repeat a word.
				scores[d] += idf * (BM25K1 + 1) / (1 + BM25K1*(1-BM25B+BM25B*float64(len(words[d]))/avg))
			}
		}
		best, bestScore := -1, 0.0
		for _, d := range touched {
			if int(d) != q && !partners[q][int(d)] && scores[d] > bestScore {
				best, bestScore = int(d), scores[d]
			}
			scores[d] = 0
		}
		touched = touched[:0]
		if best >= 0 {
			out = append(out, Pair{A: texts[q], B: texts[best], Where: "hard negative (BM25)"})
		}
	}
	return out
}
