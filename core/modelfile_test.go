package core_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/internal/container"
	"github.com/siamesenet/siamese/internal/testmodel"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, head := range []string{"l1sigmoid", "contrastive"} {
		t.Run(head, func(t *testing.T) {
			m := testmodel.MLP(t, head)
			m.Threshold = 0.625
			m.Info.Steps = 42
			path := filepath.Join(t.TempDir(), "m.model")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := core.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Threshold != 0.625 || got.Info.Steps != 42 || got.Spec.Head != head || got.Preprocess.Kind != "vector" {
				t.Errorf("metadata not kept: %+v %+v", got.Threshold, got.Info)
			}
			for i, p := range m.Params() {
				q := got.Params()[i]
				for j := range p.Data {
					if p.Data[j] != q.Data[j] {
						t.Fatalf("%s[%d]: %v != %v", p.Name, j, p.Data[j], q.Data[j])
					}
				}
			}
			bt := coretest.RandomBatch(m.Tower, 2, 1, 9)
			s1, _ := m.Compare(context.Background(), bt.Items[0], bt.Items[1])
			s2, _ := got.Compare(context.Background(), bt.Items[0], bt.Items[1])
			if s1 != s2 {
				t.Errorf("score changed after reload: %v vs %v", s1, s2)
			}
		})
	}
}

func TestLoadBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.model")
	if err := testmodel.MLP(t, "l1sigmoid").Save(good); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	otherVersion := append([]byte(nil), raw...)
	binary.LittleEndian.PutUint32(otherVersion[8:], core.FormatVersion+1)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 0xff
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "truncated", raw[:len(raw)-100]},
		{"tiny", "truncated", raw[:12]},
		{"foreign", "not a siamese model file", []byte("PK\x03\x04 this is a zip, not a model")},
		{"empty", "not a siamese model file", nil},
		{"version", "format version", otherVersion},
		{"corrupt", "corrupt", flipped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".model")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := core.Load(p)
			if err == nil {
				t.Fatal("loaded a bad file")
			}
			msg := err.Error()
			if !strings.Contains(msg, p) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, p, tc.want)
			}
		})
	}
	_, err := core.Load(filepath.Join(dir, "missing.model"))
	if err == nil || !strings.Contains(err.Error(), "missing.model") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "seed.model")
	if err := testmodel.MLP(f, "contrastive").Save(good); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	f.Add(raw)
	f.Add(raw[:40])
	f.Add([]byte("SIAMESE\x00\x01\x00\x00\x00\xff\xff\xff\x7f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.model")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := core.Load(p)
		if err == nil && m == nil {
			t.Fatal("nil model without error")
		}
	})
}

// Tower and head configs are decoded strictly: a typo or a wrong type is
// an error that names the field, not a silently ignored setting.
func TestStrictConfigs(t *testing.T) {
	for _, tc := range []struct {
		spec core.Spec
		want string // "" builds
	}{
		{core.Spec{Tower: "mlp", TowerConfig: json.RawMessage(`{"input":6,"embed":4}`), Head: "contrastive"}, ""},
		{core.Spec{Tower: "mlp", TowerConfig: json.RawMessage(`{"input":6,"embd":4}`), Head: "contrastive"}, `mlp config: unknown field "embd"`},
		{core.Spec{Tower: "mlp", TowerConfig: json.RawMessage(`{"input":"six"}`), Head: "contrastive"}, `mlp config: field "input"`},
		{core.Spec{Tower: "mlp", TowerConfig: json.RawMessage(`{"input":6} {}`), Head: "contrastive"}, "data after"},
		{core.Spec{Tower: "mlp", TowerConfig: json.RawMessage(`{"input":6,"embed":4}`), Head: "contrastive", HeadConfig: json.RawMessage(`{"margn":2}`)}, `contrastive config: unknown field "margn"`},
		{core.Spec{Tower: "mlp", TowerConfig: json.RawMessage(`{"input":6,"embed":4}`), Head: "l1sigmoid", HeadConfig: json.RawMessage(`{"x":1}`)}, `l1sigmoid config: unknown field "x"`},
	} {
		_, err := core.New(tc.spec, core.Preprocess{}, 1)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %s / %s %s: %v, want %q", tc.spec.Tower, tc.spec.TowerConfig, tc.spec.Head, tc.spec.HeadConfig, err, tc.want)
		}
	}
}

