// Command plugin-shapes is a third-party domain plugin, written only
// against siamese's public packages: outline shapes (polygons with 3 to 9
// corners, stars, crosses) drawn at random sizes and angles on 28×28 pixels.
// Install it as siamese-domain-shapes in a plugin folder (see README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/plugins"
)

const side = 28

type shape struct{ corners, star int } // star: 0 plain polygon, 1 star

var classes = func() (s []shape) {
	for c := 3; c <= 9; c++ {
		s = append(s, shape{c, 0}, shape{c, 1})
	}
	return s
}()

// draw renders one instance of class c: its outline at a random scale,
// rotation and offset.
func draw(c int, rng *rand.Rand) []float32 {
	sh := classes[c]
	r := 7 + 5*rng.Float64()
	rot := rng.Float64() * 2 * math.Pi
	cx, cy := 14+2*rng.NormFloat64(), 14+2*rng.NormFloat64()
	n := sh.corners * (1 + sh.star)
	var xs, ys []float64
	for i := 0; i <= n; i++ {
		rr := r
		if sh.star == 1 && i%2 == 1 {
			rr = r / 2
		}
		a := rot + 2*math.Pi*float64(i)/float64(n)
		xs, ys = append(xs, cx+rr*math.Cos(a)), append(ys, cy+rr*math.Sin(a))
	}
	img := make([]float32, side*side)
	for i := 0; i < n; i++ {
		for t := 0.0; t <= 1; t += 0.02 {
			x, y := int(xs[i]+t*(xs[i+1]-xs[i])), int(ys[i]+t*(ys[i+1]-ys[i]))
			if x >= 0 && y >= 0 && x < side && y < side {
				img[y*side+x] = 1
			}
		}
	}
	return img
}

type domain struct{}

func (domain) Describe() core.Description {
	return core.Description{
		Name: "shapes", Version: "1.0.0", InputKind: "image",
		Input: core.InputSpec{Kind: core.Dense, Shape: []int{1, side, side}},
		Spec:  core.Spec{Tower: "cnn", TowerConfig: []byte(`{"preset":"small"}`), Head: "contrastive"},
		// An input kind the host does not know: the host decodes a user's
		// file through the plugin's Decode.
		Preprocess: core.Preprocess{Kind: inputKind, Width: side, Height: side, Channels: 1, Std: 1},
		Splits:     []string{"train"}, Tasks: []string{"test5", "val5"},
		Policy: policy,
	}
}

// inputKind is the plugin's own input kind: a text file naming a shape,
// "CORNERS" or "CORNERS star" (3 to 9 corners), drawn upright and centred.
const inputKind = "shape-name"

// policy: validation and calibration on 5-way episodes of the held-out
// classes drawn with another seed than the test task's, and a small recipe.
var policy = core.Policy{ValTask: "val5", Recipe: core.Recipe{Items: 32, Pairs: 48, Steps: 500}}

// stream makes each batch from (seed, step) alone, as the contract asks:
// half the classes train (even), the others are kept for the test task.
type stream struct {
	req  core.PairRequest
	step int
}

func (s *stream) Next(ctx context.Context) (*core.Batch, error) {
	rng := rand.New(rand.NewPCG(s.req.Seed, uint64(s.step)))
	s.step++
	b := &core.Batch{}
	var label []int
	for i := 0; i < s.req.Items; i++ {
		c := 2 * rng.IntN(len(classes)/2)
		if i%2 == 1 {
			c = label[i-1] // every class at least twice, for positives
		}
		label = append(label, c)
		b.Items = append(b.Items, core.Item{Dense: draw(c, rng)})
	}
	for len(b.A) < s.req.Pairs {
		x, y := rng.IntN(s.req.Items), rng.IntN(s.req.Items)
		want := len(b.A) < s.req.Pairs/2 // first half positive
		if x == y || (label[x] == label[y]) != want {
			continue
		}
		b.A, b.B, b.Y = append(b.A, x), append(b.B, y), append(b.Y, map[bool]float32{true: 1, false: 0}[want])
	}
	return b, ctx.Err()
}

func (s *stream) Close() error { return nil }

func (domain) Pairs(_ context.Context, req core.PairRequest) (core.Stream, error) {
	if req.Split != "train" {
		return nil, errors.New("shapes has only the split train")
	}
	return &stream{req: req, step: req.Start}, nil
}

// Episodes: 5-way one-shot over the classes never trained on (val5 draws
// them with another seed).
func (domain) Episodes(_ context.Context, task string) ([]core.Episode, error) {
	seeds := map[string]uint64{"test5": 1, "val5": 7}
	seed, ok := seeds[task]
	if !ok {
		return nil, fmt.Errorf("shapes has no task %q (has test5, val5)", task)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	var eps []core.Episode
	for e := 0; e < 50; e++ {
		var ep core.Episode
		for l, k := range rng.Perm(len(classes) / 2)[:5] {
			c := 2*k + 1
			ep.Support, ep.SupportLabel = append(ep.Support, core.Item{Dense: draw(c, rng)}), append(ep.SupportLabel, l)
			ep.Query, ep.QueryLabel = append(ep.Query, core.Item{Dense: draw(c, rng)}), append(ep.QueryLabel, l)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// Decode draws the shape a file names ("5", "5 star").
func (domain) Decode(raw []byte) (core.Item, error) {
	f := strings.Fields(string(raw))
	if len(f) < 1 || len(f) > 2 || (len(f) == 2 && f[1] != "star") {
		return core.Item{}, errors.New(`want a shape name: "CORNERS" or "CORNERS star"`)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 3 || n > 9 {
		return core.Item{}, fmt.Errorf("%q corners: want 3 to 9", f[0])
	}
	c := slices.Index(classes, shape{n, len(f) - 1})
	return core.Item{Dense: draw(c, rand.New(rand.NewPCG(0, 0)))}, nil
}

func main() {
	plugins.Serve(plugins.Config{Name: "shapes", Version: "1.0.0", Policy: policy, Open: func(core.DomainOptions) (core.Domain, error) {
		return domain{}, nil
	}})
}
