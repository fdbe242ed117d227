// Package tfjs reads TensorFlow.js weight files: a JSON manifest naming
// each tensor's shape, type and quantization, and the binary shards that
// hold their values back to back. Weights come from a folder or straight
// from an npm package tarball (`npm pack`), so a published model needs no
// npm after it is fetched.
//
// Written here rather than taken from a library: no Go module reads this
// format, and it is small (the layout is the one tf.io.decodeWeights reads).
package tfjs

import (
	"archive/tar"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Tensor is one decoded weight, float32 whatever its stored type.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Weights are a model's tensors by name.
type Weights map[string]Tensor

// Limits bound what a manifest may make the reader allocate.
const (
	MaxManifestBytes = 4 << 20   // a manifest file
	MaxWeightBytes   = 512 << 20 // all shards together
)

// entry is one weight of a manifest group.
type entry struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype string  `json:"dtype"`
		Scale float64 `json:"scale"`
		Min   float64 `json:"min"`
	} `json:"quantization"`
}

type group struct {
	Paths   []string `json:"paths"`
	Weights []entry  `json:"weights"`
}

// Source finds a manifest and its shards by file name.
type Source interface {
	// Open returns the named file (a name relative to the model folder).
	Open(name string) (io.ReadCloser, error)
	// Where says where name is, for errors.
	Where(name string) string
}

// Load reads the model named model ("face_recognition_model": its
// manifest is model + "-weights_manifest.json") from src.
func Load(src Source, model string) (Weights, error) {
	manifest := model + "-weights_manifest.json"
	raw, err := readAll(src, manifest, MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	var groups []group
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("%s: not a weights manifest: %w", src.Where(manifest), err)
	}
	out := Weights{}
	total := int64(0)
	for gi, g := range groups {
		need := int64(0)
		for _, e := range g.Weights {
			n, err := e.bytes()
			if err != nil {
				return nil, fmt.Errorf("%s: weight %q: %w", src.Where(manifest), e.Name, err)
			}
			need += n
			if total += n; total > MaxWeightBytes {
				return nil, fmt.Errorf("%s: weights exceed %d MiB", src.Where(manifest), MaxWeightBytes>>20)
			}
		}
		if len(g.Paths) == 0 && need > 0 {
			return nil, fmt.Errorf("%s: group %d lists weights but no shard files", src.Where(manifest), gi)
		}
		buf := make([]byte, 0, need)
		for _, p := range g.Paths {
			if p != path.Clean(p) || path.IsAbs(p) || strings.HasPrefix(p, "..") {
				return nil, fmt.Errorf("%s: shard path %q leaves the model folder", src.Where(manifest), p)
			}
			b, err := readAll(src, p, need-int64(len(buf))+1)
			if err != nil {
				return nil, err
			}
			buf = append(buf, b...)
		}
		if int64(len(buf)) != need {
			return nil, fmt.Errorf("%s: shards hold %d bytes, the manifest describes %d (a shard is missing, short or too long)",
				src.Where(strings.Join(g.Paths, ", ")), len(buf), need)
		}
		for _, e := range g.Weights {
			n, _ := e.bytes()
			t, err := e.decode(buf[:n])
			if err != nil {
				return nil, fmt.Errorf("%s: weight %q: %w", src.Where(manifest), e.Name, err)
			}
			if _, dup := out[e.Name]; dup {
				return nil, fmt.Errorf("%s: weight %q appears twice", src.Where(manifest), e.Name)
			}
			out[e.Name] = t
			buf = buf[n:]
		}
	}
	return out, nil
}

// elements checks a shape (positive sides, bounded product).
func elements(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 1 || d > MaxWeightBytes {
			return 0, fmt.Errorf("shape %v has a side out of range", shape)
		}
		if n *= int64(d); n > MaxWeightBytes {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
	}
	return n, nil
}

func (e entry) storedAs() string {
	if e.Quantization != nil {
		return e.Quantization.Dtype
	}
	return e.Dtype
}

// bytes is the size of the weight in its shard.
func (e entry) bytes() (int64, error) {
	n, err := elements(e.Shape)
	if err != nil {
		return 0, err
	}
	if e.Dtype != "float32" && e.Dtype != "int32" {
		return 0, fmt.Errorf("dtype %q is not supported (want float32 or int32)", e.Dtype)
	}
	switch e.storedAs() {
	case "float32", "int32":
		return 4 * n, nil
	case "uint16":
		return 2 * n, nil
	case "uint8":
		return n, nil
	}
	return 0, fmt.Errorf("quantization %q is not supported (want uint8 or uint16)", e.storedAs())
}