// A crafted header with a valid checksum is checked against the file
// before anything is built: huge filters, a huge input, tensor tables that
// do not match the file, impossible shapes. Each is one error, and memory
// stays within what the file holds.
func TestLoadCraftedHeaders(t *testing.T) {
	m := testmodel.MLP(t, "contrastive")
	good := filepath.Join(t.TempDir(), "good.model")
	if err := m.Save(good); err != nil {
		t.Fatal(err)
	}
	f, err := container.Read(good, "SIAMESE\x00", core.FormatVersion)
	if err != nil {
		t.Fatal(err)
	}
	weights := make([]float32, f.Rest()/4)
	craft := func(edit func(h map[string]any)) string {
		var h map[string]any
		json.Unmarshal(f.Header, &h)
		edit(h)
		hdr, _ := json.Marshal(h)
		p := filepath.Join(t.TempDir(), "crafted.model")
		if err := container.Write(p, "SIAMESE\x00", core.FormatVersion, hdr, [][]float32{weights}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		edit func(h map[string]any)
		want string
	}{
		{"huge tower", func(h map[string]any) {
			h["spec"].(map[string]any)["tower_config"] = map[string]any{"input": 6, "hidden": []int{200000000}, "embed": 4}
		}, "more than the file holds"},
		{"impossible tower", func(h map[string]any) {
			h["spec"].(map[string]any)["tower_config"] = map[string]any{"input": 6, "hidden": []int{2000000000}, "embed": 4}
		}, "out of range"},
		{"huge input", func(h map[string]any) {
			h["spec"].(map[string]any)["tower_config"] = map[string]any{"input": 1000000, "hidden": []int{5}, "embed": 4}
		}, "more than the file holds"},
		{"table larger than the file", func(h map[string]any) {
			h["tensors"].([]any)[0].(map[string]any)["shape"] = []int{10000, 1000}
		}, "more weights than the file"},
		{"negative shape", func(h map[string]any) {
			h["tensors"].([]any)[0].(map[string]any)["shape"] = []int{-6, 5}
		}, "out of range"},
		{"overflowing shape", func(h map[string]any) {
			h["tensors"].([]any)[0].(map[string]any)["shape"] = []int{1 << 31, 1 << 31, 1 << 31}
		}, "out of range"},
		{"header input", func(h map[string]any) { h["input"].(map[string]any)["shape"] = []int{1, 100000, 100000} }, "input shape"},
	} {
		_, err := core.Load(craft(tc.edit))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line saying %q", tc.name, err, tc.want)
		}
	}
}

// FuzzLoadHeader fuzzes the header of a model file behind a valid
// checksum (FuzzLoad's random bytes rarely get past the CRC).
func FuzzLoadHeader(f *testing.F) {
	m := testmodel.MLP(f, "contrastive")
	good := filepath.Join(f.TempDir(), "good.model")
	if err := m.Save(good); err != nil {
		f.Fatal(err)
	}
	cf, err := container.Read(good, "SIAMESE\x00", core.FormatVersion)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cf.Header, cf.Rest()/4)
	f.Add([]byte(`{"spec":{"tower":"mlp","tower_config":{"input":6,"hidden":[2000000000],"embed":4},"head":"contrastive"}}`), 10)
	f.Add([]byte(`{"spec":{"tower":"mlp","tower_config":{"input":6,"embed":4},"head":"l1sigmoid"},"tensors":[{"name":"dense1.w","shape":[6,4]}]}`), 24)
	f.Fuzz(func(t *testing.T, hdr []byte, n int) {
		n = min(max(n, 0), 1<<16)
		p := filepath.Join(t.TempDir(), "f.model")
		if err := container.Write(p, "SIAMESE\x00", core.FormatVersion, hdr, [][]float32{make([]float32, n)}); err != nil {
			t.Fatal(err)
		}
		m, err := core.Load(p)
		if err == nil && core.CountParams(m.Params()) != n {
			t.Fatalf("loaded a model of %d weights from a file of %d", core.CountParams(m.Params()), n)
		}
	})
}

// Assets are saved with the model and come back on load, outside its
// params; a header naming an asset the file lacks is refused.
func TestModelAssets(t *testing.T) {
	m := testmodel.MLP(t, "contrastive")
	m.Assets = []*core.Param{{Name: "asset/detector.w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}}
	p := filepath.Join(t.TempDir(), "m.model")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := core.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Assets) != 1 || got.Assets[0].Name != "asset/detector.w" || got.Assets[0].Data[5] != 6 {
		t.Fatalf("assets after load: %+v", got.Assets)
	}
	if got.ID() != m.ID() {
		t.Error("the model's ID changed through save and load")
	}
	plain := testmodel.MLP(t, "contrastive")
	if plain.ID() == m.ID() {
		t.Error("assets do not change the model's ID")
	}
}
