package core

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Item is one preprocessed input: a dense tensor (images, vectors) or a bag
// of feature indices (hashed text).
type Item struct {
	Dense []float32
	Bag   []int32
}

// Preprocess records how raw inputs become items for this model, so a model
// file alone is enough to embed new data.
type Preprocess struct {
	// Kind names the registered decoder of the model's inputs: "image",
	// "text", or a domain's own ("ink" for signatures).
	Kind     string  `json:"kind"`
	Width    int     `json:"width,omitempty"`    // image width in pixels
	Height   int     `json:"height,omitempty"`   // image height in pixels
	Channels int     `json:"channels,omitempty"` // 1 gray, 3 RGB
	Invert   bool    `json:"invert,omitempty"`   // dark ink on light paper becomes bright
	Mean     float32 `json:"mean"`               // subtracted after scaling to [0,1]
	Std      float32 `json:"std"`                // divided by after Mean; 0 means 1
	// Extra holds domain-specific settings (for example a hashing size).
	Extra map[string]string `json:"extra,omitempty"`
}

// Spec names a tower and a head with their configs.
type Spec struct {
	Tower       string          `json:"tower"`
	TowerConfig json.RawMessage `json:"tower_config,omitempty"`
	Head        string          `json:"head"`
	HeadConfig  json.RawMessage `json:"head_config,omitempty"`
}