// decode turns the weight's bytes into float32s: value = q·scale + min for
// quantized weights (rounded for int32 ones), as tf.io.decodeWeights does.
func (e entry) decode(b []byte) (Tensor, error) {
	n, _ := elements(e.Shape)
	t := Tensor{Name: e.Name, Shape: append([]int(nil), e.Shape...), Data: make([]float32, n)}
	switch e.storedAs() {
	case "float32":
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "int32":
		for i := range t.Data {
			t.Data[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case "uint16", "uint8":
		q := e.Quantization
		if math.IsNaN(q.Scale) || math.IsInf(q.Scale, 0) || math.IsNaN(q.Min) || math.IsInf(q.Min, 0) {
			return t, errors.New("quantization scale and min must be finite")
		}
		for i := range t.Data {
			v := float64(b[i])
			if q.Dtype == "uint16" {
				v = float64(binary.LittleEndian.Uint16(b[2*i:]))
			}
			if v = v*q.Scale + q.Min; e.Dtype == "int32" {
				v = math.Floor(v + 0.5) // JavaScript's Math.round
			}
			t.Data[i] = float32(v)
		}
	}
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return t, fmt.Errorf("element %d is not finite", i)
		}
	}
	return t, nil
}

// readAll reads one file of src, refusing one longer than limit bytes.
func readAll(src Source, name string, limit int64) ([]byte, error) {
	f, err := src.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(name), err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(name), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: longer than the manifest describes", src.Where(name))
	}
	return b, nil
}

// Get returns the named tensor, checking its shape.
func (w Weights) Get(name string, shape ...int) (Tensor, error) {
	t, ok := w[name]
	if !ok {
		return t, fmt.Errorf("weight %q is missing", name)
	}
	if len(t.Shape) != len(shape) {
		return t, fmt.Errorf("weight %q has shape %v, want %v", name, t.Shape, shape)
	}
	for i := range shape {
		if t.Shape[i] != shape[i] {
			return t, fmt.Errorf("weight %q has shape %v, want %v", name, t.Shape, shape)
		}
	}
	return t, nil
}

// Dir is a model folder on disk.
type Dir string

// Open implements Source.
func (d Dir) Open(name string) (io.ReadCloser, error) { return os.Open(filepath.Join(string(d), name)) }

// Where implements Source.
func (d Dir) Where(name string) string { return filepath.Join(string(d), name) }

// Files is a model folder held in memory (a tarball's, or a test's).
type Files struct {
	Name  string // where the files came from, for errors
	Files map[string][]byte
}

// Open implements Source.
func (f Files) Open(name string) (io.ReadCloser, error) {
	b, ok := f.Files[name]
	if !ok {
		return nil, fmt.Errorf("no such file: %w", os.ErrNotExist)
	}
	return io.NopCloser(strings.NewReader(string(b))), nil
}

// Where implements Source.
func (f Files) Where(name string) string { return f.Name + ":" + name }

// Open finds model files at p: a folder holding the manifest (or its
// model/ subfolder, as an unpacked npm package has), or an npm package
// tarball (.tgz), whose package/model/ files are read into memory up to
// MaxWeightBytes.
func Open(p, model string) (Source, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	manifest := model + "-weights_manifest.json"
	if fi.IsDir() {
		for _, d := range []string{p, filepath.Join(p, "model"), filepath.Join(p, "package", "model")} {
			if _, err := os.Stat(filepath.Join(d, manifest)); err == nil {
				return Dir(d), nil
			}
		}
		return nil, fmt.Errorf("%s: no %s in it (nor in model/)", p, manifest)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	files, err := untar(f, p)
	if err != nil {
		return nil, err
	}
	if _, ok := files.Files[manifest]; !ok {
		return nil, fmt.Errorf("%s: no package/model/%s in the tarball", p, manifest)
	}
	return files, nil
}

// untar reads the package/model/ files of a gzipped npm tarball.
func untar(r io.Reader, name string) (Files, error) {
	out := Files{Name: name, Files: map[string][]byte{}}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return out, fmt.Errorf("%s: not a gzipped tarball: %w", name, err)
	}
	tr := tar.NewReader(gz)
	total := int64(0)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		rel, ok := strings.CutPrefix(path.Clean(h.Name), "package/model/")
		if !ok || h.Typeflag != tar.TypeReg || strings.Contains(rel, "/") {
			continue
		}
		if total += h.Size; h.Size < 0 || total > MaxWeightBytes {
			return out, fmt.Errorf("%s: model files exceed %d MiB", name, MaxWeightBytes>>20)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return out, fmt.Errorf("%s: %s: %w", name, h.Name, err)
		}
		out.Files[rel] = b
	}
}
