package core

import (
	"errors"
	"fmt"
	"math"
)

// Aggregate is how a probe's scores against one class's references become
// one score.
type Aggregate string

// The aggregates.
const (
	Closest   Aggregate = "max"  // the best-matching reference
	MeanScore Aggregate = "mean" // the mean over the references
)

// ParseAggregate reads "max" or "mean".
func ParseAggregate(s string) (Aggregate, error) {
	switch a := Aggregate(s); a {
	case Closest, MeanScore:
		return a, nil
	}
	return "", fmt.Errorf("aggregate %q: want max or mean", s)
}

// Of aggregates scores.
func (a Aggregate) Of(scores []float64) float64 {
	if a == MeanScore {
		s := 0.0
		for _, v := range scores {
			s += v
		}
		return s / float64(len(scores))
	}
	b := math.Inf(-1)
	for _, v := range scores {
		b = max(b, v)
	}
	return b
}

// ScoreRule is how a probe is scored against one class's references.
type ScoreRule struct {
	Aggregate Aggregate `json:"aggregate"` // mean or max over the references
	// Normalize z-normalises the aggregate by the references' scores
	// among themselves (their mean and spread), so that one threshold
	// fits classes that vary a little and classes that vary a lot (as
	// writers' signatures do). It needs at least 2 references.
	Normalize bool `json:"normalize,omitempty"`
}

// minSpread bounds the references' score spread from below when
// normalising (scores lie in [0,1]).
const minSpread = 0.02

// Score scores probe against refs with head h.
func (r ScoreRule) Score(h Head, probe []float32, refs [][]float32) (float64, error) {
	if len(refs) == 0 {
		return 0, errors.New("no references")
	}
	s := make([]float64, len(refs))
	for i, e := range refs {
		s[i] = float64(h.Score(probe, e))
	}
	v := r.Aggregate.Of(s)
	if !r.Normalize {
		return v, nil
	}
	if len(refs) < 2 {
		return 0, errors.New("a normalised score needs at least 2 references")
	}
	var rr []float64
	for i := range refs {
		for j := i + 1; j < len(refs); j++ {
			rr = append(rr, float64(h.Score(refs[i], refs[j])))
		}
	}
	var mu, sd float64
	for _, x := range rr {
		mu += x / float64(len(rr))
	}
	for _, x := range rr {
		sd += (x - mu) * (x - mu) / float64(len(rr))
	}
	return (v - mu) / max(math.Sqrt(sd), minSpread), nil
}

// String is "mean", "max", "mean, normalised", ...
func (r ScoreRule) String() string {
	if r.Normalize {
		return string(r.Aggregate) + ", normalised"
	}
	return string(r.Aggregate)
}
