// Package resnet is the face-recognition ResNet of dlib (King 2017) as
// face-api.js defines it: a 7×7 stride-2 convolution and a 3×3 stride-2
// max-pool, then residual blocks at 32, 64, 128 and 256 channels (the
// first block of each later stage, and one more at the end, down-sample
// with a stride-2 convolution and an average-pooled shortcut), a global
// mean and a 256×128 matrix without bias. The 128-float descriptor is not
// normalised; dlib compares descriptors by Euclidean distance.
//
// LoadFaceAPI fills the tower from the published weights (npm package
// @vladmandic/face-api, model face_recognition_model), so the imported
// tower embeds exactly as face-api.js does; the same tower trains from
// scratch or fine-tunes with any head. Config.Mirror averages each
// descriptor with the mirror image's; Split cuts the tower into a frozen
// prefix, run once per image, and the suffix that trains.
//
// It registers itself as "resnet"; import it for its side effect.
package resnet

import (
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/nn"
	"github.com/siamesenet/siamese/internal/tfjs"
	G "gorgonia.org/gorgonia"
)

// Name is the registered name of this tower.
const Name = "resnet"

// Config describes the tower. Zero fields take face-api.js's values.
type Config struct {
	Input  int   `json:"input,omitempty"`  // side of the square RGB input (150)
	Widths []int `json:"widths,omitempty"` // channels of the four stages (32, 64, 128, 256)
	Embed  int   `json:"embed,omitempty"`  // descriptor size (128)
	// Freeze is how many leading layers (of Layers) keep their weights
	// while the rest train: the stem is layer 1, each residual block one more.
	Freeze int `json:"freeze,omitempty"`
	// Mirror makes the descriptor the mean of the image's and its mirror
	// image's (flip averaging; twice the work). The parts from Split do not
	// mirror: their caller runs both views.
	Mirror bool `json:"mirror,omitempty"`
}

// FaceAPI is the configuration of the published network.
var FaceAPI = Config{Input: 150, Widths: []int{32, 64, 128, 256}, Embed: 128}

// block is one residual block of the stage plan.
type block struct {
	name  string
	stage int
	down  bool
}

// plan is the sequence of residual blocks after the stem, by face-api.js's
// names for a 32-64-128-256 net.
var plan = []block{
	{"conv32_1", 0, false}, {"conv32_2", 0, false}, {"conv32_3", 0, false},
	{"conv64_down", 1, true}, {"conv64_1", 1, false}, {"conv64_2", 1, false}, {"conv64_3", 1, false},
	{"conv128_down", 2, true}, {"conv128_1", 2, false}, {"conv128_2", 2, false},
	{"conv256_down", 3, true}, {"conv256_1", 3, false}, {"conv256_2", 3, false},
	{"conv256_down_out", 3, true},
}

// Layers is the number of layers Freeze counts: the stem and every block.
var Layers = 1 + len(plan)

// Resolve fills zero fields from FaceAPI and checks that the input is
// large enough for every down-sampling.
func (c Config) Resolve() (Config, error) {
	if c.Input == 0 {
		c.Input = FaceAPI.Input
	}
	if c.Widths == nil {
		c.Widths = FaceAPI.Widths
	}
	if c.Embed == 0 {
		c.Embed = FaceAPI.Embed
	}
	if len(c.Widths) != 4 {
		return c, fmt.Errorf("resnet needs 4 stage widths, got %v", c.Widths)
	}
	for i, w := range c.Widths {
		if w < 1 || (i > 0 && w < c.Widths[i-1]) {
			return c, fmt.Errorf("resnet stage widths must be positive and not shrink, got %v", c.Widths)
		}
	}
	if c.Embed < 1 || c.Freeze < 0 || c.Freeze > Layers {
		return c, fmt.Errorf("resnet embed must be positive and freeze within 0..%d", Layers)
	}
	if _, err := c.sides(); err != nil {
		return c, err
	}
	return c, nil
}

// sides returns the spatial side after the stem and after each block.
func (c Config) sides() ([]int, error) {
	s := c.Input
	if s < 7 {
		return nil, fmt.Errorf("resnet input %d is smaller than the 7×7 stem", s)
	}
	s = (s-7)/2 + 1 // 7×7 stride 2, valid
	if s < 3 {
		return nil, fmt.Errorf("resnet input %d is too small for the stem's pool", c.Input)
	}
	s = (s-3)/2 + 1 // max-pool 3, stride 2
	out := []int{s}
	for _, bl := range plan {
		if bl.down {
			if s < 3 {
				return nil, fmt.Errorf("resnet input %d is too small for block %s (at least 103)", c.Input, bl.name)
			}
			s = (s-2)/2 + 1 // the pooled shortcut; the branch is padded to it
		}
		out = append(out, s)
	}
	return out, nil
}

