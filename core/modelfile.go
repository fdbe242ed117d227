package core

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"time"

	"github.com/siamesenet/siamese/internal/atomicfile"
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
	maxHeader     = 64 << 20
)

// ErrNotModel is returned for a file that is not a siamese model file.
var ErrNotModel = errors.New("not a siamese model file (bad magic)")

type tensorEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type fileHeader struct {
	Spec       Spec          `json:"spec"`
	Preprocess Preprocess    `json:"preprocess"`
	Input      InputSpec     `json:"input"`
	Output     []int         `json:"output"`
	Threshold  float64       `json:"threshold"`
	Info       TrainInfo     `json:"info"`
	Tensors    []tensorEntry `json:"tensors"`
	Trainer    *TrainerState `json:"trainer,omitempty"`
}

// TrainerState is what a checkpoint adds to a model so that a resumed run
// continues the same run.
type TrainerState struct {
	Step      int         `json:"step"`
	Pairs     int64       `json:"pairs"`
	Seconds   float64     `json:"seconds"`
	Config    TrainConfig `json:"config"`
	BestScore float64     `json:"best_score"`
	BestStep  int         `json:"best_step"` // 0: no validation yet
	Bad       int         `json:"bad_validations"`
	OptStep   int         `json:"opt_step"`
	// Moments names the optimizer tensors stored after the weights.
	Moments []string `json:"moments,omitempty"`
}

// Save writes the model to path atomically.
func (m *Model) Save(path string) error { return m.save(path, nil, nil) }

func (m *Model) save(path string, st *TrainerState, extra []*Param) error {
	if m.Info.Created == "" {
		m.Info.Created = time.Now().UTC().Format(time.RFC3339)
	}
	h := fileHeader{Spec: m.Spec, Preprocess: m.Preprocess, Input: m.Tower.Input(), Output: m.Tower.Output(),
		Threshold: m.Threshold, Info: m.Info, Trainer: st}
	params := append(m.Params(), extra...)
	for _, p := range params {
		h.Tensors = append(h.Tensors, tensorEntry{p.Name, p.Shape})
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return atomicfile.Write(path, 0o644, func(bw *bufio.Writer) error {
		crc := crc32.NewIEEE()
		w := io.MultiWriter(bw, crc)
		var pre [16]byte
		copy(pre[:8], magic)
		binary.LittleEndian.PutUint32(pre[8:], FormatVersion)
		binary.LittleEndian.PutUint32(pre[12:], uint32(len(hdr)))
		if _, err := w.Write(pre[:]); err != nil {
			return err
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for _, p := range params {
			for _, v := range p.Data {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					if _, err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		var sum [4]byte
		binary.LittleEndian.PutUint32(sum[:], crc.Sum32())
		_, err := bw.Write(sum[:])
		return err
	})
}

// Load reads a model file. Any problem (missing, foreign, other version,
// truncated, corrupt, unknown tower) is one error naming the file.
func Load(path string) (*Model, error) {
	m, _, _, err := load(path)
	return m, err
}

func load(path string) (*Model, *TrainerState, map[string][]float32, error) {
	fail := func(err error) (*Model, *TrainerState, map[string][]float32, error) {
		return nil, nil, nil, fmt.Errorf("load model %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	if len(data) < 8 || string(data[:8]) != magic {
		return fail(ErrNotModel)
	}
	if len(data) < 20 {
		return fail(errors.New("file is truncated"))
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != FormatVersion {
		return fail(fmt.Errorf("format version %d, this build reads version %d", v, FormatVersion))
	}
	if got, want := binary.LittleEndian.Uint32(data[len(data)-4:]), crc32.ChecksumIEEE(data[:len(data)-4]); got != want {
		return fail(errors.New("checksum mismatch: the file is truncated or corrupt"))
	}
	n := binary.LittleEndian.Uint32(data[12:])
	if n > maxHeader || int(n) > len(data)-20 {
		return fail(errors.New("header length out of range: the file is truncated or corrupt"))
	}
	var h fileHeader
	dec := json.NewDecoder(bytes.NewReader(data[16 : 16+n]))
	if err := dec.Decode(&h); err != nil {
		return fail(fmt.Errorf("header: %w", err))
	}
	m, err := build(h.Spec, h.Preprocess, newRand(0))
	if err != nil {
		return fail(err)
	}
	m.Threshold, m.Info = h.Threshold, h.Info
	body := data[16+n : len(data)-4]
	byName := map[string]*Param{}
	for _, p := range m.Params() {
		byName[p.Name] = p
	}
	extra := map[string][]float32{}
	for _, e := range h.Tensors {
		size := Size(e.Shape)
		if size < 0 || len(body) < 4*size {
			return fail(fmt.Errorf("tensor %s: file is truncated", e.Name))
		}
		dst := byName[e.Name]
		var out []float32
		if dst != nil {
			if !equalShape(dst.Shape, e.Shape) {
				return fail(fmt.Errorf("tensor %s has shape %v, the model expects %v", e.Name, e.Shape, dst.Shape))
			}
			out = dst.Data
			delete(byName, e.Name)
		} else {
			out = make([]float32, size)
			extra[e.Name] = out
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
		}
		body = body[4*size:]
	}
	if len(body) != 0 {
		return fail(fmt.Errorf("%d unexpected bytes after the tensors", len(body)))
	}
	for name := range byName {
		return fail(fmt.Errorf("tensor %s is missing", name))
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
