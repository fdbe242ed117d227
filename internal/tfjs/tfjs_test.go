package tfjs_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/internal/tfjs"
)

const manifest = `[{"paths":["m.bin"],"weights":[
 {"name":"a","shape":[2,2],"dtype":"float32"},
 {"name":"q8","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1}},
 {"name":"q16","shape":[2],"dtype":"float32","quantization":{"dtype":"uint16","scale":0.25,"min":2}},
 {"name":"i","shape":[2],"dtype":"int32"},
 {"name":"qi","shape":[],"dtype":"int32","quantization":{"dtype":"uint8","scale":0.3,"min":3072}}]}]`

func shard() []byte {
	var b bytes.Buffer
	for _, v := range []float32{1, -2, 3.5, 0} {
		binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
	}
	b.Write([]byte{0, 2, 255})
	binary.Write(&b, binary.LittleEndian, uint16(4))
	binary.Write(&b, binary.LittleEndian, uint16(1000))
	binary.Write(&b, binary.LittleEndian, int32(-7))
	binary.Write(&b, binary.LittleEndian, int32(70000))
	b.Write([]byte{5}) // 5·0.3 + 3072 = 3073.5, rounded
	return b.Bytes()
}

func files(m string, bin []byte) tfjs.Files {
	f := tfjs.Files{Name: "test", Files: map[string][]byte{"m-weights_manifest.json": []byte(m)}}
	if bin != nil {
		f.Files["m.bin"] = bin
	}
	return f
}

func TestLoad(t *testing.T) {
	w, err := tfjs.Load(files(manifest, shard()), "m")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"a": {1, -2, 3.5, 0}, "q8": {-1, 0, 126.5}, "q16": {3, 252}, "i": {-7, 70000}, "qi": {3074}}
	for name, vals := range want {
		got := w[name].Data
		if len(got) != len(vals) {
			t.Fatalf("%s: %v, want %v", name, got, vals)
		}
		for i := range vals {
			if got[i] != vals[i] {
				t.Errorf("%s: %v, want %v", name, got, vals)
				break
			}
		}
	}
	if _, err := w.Get("a", 4); err == nil || !strings.Contains(err.Error(), "has shape [2 2], want [4]") {
		t.Errorf("wrong shape: %v", err)
	}
	if _, err := w.Get("nope", 1); err == nil || !strings.Contains(err.Error(), `"nope" is missing`) {
		t.Errorf("missing weight: %v", err)
	}
}

// Every broken manifest or shard is one error that says what and where.
func TestLoadErrors(t *testing.T) {
	good := shard()
	for _, tc := range []struct {
		name     string
		manifest string
		bin      []byte
		want     string
	}{
		{"missing shard", manifest, nil, "test:m.bin: no such file"},
		{"short shard", manifest, good[:len(good)-1], "shards hold 31 bytes, the manifest describes 32"},
		{"long shard", manifest, append(append([]byte(nil), good...), 0, 0), "longer than the manifest describes"},
		{"not JSON", `{`, good, "not a weights manifest"},
		{"negative side", strings.Replace(manifest, "[2,2]", "[2,-2]", 1), good, "has a side out of range"},
		{"huge shape", strings.Replace(manifest, "[2,2]", "[65536,65536]", 1), good, "too large"},
		{"int dtype", strings.Replace(manifest, `"shape":[2,2],"dtype":"float32"`, `"shape":[2,2],"dtype":"bool"`, 1), good, `dtype "bool" is not supported`},
		{"float16", strings.Replace(manifest, `"dtype":"uint16"`, `"dtype":"float16"`, 1), good, `quantization "float16" is not supported`},
		{"escaping path", strings.Replace(manifest, `"m.bin"`, `"../m.bin"`, 1), good, "leaves the model folder"},
		{"duplicate", strings.Replace(manifest, `"name":"q16"`, `"name":"a"`, 1), good, `weight "a" appears twice`},
		{"no paths", strings.Replace(manifest, `["m.bin"]`, `[]`, 1), good, "lists weights but no shard files"},
		{"nan value", manifest, append(append([]byte(nil), good[:4]...), append([]byte{0, 0, 0xc0, 0x7f}, good[8:]...)...), "element 1 is not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tfjs.Load(files(tc.manifest, tc.bin), "m")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "m-weights_manifest.json"), []byte(manifest), 0o644)
	os.WriteFile(filepath.Join(model, "m.bin"), shard(), 0o644)
	src, err := tfjs.Open(dir, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tfjs.Load(src, "m"); err != nil {
		t.Fatal(err)
	}

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for name, b := range map[string][]byte{"package/model/m-weights_manifest.json": []byte(manifest), "package/model/m.bin": shard(), "package/README.md": []byte("x")} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	p := filepath.Join(dir, "pkg.tgz")
	os.WriteFile(p, tgz.Bytes(), 0o644)
	src, err = tfjs.Open(p, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tfjs.Load(src, "m"); err != nil {
		t.Fatal(err)
	}
	if _, err := tfjs.Open(p, "other"); err == nil || !strings.Contains(err.Error(), "no package/model/other-weights_manifest.json") {
		t.Errorf("model missing from the tarball: %v", err)
	}
	os.WriteFile(p, tgz.Bytes()[:40], 0o644)
	if _, err := tfjs.Open(p, "m"); err == nil {
		t.Error("truncated tarball: no error")
	}
	if _, err := tfjs.Open(filepath.Join(dir, "none"), "m"); err == nil {
		t.Error("missing path: no error")
	}
	if _, err := tfjs.Open(t.TempDir(), "m"); err == nil || !strings.Contains(err.Error(), "no m-weights_manifest.json") {
		t.Errorf("folder without the manifest: %v", err)
	}
}

// FuzzLoad: any manifest and shard give weights or an error, never a
// panic or an allocation beyond the limits.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(manifest), shard())
	f.Add([]byte(`[{"paths":["m.bin"],"weights":[{"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","scale":1e308,"min":1e308}}]}]`), []byte{255})
	f.Fuzz(func(t *testing.T, m, bin []byte) {
		w, err := tfjs.Load(files(string(m), bin), "m")
		if err != nil {
			return
		}
		for _, x := range w {
			n := 1
			for _, d := range x.Shape {
				n *= d
			}
			if n != len(x.Data) {
				t.Fatalf("%s: shape %v with %d values", x.Name, x.Shape, len(x.Data))
			}
		}
	})
}