func init() { core.RegisterTower(Name, core.TowerFactoryOf(Name, New)) }

// conv is one convolution's weights [F,C,K,K] and bias [1,F,1,1].
type conv struct{ w, b *core.Param }

// Tower is the ResNet tower.
type Tower struct {
	cfg    Config
	stem   conv
	blocks [][2]conv // conv1, conv2 of each block of plan
	fc     *core.Param
	// from and to bound the layers this tower runs, [from, to), where layer
	// Layers is the global mean and the matrix: the whole net is [0,
	// Layers+1); Split makes the parts.
	from, to int
	sides    []int
}

func newConv(rng *rand.Rand, name string, f, c, k int) conv {
	w := core.NewParam(name+".w", f, c, k, k)
	w.InitHe(rng, c*k*k)
	return conv{w: w, b: core.NewParam(name+".b", 1, f, 1, 1)}
}

// New builds a tower with He-initialised weights.
func New(c Config, rng *rand.Rand) (*Tower, error) {
	c, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	sides, _ := c.sides()
	t := &Tower{cfg: c, stem: newConv(rng, "conv32_down", c.Widths[0], 3, 7), to: Layers + 1, sides: sides}
	in := c.Widths[0]
	for _, bl := range plan {
		f := c.Widths[bl.stage]
		t.blocks = append(t.blocks, [2]conv{
			newConv(rng, bl.name+".conv1", f, in, 3),
			newConv(rng, bl.name+".conv2", f, f, 3),
		})
		in = f
	}
	t.fc = core.NewParam("fc.w", in, c.Embed)
	t.fc.InitGlorot(rng, in, c.Embed)
	for i := 0; i < c.Freeze; i++ {
		for _, p := range t.layer(i) {
			p.Frozen = true
		}
	}
	return t, nil
}

// layer returns the params of layer i (0: the stem, then the blocks, then
// the matrix at Layers).
func (t *Tower) layer(i int) []*core.Param {
	switch i {
	case 0:
		return []*core.Param{t.stem.w, t.stem.b}
	case Layers:
		return []*core.Param{t.fc}
	}
	bl := t.blocks[i-1]
	return []*core.Param{bl[0].w, bl[0].b, bl[1].w, bl[1].b}
}

// Layers implements core.Layered: the stem, each residual block, then the
// final matrix (of the whole net; a part from Split has its own).
func (t *Tower) Layers() [][]*core.Param {
	var out [][]*core.Param
	for i := t.from; i < t.to; i++ {
		out = append(out, t.layer(i))
	}
	return out
}

// Split implements core.Splitter: the tower's first n layers (the stem is
// one, each block one more) and the rest, two towers that share t's params,
// the first's output the second's input. Split(0) is an empty prefix that
// passes its input through.
func (t *Tower) Split(n int) (core.Tower, core.Tower, error) {
	if n < 0 || n > t.to-t.from {
		return nil, nil, fmt.Errorf("resnet: split after %d layers: the tower has %d", n, t.to-t.from)
	}
	prefix, suffix := *t, *t
	prefix.to = t.from + n
	suffix.from = t.from + n
	return &prefix, &suffix, nil
}

// shapeAfter is the activation's shape after layer i ([3,Input,Input] for
// i = −1, the input).
func (t *Tower) shapeAfter(i int) []int {
	switch {
	case i < 0:
		return []int{3, t.cfg.Input, t.cfg.Input}
	case i >= Layers:
		return []int{t.cfg.Embed}
	case i == 0:
		return []int{t.cfg.Widths[0], t.sides[0], t.sides[0]}
	}
	return []int{t.cfg.Widths[plan[i-1].stage], t.sides[i], t.sides[i]}
}

// Config returns the resolved configuration.
func (t *Tower) Config() Config { return t.cfg }

// Input implements core.Tower: RGB [3, Input, Input] (a part from Split:
// the activation it starts from).
func (t *Tower) Input() core.InputSpec {
	return core.InputSpec{Kind: core.Dense, Shape: t.shapeAfter(t.from - 1)}
}

// Output implements core.Tower: the descriptor (a part from Split: the
// activation it ends with).
func (t *Tower) Output() []int { return t.shapeAfter(t.to - 1) }

// Params implements core.Tower.
func (t *Tower) Params() []*core.Param {
	var ps []*core.Param
	for i := t.from; i < t.to; i++ {
		ps = append(ps, t.layer(i)...)
	}
	return ps
}

