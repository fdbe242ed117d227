package questions

import "github.com/siamesenet/siamese/towers/text"

// TFIDF is the classic baseline: word unigram counts weighted by smoothed
// inverse document frequency (as scikit-learn's TfidfVectorizer does),
// L2-normalised, compared by cosine.
type TFIDF struct{ *Stats }

// NewTFIDF fits the document frequencies on a corpus.
func NewTFIDF(corpus []string) *TFIDF { return &TFIDF{NewStats(corpus)} }

// Vector returns the L2-normalised TF-IDF vector of a text.
func (t *TFIDF) Vector(s string) Vector { return t.Stats.Vector(text.Tokenize(s)) }
