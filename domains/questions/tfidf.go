package questions

import (
	"math"

	"github.com/siamesenet/siamese/towers/text"
)

// TFIDF is the classic baseline: word unigram counts weighted by smoothed
// inverse document frequency (as scikit-learn's TfidfVectorizer does),
// L2-normalised, compared by cosine.
type TFIDF struct {
	idf  map[string]float64
	docs int
}

// NewTFIDF fits the document frequencies on a corpus.
func NewTFIDF(corpus []string) *TFIDF {
	df := map[string]int{}
	for _, doc := range corpus {
		seen := map[string]bool{}
		for _, w := range text.Tokenize(doc) {
			if !seen[w] {
				seen[w] = true
				df[w]++
			}
		}
	}
	t := &TFIDF{idf: make(map[string]float64, len(df)), docs: len(corpus)}
	for w, n := range df {
		t.idf[w] = math.Log(float64(1+len(corpus))/float64(1+n)) + 1
	}
	return t
}

// Vector returns the L2-normalised TF-IDF vector of a text.
func (t *TFIDF) Vector(s string) map[string]float64 {
	v := map[string]float64{}
	for _, w := range text.Tokenize(s) {
		idf, ok := t.idf[w]
		if !ok {
			idf = math.Log(float64(1+t.docs)) + 1 // unseen: as rare as can be
		}
		v[w] += idf
	}
	var n float64
	for _, x := range v {
		n += x * x
	}
	n = math.Sqrt(n)
	for w := range v {
		v[w] /= n
	}
	return v
}

// Cosine of two normalised vectors.
func Cosine(a, b map[string]float64) float64 {
	if len(b) < len(a) {
		a, b = b, a
	}
	var s float64
	for w, x := range a {
		s += x * b[w]
	}
	return s
}
