package text

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/siamesenet/siamese/core"
)

// MaxBytes is the longest text featurized; longer texts are truncated (at
// a character boundary) and reported as truncated.
const MaxBytes = 16 << 10

// ErrEmpty is returned for a text with no word in it.
var ErrEmpty = errors.New("empty text: no word in it")

// Tokenize lower-cases s (Unicode-aware) and splits it into words: runs of
// letters and digits (an apostrophe inside a word is kept).
func Tokenize(s string) []string {
	s = strings.ToLower(s)
	var out []string
	start := -1
	for i, r := range s {
		in := unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) ||
			(r == '\'' && start >= 0 && i+1 < len(s) && isWordStart(s[i+1:]))
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func isWordStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// Featurizer turns a text into hashed feature indices: word unigrams, word
// bigrams and character trigrams of each word (with < > marking its ends),
// each hashed (FNV-1a) into 2^Bits buckets, at most Max of them (unigrams
// first, then bigrams, then trigrams).
type Featurizer struct {
	Bits int
	Max  int
}

// FeaturizerOf reads the featurizer of a text model's preprocessing.
func FeaturizerOf(pre core.Preprocess) (Featurizer, error) {
	if pre.Kind != "text" {
		return Featurizer{}, fmt.Errorf("preprocessing of kind %q, not text", pre.Kind)
	}
	bits, err1 := strconv.Atoi(pre.Extra["bits"])
	max, err2 := strconv.Atoi(pre.Extra["max_features"])
	if err1 != nil || err2 != nil || bits < 1 || bits > 30 || max < 1 {
		return Featurizer{}, fmt.Errorf("text preprocessing needs bits (1–30) and max_features, has %v", pre.Extra)
	}
	return Featurizer{Bits: bits, Max: max}, nil
}

// Preprocess is the preprocessing record of a featurizer.
func (f Featurizer) Preprocess() core.Preprocess {
	return core.Preprocess{Kind: "text", Extra: map[string]string{"bits": strconv.Itoa(f.Bits), "max_features": strconv.Itoa(f.Max)}}
}

// Features returns the feature indices of s. truncated is set when s was
// longer than MaxBytes and only its start was used. Invalid UTF-8 and a
// text without words are errors.
func (f Featurizer) Features(s string) (feats []int32, truncated bool, err error) {
	if !utf8.ValidString(s) {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false, fmt.Errorf("invalid UTF-8 at byte %d", i)
			}
			i += n
		}
	}
	if len(s) > MaxBytes {
		cut := MaxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s, truncated = s[:cut], true
	}
	words := Tokenize(s)
	if len(words) == 0 {
		return nil, truncated, ErrEmpty
	}
	mask := uint64(1)<<f.Bits - 1
	h := fnv.New64a()
	add := func(kind byte, parts ...string) bool {
		if len(feats) >= f.Max {
			return false
		}
		h.Reset()
		h.Write([]byte{kind})
		for i, p := range parts {
			if i > 0 {
				h.Write([]byte{' '})
			}
			h.Write([]byte(p))
		}
		feats = append(feats, int32(h.Sum64()&mask))
		return true
	}
	for _, w := range words {
		if !add('w', w) {
			return feats, truncated, nil
		}
	}
	for i := 1; i < len(words); i++ {
		if !add('b', words[i-1], words[i]) {
			return feats, truncated, nil
		}
	}
	for _, w := range words {
		r := []rune("<" + w + ">")
		for i := 0; i+3 <= len(r); i++ {
			if !add('c', string(r[i:i+3])) {
				return feats, truncated, nil
			}
		}
	}
	return feats, truncated, nil
}
