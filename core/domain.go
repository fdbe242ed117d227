package core

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Description says what a domain offers; the host uses it to make a model
// that fits the domain's items.
type Description struct {
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	InputKind  string     `json:"input_kind"` // image, text or video
	Input      InputSpec  `json:"input"`
	Spec       Spec       `json:"spec"` // default tower and head
	Preprocess Preprocess `json:"preprocess"`
	// Rule, if set, is how the domain verifies a probe against enrolled
	// references; models trained on it keep it and calibrate for it.
	Rule   *ScoreRule `json:"rule,omitempty"`
	Splits []string   `json:"splits"` // e.g. train, val
	Tasks  []string   `json:"tasks"`  // evaluation tasks, e.g. lake20
	// Policy is the domain's recipe, data folder, validation task and
	// enrolment rules.
	Policy Policy `json:"policy"`
}

// HasTask reports whether the domain offers an evaluation task.
func (d Description) HasTask(task string) bool { return slices.Contains(d.Tasks, task) }

// PairRequest asks a domain for a stream of training batches.
type PairRequest struct {
	Split   string // one of Description.Splits
	Seed    uint64 // the stream is a pure function of Seed and step
	Start   int    // first step (for resuming a run)
	Items   int    // distinct items per batch
	Pairs   int    // pairs per batch (half positive, half negative)
	Augment bool   // random distortions
}

// Episode is one N-way K-shot trial set: Support holds K items of each of
// N classes (label = class number), Query holds items to identify.
type Episode struct {
	Support      []Item
	SupportLabel []int
	Query        []Item
	QueryLabel   []int
}

// Stream yields training batches in order. Next returns io.EOF only if the
// stream is finite.
type Stream interface {
	Next(ctx context.Context) (*Batch, error)
	Close() error
}

// Domain is a source of preprocessed items: training pairs, evaluation
// episodes and the decoding of a user's raw files. Built-in domains
// implement it in process; plugins implement it out of process.
type Domain interface {
	Describe() Description
	Pairs(ctx context.Context, req PairRequest) (Stream, error)
	// Episodes returns the evaluation episodes of a task.
	Episodes(ctx context.Context, task string) ([]Episode, error)
	// Decode turns a raw file (image bytes, text) into an item.
	Decode(raw []byte) (Item, error)
}

// DomainOptions configure a domain when it is opened.
type DomainOptions struct {
	DataDir string            // root of the domain's data (may be empty for built-in data)
	Input   []int             // override of the per-item input shape, if the domain allows
	Extra   map[string]string // domain-specific settings
	// Preprocess, when set, is the preprocessing of a given model (one
	// being fine-tuned or evaluated) that the domain prepares its data
	// for, where it differs from the domain's own; Assets are that model's.
	Preprocess *Preprocess
	Assets     []*Param
}

// DomainFactory opens a domain.
type DomainFactory func(opts DomainOptions) (Domain, error)

// Int reads option key of o.Extra as a non-negative integer (def when
// absent).
func (o DomainOptions) Int(key string, def int) (int, error) {
	v, ok := o.Extra[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("option %s=%q: want a non-negative integer", key, v)
	}
	return n, nil
}

// Float reads option key of o.Extra as a number (def when absent).
func (o DomainOptions) Float(key string, def float64) (float64, error) {
	v, ok := o.Extra[key]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("option %s=%q: want a number", key, v)
	}
	return f, nil
}

// List reads option key of o.Extra as comma-separated names, and whether
// it was given at all: "none" (or an empty value) is the empty list.
func (o DomainOptions) List(key string) ([]string, bool) {
	v, ok := o.Extra[key]
	if !ok {
		return nil, false
	}
	out := []string{}
	if strings.TrimSpace(v) == "none" {
		return out, true
	}
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out, true
}

// Calibrator is a Domain that scores pairs beyond its models' head (a
// questions model fuses the head's score with a lexical one): after
// training, its Calibrate fits that scoring (Model.Scoring) on the
// validation task's data and sets the model's threshold on the resulting
// score, at the equal-error rate or at false-accept rate far, in place of
// metrics.Calibrate.
type Calibrator interface {
	Calibrate(ctx context.Context, m *Model, task string, far float64) error
}

// Validator is a Domain that scores a model its own way while it trains
// (a tracking domain: the tracker's success on its validation videos):
// training validates and stops early on Validate in place of the
// validation task's accuracy.
type Validator interface {
	Validate(ctx context.Context, m *Model) (float64, error)
}

// PairScorer is a Domain whose models score pairs beyond their head (a
// Calibrator's): TaskScores scores the pairs of a task's episodes as the
// model does (its Scoring included), in order, with whether each pair is
// of one class. Evaluation uses it for a model that has a Scoring.
type PairScorer interface {
	TaskScores(ctx context.Context, m *Model, task string) (scores []float64, same []bool, err error)
}
