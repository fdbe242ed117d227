package resnet_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/faceapitest"
	"github.com/siamesenet/siamese/internal/tfjs"
	"github.com/siamesenet/siamese/towers/resnet"
)

// The smallest input every down-sampling fits (103), at two to four
// channels a stage, so that the float64 gradient check runs in seconds.
// With so few channels some positions see only ReLU zeros; there a zero
// bias sits exactly on the kink, and its probes (logged) disagree with
// central differences by design: the suite allows 5% of probes off.
func TestConformance(t *testing.T) {
	for _, tc := range []coretest.TowerCase{
		{Name: "reduced", Tower: resnet.Name, Config: resnet.Config{Input: 103, Widths: []int{2, 2, 3, 3}, Embed: 4}},
		{Name: "frozen stem", Tower: resnet.Name, Config: resnet.Config{Input: 103, Widths: []int{2, 3, 3, 4}, Embed: 3, Freeze: 2}},
		{Name: "mirror", Tower: resnet.Name, Config: resnet.Config{Input: 103, Widths: []int{2, 3, 3, 4}, Embed: 3, Freeze: 2, Mirror: true}},
	} {
		t.Run(tc.Name, func(t *testing.T) { coretest.TestTower(t, tc, "contrastive") })
	}
}

func TestConfig(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tw, err := resnet.New(resnet.Config{}, rng)
	if err != nil {
		t.Fatal(err)
	}
	// face-api.js's network: 29 convolutions with biases (their scale
	// layers folded in) and the 256×128 matrix.
	if got := core.CountParams(tw.Params()); got != 5_607_488 {
		t.Errorf("the face-api.js network has %d parameters, want 5607488", got)
	}
	frozen, err := resnet.New(resnet.Config{Freeze: 4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range frozen.Params() {
		if p.Frozen {
			n++
		}
	}
	if n != 2+3*4 {
		t.Errorf("freeze 4 froze %d params, want the stem's 2 and 4 of each of 3 blocks", n)
	}
	for _, c := range []resnet.Config{
		{Input: 102},
		{Widths: []int{32, 64, 128}},
		{Widths: []int{32, 16, 128, 256}},
		{Freeze: resnet.Layers + 1},
		{Embed: -1},
	} {
		if _, err := resnet.New(c, rng); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
}

// formulaInput is the synthetic input, pixel values 0–255 before
// face-api.js's normalisation, HWC.
func formulaInput(f func(row, col, c int) int) []float32 {
	x := make([]float32, 150*150*3)
	for r := 0; r < 150; r++ {
		for c := 0; c < 150; c++ {
			for ch := 0; ch < 3; ch++ {
				x[(r*150+c)*3+ch] = float32(f(r, c, ch) % 256)
			}
		}
	}
	return x
}

var inputs = []func(row, col, c int) int{
	func(r, c, ch int) int { return c*3 + r*5 + ch*70 + (c*r)%17 },
	func(r, c, ch int) int {
		return 128 + int(100*math.Sin(float64(r)/9+float64(ch))*math.Cos(float64(c)/13))
	},
	func(r, c, ch int) int { return int(uint32(r*7919+c*104729+ch*1299709) * 2654435761 >> 24) },
}

// importTower builds the face-api.js tower from the package's weights.
func importTower(t *testing.T, tgz string) *core.Model {
	t.Helper()
	src, err := tfjs.Open(tgz, "face_recognition_model")
	if err != nil {
		t.Fatal(err)
	}
	w, err := tfjs.Load(src, "face_recognition_model")
	if err != nil {
		t.Fatal(err)
	}
	tc, _ := json.Marshal(resnet.FaceAPI)
	m, err := core.New(core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: "contrastive"}, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := resnet.LoadFaceAPI(m.Tower.(*resnet.Tower), w); err != nil {
		t.Fatal(err)
	}
	return m
}

// toCHW turns HWC pixel values 0–255 into the tower's input: CHW in [0,1].
func toCHW(x []float32) []float32 {
	out := make([]float32, len(x))
	for i := 0; i < 150*150; i++ {
		for c := 0; c < 3; c++ {
			out[c*150*150+i] = x[3*i+c] / 255
		}
	}
	return out
}

// The imported tower gives face-api.js's descriptors: the figures
// for the formula input, and, where Node.js is installed, the package's
// own code run on its TensorFlow.js CPU backend for every input, each
// element within 1e-4.
func TestFaceAPIImport(t *testing.T) {
	tgz := faceapitest.Tarball(t)
	m := importTower(t, tgz)
	defer m.Close()
	var raw []float32
	items := make([]core.Item, len(inputs))
	for i, f := range inputs {
		x := formulaInput(f)
		raw = append(raw, x...)
		items[i] = core.Item{Dense: toCHW(x)}
	}
	got, err := m.Embed(context.Background(), items, len(items))
	if err != nil {
		t.Fatal(err)
	}
	norm := 0.0
	for _, v := range got[0] {
		norm += float64(v) * float64(v)
	}
	for i, want := range []float64{-0.049277, 0.100773, 0.018157, -0.006277} {
		if math.Abs(float64(got[0][i])-want) > 2e-6 {
			t.Errorf("descriptor[%d] = %.6f, face-api.js gives %.6f", i, got[0][i], want)
		}
	}
	if math.Abs(math.Sqrt(norm)-1.307220) > 2e-6 {
		t.Errorf("descriptor norm %.6f, face-api.js gives 1.307220", math.Sqrt(norm))
	}

	in := faceapitest.WriteFloats(t, "inputs.f32", raw)
	out := filepath.Join(t.TempDir(), "ref.json")
	faceapitest.Node(t, filepath.Join("testdata", "reference.mjs"), in, out)
	var ref [][]float64
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref) != len(inputs) {
		t.Fatalf("reference has %d descriptors for %d inputs", len(ref), len(inputs))
	}
	for i := range ref {
		worst := 0.0
		for j, v := range ref[i] {
			worst = math.Max(worst, math.Abs(float64(got[i][j])-v))
		}
		t.Logf("input %d: largest difference from face-api.js %.2g", i, worst)
		if worst > 1e-4 {
			t.Errorf("input %d: descriptor differs from face-api.js by %g (limit 1e-4)", i, worst)
		}
	}
}

// A manifest naming a tensor of the wrong shape is refused by name.
func TestLoadWrongShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	tw, err := resnet.New(resnet.Config{}, rng)
	if err != nil {
		t.Fatal(err)
	}
	w := tfjs.Weights{"conv32_down/conv/filters": {Name: "conv32_down/conv/filters", Shape: []int{5, 5, 3, 32}, Data: make([]float32, 5*5*3*32)}}
	err = resnet.LoadFaceAPI(tw, w)
	if err == nil || err.Error() != `weight "conv32_down/conv/filters" has shape [5 5 3 32], want [7 7 3 32]` {
		t.Errorf("wrong shape: %v", err)
	}
	small, _ := resnet.New(resnet.Config{Widths: []int{16, 32, 64, 128}}, rng)
	if err := resnet.LoadFaceAPI(small, w); err == nil {
		t.Error("weights into a narrower tower: no error")
	}
}

// Every split gives the whole tower's descriptors (prefix, then suffix),
// the parts hold the whole's params between them, and a mirroring tower's
// descriptor is the mean of the image's and its mirror image's.
func TestSplitAndMirror(t *testing.T) {
	cfg := resnet.Config{Input: 103, Widths: []int{2, 3, 3, 4}, Embed: 5}
	tc, _ := json.Marshal(cfg)
	m, err := core.New(core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: "contrastive"}, core.Preprocess{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	items := make([]core.Item, 3)
	for i := range items {
		x := make([]float32, 3*103*103)
		for j := range x {
			x[j] = rng.Float32()
		}
		items[i] = core.Item{Dense: x}
	}
	ctx := context.Background()
	want, err := m.Embed(ctx, items, 3)
	if err != nil {
		t.Fatal(err)
	}
	whole := m.Tower.(*resnet.Tower)
	for n := 0; n <= resnet.Layers+1; n++ {
		pre, suf, err := whole.Split(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(pre.Params()) + len(suf.Params()); got != len(whole.Params()) {
			t.Errorf("split at %d: the parts hold %d params, the tower %d", n, got, len(whole.Params()))
		}
		mid := items
		if n > 0 {
			pm := &core.Model{Tower: pre, Head: m.Head}
			es, err := pm.Embed(ctx, items, 3)
			if err != nil {
				t.Fatalf("split at %d, prefix: %v", n, err)
			}
			mid = nil
			for _, e := range es {
				mid = append(mid, core.Item{Dense: e})
			}
		}
		got := mid
		if n <= resnet.Layers {
			sm := &core.Model{Tower: suf, Head: m.Head}
			es, err := sm.Embed(ctx, mid, 3)
			if err != nil {
				t.Fatalf("split at %d, suffix: %v", n, err)
			}
			got = nil
			for _, e := range es {
				got = append(got, core.Item{Dense: e})
			}
		}
		for i := range want {
			for j := range want[i] {
				if d := math.Abs(float64(got[i].Dense[j] - want[i][j])); d > 1e-5 {
					t.Fatalf("split at %d: descriptor %d[%d] %g, whole %g", n, i, j, got[i].Dense[j], want[i][j])
				}
			}
		}
	}
	if _, _, err := whole.Split(resnet.Layers + 2); err == nil {
		t.Error("split past the end: no error")
	}

	mirrored := make([]core.Item, len(items))
	for i, it := range items {
		x := make([]float32, len(it.Dense))
		for r := 0; r < 3*103; r++ {
			for c := 0; c < 103; c++ {
				x[r*103+c] = it.Dense[r*103+102-c]
			}
		}
		mirrored[i] = core.Item{Dense: x}
	}
	flipped, err := m.Embed(ctx, mirrored, 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mirror = true
	tc, _ = json.Marshal(cfg)
	mm, err := core.New(core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: "contrastive"}, core.Preprocess{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mm.Embed(ctx, items, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		for j := range got[i] {
			if w := (want[i][j] + flipped[i][j]) / 2; math.Abs(float64(got[i][j]-w)) > 1e-5 {
				t.Fatalf("mirrored descriptor %d[%d] %g, want the mean %g", i, j, got[i][j], w)
			}
		}
	}
}
