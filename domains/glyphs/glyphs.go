// Package glyphs is the built-in domain: procedurally drawn glyph classes,
// made in memory and deterministic in a seed, so the demo and the tests
// run with no data. Each class is a few random pen strokes (quadratic
// Bézier curves); each image of a class redraws its strokes with jittered
// control points, a small random affine and a random pen width, the way
// Omniglot's drawers redraw a character.
//
// It registers itself as "glyphs"; import it for its side effect.
package glyphs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
)

// Name is the registered domain name.
const Name = "glyphs"

// Options size the generated data.
type Options struct {
	Side         int    // image side; default 28
	TrainClasses int    // default 400
	TestClasses  int    // default 100
	PerClass     int    // images per class; default 20
	Seed         uint64 // default 1
	TestEpisodes int    // 20-way episodes per test task; default 100
	ValEpisodes  int    // default 50
	ValClasses   int    // default 50
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Side, 28)
	def(&o.TrainClasses, 400)
	def(&o.TestClasses, 100)
	def(&o.ValClasses, 50)
	def(&o.PerClass, 20)
	def(&o.TestEpisodes, 100)
	def(&o.ValEpisodes, 50)
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

func init() {
	core.RegisterDomain(Name, func(o core.DomainOptions) (core.Domain, error) {
		g := Options{}
		if len(o.Input) == 3 {
			g.Side = o.Input[1]
		}
		if v, ok := o.Extra["classes"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("glyphs: classes: %w", err)
			}
			g.TrainClasses = n
		}
		return Open(g)
	}, Policy)
}

// Policy is the glyph domain's policy: built-in data, validation and
// calibration on 20-way one-shot episodes of held-out classes.
var Policy = core.Policy{ValTask: "val20"}

type point struct{ x, y float64 }

type stroke [3]point // quadratic Bézier: start, control, end

// Open generates the set and returns the domain: split "train", tasks
// "test20" (20-way 1-shot on unseen classes), "test20-5shot" and "val20".
func Open(o Options) (*imageset.Domain, error) {
	o = o.withDefaults()
	if o.Side < 12 {
		return nil, fmt.Errorf("glyphs: side %d is too small (min 12)", o.Side)
	}
	pre := core.Preprocess{Kind: "image", Width: o.Side, Height: o.Side, Channels: 1, Mean: 0, Std: 1}
	n := o.TrainClasses + o.ValClasses + o.TestClasses
	set := &imageset.Set{Source: "built-in glyphs", Pre: pre}
	rng := rand.New(rand.NewPCG(o.Seed, 0x61797068))
	for c := 0; c < n; c++ {
		class := newClass(rng)
		cl := imageset.Class{Name: fmt.Sprintf("glyph%04d", c)}
		for i := 0; i < o.PerClass; i++ {
			cl.Items = append(cl.Items, render(class, o.Side, rng))
		}
		set.Classes = append(set.Classes, cl)
	}
	span := func(lo, hi int) []int {
		var s []int
		for i := lo; i < hi; i++ {
			s = append(s, i)
		}
		return s
	}
	train := span(0, o.TrainClasses)
	val := span(o.TrainClasses, o.TrainClasses+o.ValClasses)
	test := span(o.TrainClasses+o.ValClasses, n)
	tc, _ := json.Marshal(map[string]any{"preset": "small", "input": []int{1, o.Side, o.Side}})
	d := &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "1", Policy: Policy, InputKind: "image",
			Input:      core.InputSpec{Kind: core.Dense, Shape: []int{1, o.Side, o.Side}},
			Spec:       core.Spec{Tower: "cnn", TowerConfig: tc, Head: "l1sigmoid"},
			Preprocess: pre,
		},
		Splits: map[string]imageset.Batcher{"train": &imageset.PairSampler{Set: set, Classes: train, Augment: imageset.KochAffine}},
	}
	episodes := func(classes []int, k, count int, seed uint64) func(context.Context) ([]core.Episode, error) {
		return func(context.Context) ([]core.Episode, error) {
			return set.Episodes(classes, 20, k, 1, count, false, seed)
		}
	}
	d.Tasks = map[string]func(context.Context) ([]core.Episode, error){
		"test20":       episodes(test, 1, o.TestEpisodes, 11),
		"test20-5shot": episodes(test, 5, o.TestEpisodes, 12),
		"val20":        episodes(val, 1, o.ValEpisodes, 13),
	}
	return d, nil
}

func newClass(rng *rand.Rand) []stroke {
	u := func() float64 { return 0.15 + 0.7*rng.Float64() }
	s := make([]stroke, 2+rng.IntN(3))
	for i := range s {
		s[i] = stroke{{u(), u()}, {u(), u()}, {u(), u()}}
		if i > 0 && rng.IntN(2) == 0 { // join to the previous stroke
			s[i][0] = s[i-1][2]
		}
	}
	return s
}

// render draws one instance of a class at side×side, ink = 1.
func render(class []stroke, side int, rng *rand.Rand) []float32 {
	theta := (rng.Float64()*2 - 1) * 10 * math.Pi / 180
	scale := 0.9 + 0.2*rng.Float64()
	dx, dy := (rng.Float64()*2-1)*0.05, (rng.Float64()*2-1)*0.05
	width := (0.9 + 0.8*rng.Float64()) * float64(side) / 28
	cos, sin := math.Cos(theta)*scale, math.Sin(theta)*scale
	tf := func(p point) point {
		x, y := p.x-0.5+rng.NormFloat64()*0.035, p.y-0.5+rng.NormFloat64()*0.035
		return point{(cos*x - sin*y + 0.5 + dx) * float64(side), (sin*x + cos*y + 0.5 + dy) * float64(side)}
	}
	var segs [][2]point
	for _, s := range class {
		a, b, c := tf(s[0]), tf(s[1]), tf(s[2])
		prev := a
		for k := 1; k <= 10; k++ {
			t := float64(k) / 10
			p := point{(1-t)*(1-t)*a.x + 2*(1-t)*t*b.x + t*t*c.x, (1-t)*(1-t)*a.y + 2*(1-t)*t*b.y + t*t*c.y}
			segs = append(segs, [2]point{prev, p})
			prev = p
		}
	}
	out := make([]float32, side*side)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			p := point{float64(x) + 0.5, float64(y) + 0.5}
			d := math.Inf(1)
			for _, s := range segs {
				d = math.Min(d, segDist(p, s[0], s[1]))
			}
			v := math.Max(0, math.Min(1, width/2+0.5-d))
			out[y*side+x] = float32(v)
		}
	}
	return out
}

func segDist(p, a, b point) float64 {
	vx, vy := b.x-a.x, b.y-a.y
	l2 := vx*vx + vy*vy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((p.x-a.x)*vx+(p.y-a.y)*vy)/l2))
	}
	ex, ey := p.x-(a.x+t*vx), p.y-(a.y+t*vy)
	return math.Hypot(ex, ey)
}
