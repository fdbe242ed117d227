package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/siamesenet/siamese/internal/container"
)

// The model file is one self-describing file:
//
//	magic      8 bytes  "SIAMESE\x00"
//	version    uint32   FormatVersion (little endian)
//	headerLen  uint32
//	header     JSON     fileHeader: spec, preprocessing, threshold, training
//	                    metadata, and the name, shape and offset of every tensor
//	tensors    float32  little endian, in header order
//	crc        uint32   CRC-32 (IEEE) of everything before it
//
// A checkpoint is a model file whose header also carries the trainer state
// and whose tensors also hold the optimizer's moments.
const (
	FormatVersion = 1
	magic         = "SIAMESE\x00"
)

// ErrNotModel is returned for a file that is not a siamese model file.
var ErrNotModel = errors.New("not a siamese model file (bad magic)")

type tensorEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type fileHeader struct {
	Spec       Spec            `json:"spec"`
	Preprocess Preprocess      `json:"preprocess"`
	Input      InputSpec       `json:"input"`
	Output     []int           `json:"output"`
	Threshold  float64         `json:"threshold"`
	Rule       *ScoreRule      `json:"rule,omitempty"`
	Scoring    json.RawMessage `json:"scoring,omitempty"`
	Info       TrainInfo       `json:"info"`
	Tensors    []tensorEntry   `json:"tensors"`
	Assets     []string        `json:"assets,omitempty"` // names of Tensors that are the model's assets
	Trainer    json.RawMessage `json:"trainer,omitempty"`
}

// Save writes the model to path atomically.
func (m *Model) Save(path string) error { return m.SaveCheckpoint(path, nil, nil) }

// SaveCheckpoint writes the model with a trainer's state (its own JSON,
// which the file keeps as it is) and extra tensors (the optimizer's) after
// the weights, atomically.
func (m *Model) SaveCheckpoint(path string, state json.RawMessage, extra []*Param) error {
	if m.Info.Created == "" {
		m.Info.Created = time.Now().UTC().Format(time.RFC3339)
	}
	h := fileHeader{Spec: m.Spec, Preprocess: m.Preprocess, Input: m.Tower.Input(), Output: m.Tower.Output(),
		Threshold: m.Threshold, Rule: m.Rule, Scoring: m.Scoring, Info: m.Info, Trainer: state}
	params := append(append(m.Params(), extra...), m.Assets...)
	for _, p := range params {
		h.Tensors = append(h.Tensors, tensorEntry{p.Name, p.Shape})
	}
	for _, a := range m.Assets {
		h.Assets = append(h.Assets, a.Name)
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	data := make([][]float32, len(params))
	for i, p := range params {
		data[i] = p.Data
	}
	return container.Write(path, magic, FormatVersion, hdr, data)
}

// Load reads a model file. Any problem (missing, foreign, other version,
// truncated, corrupt, unknown tower) is one error naming the file.
func Load(path string) (*Model, error) {
	m, _, _, err := LoadCheckpoint(path)
	return m, err
}

// LoadCheckpoint reads a model file with what SaveCheckpoint added: the
// trainer's state (nil for a plain model file) and the extra tensors by
// name.
func LoadCheckpoint(path string) (*Model, json.RawMessage, map[string][]float32, error) {
	fail := func(err error) (*Model, json.RawMessage, map[string][]float32, error) {
		return nil, nil, nil, fmt.Errorf("load model %s: %w", path, err)
	}
	f, err := container.Read(path, magic, FormatVersion)
	if errors.Is(err, container.ErrForeign) {
		err = ErrNotModel
	}
	if err != nil {
		return fail(err)
	}
	var h fileHeader
	if err := json.Unmarshal(f.Header, &h); err != nil {
		return fail(fmt.Errorf("header: %w", err))
	}
	// The header is checked against the file before anything is built: a
	// crafted header (with a valid checksum) cannot make this allocate
	// more than the file holds.
	total := 0
	for _, e := range h.Tensors {
		n, ok := checkedSize(e.Shape)
		if !ok {
			return fail(fmt.Errorf("tensor %s has shape %v, out of range", e.Name, e.Shape))
		}
		if total += n; total > f.Rest()/4 {
			return fail(fmt.Errorf("the tensor table declares more weights than the file's %d bytes hold", f.Rest()))
		}
	}
	if total*4 != f.Rest() {
		return fail(fmt.Errorf("the tensor table declares %d weights, the file holds %d bytes of them", total, f.Rest()))
	}
	if n, ok := checkedSize(h.Input.Shape); len(h.Input.Shape) > 0 && (!ok || n > 1<<26) {
		return fail(fmt.Errorf("input shape %v is out of range", h.Input.Shape))
	}
	m, err := build(h.Spec, h.Preprocess, rand.New(rand.NewPCG(0, 0x5ea4e5e)), total)
	if err != nil {
		return fail(err)
	}
	if !equalShape(m.Tower.Input().Shape, h.Input.Shape) && len(h.Input.Shape) > 0 {
		return fail(fmt.Errorf("the tower takes inputs of shape %v, the header says %v", m.Tower.Input().Shape, h.Input.Shape))
	}
	m.Threshold, m.Info, m.Rule, m.Scoring = h.Threshold, h.Info, h.Rule, h.Scoring
	byName := map[string]*Param{}
	for _, p := range m.Params() {
		byName[p.Name] = p
	}
	extra := map[string][]float32{}
	assets := map[string]bool{}
	for _, a := range h.Assets {
		assets[a] = true
	}
	for _, e := range h.Tensors {
		size := Size(e.Shape)
		var dst []float32
		if p := byName[e.Name]; p != nil {
			if !equalShape(p.Shape, e.Shape) {
				return fail(fmt.Errorf("tensor %s has shape %v, the model expects %v", e.Name, e.Shape, p.Shape))
			}
			dst = p.Data
			delete(byName, e.Name)
		}
		out, err := f.Next(size, dst)
		if err != nil {
			return fail(fmt.Errorf("tensor %s: %w", e.Name, err))
		}
		switch {
		case dst == nil && assets[e.Name]:
			m.Assets = append(m.Assets, &Param{Name: e.Name, Shape: append([]int(nil), e.Shape...), Data: out, Frozen: true})
			delete(assets, e.Name)
		case dst == nil:
			extra[e.Name] = out
		}
	}
	if f.Rest() != 0 {
		return fail(fmt.Errorf("%d unexpected bytes after the tensors", f.Rest()))
	}
	for name := range byName {
		return fail(fmt.Errorf("tensor %s is missing", name))
	}
	for name := range assets {
		return fail(fmt.Errorf("asset %s is not among the tensors", name))
	}
	return m, h.Trainer, extra, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