// Build implements core.Tower.
func (t *Tower) Build(b *core.Builder, x *G.Node) (*G.Node, error) {
	var err error
	whole := t.from == 0 && t.to == Layers+1
	if whole && t.cfg.Mirror {
		if x, err = nn.WithMirror(x); err != nil {
			return nil, err
		}
	}
	if t.from == 0 && t.to > 0 {
		if x, err = nn.Conv2DStrided(b, x, t.stem.w, t.stem.b, 2, 0, true); err != nil {
			return nil, err
		}
		if x, err = nn.MaxPool2DStrided(x, 3, 2); err != nil {
			return nil, err
		}
	}
	for i, bl := range plan {
		if i+1 < t.from || i+1 >= t.to {
			continue
		}
		c1, c2 := t.blocks[i][0], t.blocks[i][1]
		stride, pad := 1, 1
		if bl.down {
			stride, pad = 2, 0 // TensorFlow's "valid" at stride 2
		}
		y, err := nn.Conv2DStrided(b, x, c1.w, c1.b, stride, pad, true)
		if err != nil {
			return nil, err
		}
		if y, err = nn.Conv2DStrided(b, y, c2.w, c2.b, 1, 1, false); err != nil {
			return nil, err
		}
		if x, err = nn.Shortcut(y, x, bl.down); err != nil {
			return nil, fmt.Errorf("block %s: %w", bl.name, err)
		}
	}
	if t.to <= Layers {
		return x, nil
	}
	if x, err = nn.GlobalAvgPool(x); err != nil {
		return nil, err
	}
	if x, err = G.Mul(x, b.Param(t.fc)); err != nil || !whole || !t.cfg.Mirror {
		return x, err
	}
	return nn.MeanHalves(x)
}

// MeanRGB is the pixel mean face-api.js subtracts (on 0–255) before it
// divides by 255.
var MeanRGB = [3]float64{122.782, 117.001, 104.298}

// LoadFaceAPI sets t's weights from face-api.js's face_recognition_model.
// Each layer there is a convolution with bias, then a per-channel scale and
// shift; they are folded into one convolution (w·s, b·s + t), and the
// input's mean into the stem's bias, so the tower takes RGB in [0,1] and
// computes the same function with fewer operations. t must have FaceAPI's
// widths and embedding size.
func LoadFaceAPI(t *Tower, w tfjs.Weights) error {
	c := t.cfg
	if c.Embed != FaceAPI.Embed || fmt.Sprint(c.Widths) != fmt.Sprint(FaceAPI.Widths) {
		return fmt.Errorf("resnet: face-api.js weights need widths %v and embed %d, the tower has %v and %d",
			FaceAPI.Widths, FaceAPI.Embed, c.Widths, c.Embed)
	}
	if err := loadConv(t.stem, w, "conv32_down", 3, true); err != nil {
		return err
	}
	in := c.Widths[0]
	for i, bl := range plan {
		if err := loadConv(t.blocks[i][0], w, bl.name+"/conv1", in, false); err != nil {
			return err
		}
		if err := loadConv(t.blocks[i][1], w, bl.name+"/conv2", c.Widths[bl.stage], false); err != nil {
			return err
		}
		in = c.Widths[bl.stage]
	}
	fc, err := w.Get("fc", c.Widths[3], c.Embed)
	if err != nil {
		return err
	}
	copy(t.fc.Data, fc.Data)
	return nil
}

// loadConv folds prefix's conv, bias and scale into p (and, for the stem,
// the input mean into the bias).
func loadConv(p conv, w tfjs.Weights, prefix string, in int, stem bool) error {
	f, k := p.w.Shape[0], p.w.Shape[2]
	filters, err := w.Get(prefix+"/conv/filters", k, k, in, f) // HWIO
	if err != nil {
		return err
	}
	bias, err := w.Get(prefix+"/conv/bias", f)
	if err != nil {
		return err
	}
	scale, err := w.Get(prefix+"/scale/weights", f)
	if err != nil {
		return err
	}
	shift, err := w.Get(prefix+"/scale/biases", f)
	if err != nil {
		return err
	}
	for o := 0; o < f; o++ {
		s := float64(scale.Data[o])
		b := float64(bias.Data[o])
		for ci := 0; ci < in; ci++ {
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					v := float64(filters.Data[((ky*k+kx)*in+ci)*f+o])
					if stem {
						b -= v * MeanRGB[ci] / 255
					}
					p.w.Data[((o*in+ci)*k+ky)*k+kx] = float32(v * s)
				}
			}
		}
		p.b.Data[o] = float32(b*s + float64(shift.Data[o]))
	}
	return nil
}