// TrainInfo is the training metadata kept in a model file.
type TrainInfo struct {
	Domain string `json:"domain,omitempty"`
	// DomainOptions are the domain's options the model was trained with
	// (its split, for one), so that evaluation sees the same held-out set.
	DomainOptions map[string]string  `json:"domain_options,omitempty"`
	Seed          uint64             `json:"seed"`
	Steps         int                `json:"steps"`
	Pairs         int64              `json:"pairs"`
	Seconds       float64            `json:"seconds"`
	Optimizer     string             `json:"optimizer,omitempty"`
	LastLoss      float64            `json:"last_loss"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	Created       string             `json:"created,omitempty"`
	// Calibration says where Threshold came from; nil: never calibrated
	// (DefaultThreshold).
	Calibration *Calibration `json:"calibration,omitempty"`
}

// Calibration records how a model's threshold was chosen.
type Calibration struct {
	Task  string  `json:"task"`          // the validation task whose pairs set it
	Pairs int     `json:"pairs"`         // how many pairs it scored
	At    string  `json:"at"`            // "eer", or "far" at FAR
	FAR   float64 `json:"far,omitempty"` // the target false-accept rate
}

// Model is a tower, a head, the preprocessing of its inputs and a calibrated
// decision threshold on the head's score.
type Model struct {
	Spec       Spec
	Tower      Tower
	Head       Head
	Preprocess Preprocess
	// Threshold is the score at or above which two items are called the same.
	Threshold float64
	// Rule, if set, is how a probe is scored against enrolled references
	// (and Threshold applies to that score): for example the mean over a
	// writer's signatures, normalised by their scores among themselves.
	Rule *ScoreRule
	// Scoring, if set, is how the model's domain combines the head's score
	// with what it knows beyond the embeddings (a questions model's fusion
	// with a lexical score, and the corpus statistics it needs; a tracking
	// model's tracker settings, tuned on validation videos); core keeps it
	// and never reads it.
	Scoring json.RawMessage
	Info    TrainInfo
	// Assets are tensors saved with the model that are not trained: what
	// its input decoder needs beyond the preprocessing (a face detector's
	// weights, say). Their names must not clash with the params'.
	Assets []*Param

	mu     sync.Mutex
	embeds map[int]*Net
}

// DefaultThreshold is the threshold of an uncalibrated model.
const DefaultThreshold = 0.5

// New builds a model with freshly initialised weights from seed.
func New(spec Spec, pre Preprocess, seed uint64) (*Model, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5ea4e5e))
	return build(spec, pre, rng, -1)
}

// build makes the model of a spec. maxWeights ≥ 0 bounds the weights its
// params may hold (a file's tensor table): a tower or head that asks for
// more, or for an impossible shape, is an error before it is allocated.
func build(spec Spec, pre Preprocess, rng *rand.Rand, maxWeights int) (m *Model, err error) {
	buildMu.Lock()
	paramBudget = budget{on: maxWeights >= 0, left: maxWeights}
	defer func() {
		paramBudget = budget{}
		buildMu.Unlock()
		if r := recover(); r != nil {
			tl, ok := r.(errTooLarge)
			if !ok {
				panic(r)
			}
			m, err = nil, fmt.Errorf("tower %s / head %s: %w", spec.Tower, spec.Head, tl)
		}
	}()
	t, err := NewTower(spec.Tower, spec.TowerConfig, rng)
	if err != nil {
		return nil, fmt.Errorf("tower %s: %w", spec.Tower, err)
	}
	h, err := NewHead(spec.Head, spec.HeadConfig, t.Output(), rng)
	if err != nil {
		return nil, fmt.Errorf("head %s: %w", spec.Head, err)
	}
	m = &Model{Spec: spec, Tower: t, Head: h, Preprocess: pre, Threshold: DefaultThreshold}
	if err := checkUniqueNames(m.Params()); err != nil {
		return nil, err
	}
	return m, nil
}

// Params lists the tower's then the head's learnables.
func (m *Model) Params() []*Param {
	return append(append([]*Param(nil), m.Tower.Params()...), m.Head.Params()...)
}

// EmbeddingSize is the number of floats in one embedding.
func (m *Model) EmbeddingSize() int { return Size(m.Tower.Output()) }

// Embed runs items through the tower in batches of batchSize (64 if 0) and
// returns one embedding per item. Each item is embedded exactly once.
func (m *Model) Embed(ctx context.Context, items []Item, batchSize int) ([][]float32, error) {
	if batchSize <= 0 {
		batchSize = 64
	}
	if len(items) < batchSize {
		batchSize = len(items)
	}
	if batchSize == 0 {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.embeds == nil {
		m.embeds = map[int]*Net{}
	}
	net := m.embeds[batchSize]
	if net == nil {
		var err error
		if net, err = newEmbedNet(m, batchSize); err != nil {
			return nil, err
		}
		m.embeds[batchSize] = net
	}
	d := m.EmbeddingSize()
	out := make([][]float32, len(items))
	flat := make([]float32, len(items)*d)
	for lo := 0; lo < len(items); lo += batchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+batchSize, len(items))
		e, err := net.embed(items[lo:hi])
		if err != nil {
			return nil, err
		}
		for i := lo; i < hi; i++ {
			out[i] = flat[i*d : (i+1)*d : (i+1)*d]
			copy(out[i], e[(i-lo)*d:(i-lo+1)*d])
		}
	}
	return out, nil
}

// Compare embeds two items and returns the head's score.
func (m *Model) Compare(ctx context.Context, a, b Item) (float32, error) {
	e, err := m.Embed(ctx, []Item{a, b}, 2)
	if err != nil {
		return 0, err
	}
	return m.Head.Score(e[0], e[1]), nil
}

// Same reports whether a score is at or above the model's threshold.
func (m *Model) Same(score float32) bool { return float64(score) >= m.Threshold }

// Close releases the cached inference graphs.
func (m *Model) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.embeds {
		n.Close()
	}
	m.embeds = nil
}

// ID is a fingerprint of the model: its spec and weights. A gallery
// records the ID of the model that made its embeddings.
func (m *Model) ID() string {
	h := sha256.New()
	spec, _ := json.Marshal(m.Spec)
	h.Write(spec)
	buf := make([]byte, 0, 1<<16)
	for _, p := range append(m.Params(), m.Assets...) { // assets (a detector) change embeddings too
		for _, v := range p.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
