// Fine-tuning on cached activations: the frozen first layers run once
// over every LFW image and its mirror image, and only the rest trains.

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/imageset"
)

// features are the frozen prefix's activations of every LFW image (and of
// its mirror image), by path.
type features struct {
	paths []string
	index map[string]int
	orig  [][]float32
	flip  [][]float32
	shape []int
}

func flipCHW(x []float32, c, h, w int) []float32 {
	out := make([]float32, len(x))
	for ci := 0; ci < c; ci++ {
		for y := 0; y < h; y++ {
			row := x[(ci*h+y)*w : (ci*h+y+1)*w]
			dst := out[(ci*h+y)*w : (ci*h+y+1)*w]
			for i := range row {
				dst[w-1-i] = row[i]
			}
		}
	}
	return out
}

// cacheFeatures runs every LFW image, and its mirror, through prefix.
func cacheFeatures(ctx context.Context, lfw *face.LFW, m *core.Model, prefix core.Tower, file string, only map[string]bool) (*features, error) {
	var paths []string
	err := fs.WalkDir(lfw.Source().FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && imageset.IsImage(p) && !strings.HasPrefix(path.Base(p), ".") && (only == nil || only[p]) {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	f := &features{paths: paths, index: map[string]int{}, shape: prefix.Output()}
	for i, p := range paths {
		f.index[p] = i
	}
	d := core.Size(f.shape)
	if only != nil {
		file = "" // a subset: the cache file holds every image
	}
	if raw, err := os.ReadFile(file); file != "" && err == nil && len(raw) == 2*len(paths)*d*4 {
		all := make([]float32, 2*len(paths)*d)
		for i := range all {
			all[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		for i := range paths {
			f.orig = append(f.orig, all[(2*i)*d:(2*i+1)*d])
			f.flip = append(f.flip, all[(2*i+1)*d:(2*i+2)*d])
		}
		return f, nil
	}
	pm := &core.Model{Spec: m.Spec, Tower: prefix, Head: m.Head, Preprocess: m.Preprocess}
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		return nil, err
	}
	pre := m.Preprocess
	start := time.Now()
	const batch = 32
	for lo := 0; lo < len(paths); lo += batch {
		hi := min(lo+batch, len(paths))
		items := make([]core.Item, 2*(hi-lo))
		errs := make([]error, hi-lo)
		imageset.Each(hi-lo, func(i int) {
			raw, err := fs.ReadFile(lfw.Source().FS, paths[lo+i])
			if err == nil {
				items[2*i], err = dec.Decode(raw)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", paths[lo+i], err)
				return
			}
			items[2*i+1] = core.Item{Dense: flipCHW(items[2*i].Dense, pre.Channels, pre.Height, pre.Width)}
		})
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
		es, err := pm.Embed(ctx, items, len(items))
		if err != nil {
			return nil, err
		}
		for i := 0; i < hi-lo; i++ {
			f.orig = append(f.orig, es[2*i])
			f.flip = append(f.flip, es[2*i+1])
		}
		fmt.Fprintf(os.Stderr, "\rcached %d/%d images (%.0f s) ", hi, len(paths), time.Since(start).Seconds())
	}
	fmt.Fprintln(os.Stderr)
	out := make([]byte, 0, 2*len(paths)*d*4)
	for i := range paths {
		for _, v := range f.orig[i] {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
		for _, v := range f.flip[i] {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	if file != "" {
		os.WriteFile(file, out, 0o644)
	}
	return f, nil
}

// flipAugment swaps an activation for its mirror image's half the time.
type flipAugment struct{ mirror map[*float32][]float32 }

func (a flipAugment) Apply(x []float32, c, h, w int, rng *rand.Rand) []float32 {
	if rng.IntN(2) == 0 {
		return x
	}
	if y, ok := a.mirror[&x[0]]; ok {
		return y
	}
	return x
}

// cachedTuned is the 10-fold protocol with, per fold, the suffix after
// the first n layers fine-tuned on cached activations of the other folds'
// people (every person with two photos or more, but the fold's).
func cachedTuned(ctx context.Context, lfw *face.LFW, m *core.Model, folds [][]face.Pair, n, from int, r core.Recipe, flip bool, cache string, only int) (*metrics.KFold, error) {
	sp, ok := m.Tower.(core.Splitter)
	if !ok {
		return nil, fmt.Errorf("tower %s cannot be split", m.Spec.Tower)
	}
	prefix, suffix, err := sp.Split(n)
	if err != nil {
		return nil, err
	}
	var named map[string]bool
	if r.Steps == 0 { // no training: only the folds' images
		named = map[string]bool{}
		for _, f := range folds {
			for _, p := range f {
				named[p.A], named[p.B] = true, true
			}
		}
	}
	f, err := cacheFeatures(ctx, lfw, m, prefix, cache, named)
	if err != nil {
		return nil, err
	}
	if from > n {
		mid, rest, err := suffix.(core.Splitter).Split(from - n)
		if err != nil {
			return nil, err
		}
		mm := &core.Model{Spec: m.Spec, Tower: mid, Head: m.Head, Preprocess: m.Preprocess}
		g := &features{paths: f.paths, index: f.index, shape: mid.Output()}
		if g.orig, err = embedAll(ctx, mm, f.orig); err != nil {
			return nil, err
		}
		if g.flip, err = embedAll(ctx, mm, f.flip); err != nil {
			return nil, err
		}
		f, suffix = g, rest
		fmt.Fprintf(os.Stderr, "activations after layer %d: %v\n", from, f.shape)
	}
	byPerson := map[string][]int{}
	var people []string
	for i, p := range f.paths {
		who := path.Base(path.Dir(p))
		if byPerson[who] == nil {
			people = append(people, who)
		}
		byPerson[who] = append(byPerson[who], i)
	}
	start := snapshot(suffix.Params())
	sm := &core.Model{Spec: m.Spec, Tower: suffix, Head: m.Head, Preprocess: m.Preprocess}
	var baseOut map[string][]float32
	imported := func(ctx context.Context, paths []string) ([][]float32, error) { // the suffix as imported
		if baseOut == nil {
			keep := snapshot(suffix.Params())
			restore(suffix.Params(), start)
			items := make([]core.Item, 0, 2*len(f.paths))
			for i := range f.paths {
				items = append(items, core.Item{Dense: f.orig[i]}, core.Item{Dense: f.flip[i]})
			}
			es, err := sm.Embed(ctx, items, 64)
			restore(suffix.Params(), keep)
			if err != nil {
				return nil, err
			}
			baseOut = map[string][]float32{}
			for i, p := range f.paths {
				v := es[2*i]
				if flip {
					v = make([]float32, len(es[2*i]))
					for j := range v {
						v[j] = (es[2*i][j] + es[2*i+1][j]) / 2
					}
				}
				baseOut[p] = v
			}
		}
		out := make([][]float32, len(paths))
		for i, p := range paths {
			out[i] = baseOut[p]
		}
		return out, nil
	}
	byModel := make([][]metrics.Fold, len(folds))
	for k := range folds {
		if only > 0 && k >= only {
			byModel[k] = byModel[0]
			continue
		}
		restore(suffix.Params(), start)
		exclude := face.People(folds[k])
		if len(folds) == 2 { // View 1: no person of either half trains
			exclude = face.People(folds...)
		}
		pre := core.Preprocess{Channels: 1, Height: 1, Width: core.Size(f.shape)}
		if len(f.shape) == 3 {
			pre = core.Preprocess{Channels: f.shape[0], Height: f.shape[1], Width: f.shape[2]}
		}
		set := &imageset.Set{Source: "lfw", Pre: pre}
		mirror := map[*float32][]float32{}
		for _, who := range people {
			if exclude[who] || len(byPerson[who]) < 2 {
				continue
			}
			c := imageset.Class{Name: who}
			for _, i := range byPerson[who] {
				c.Items = append(c.Items, f.orig[i])
				mirror[&f.orig[i][0]] = f.flip[i]
			}
			set.Classes = append(set.Classes, c)
		}
		var aug imageset.Augmenter
		if flip {
			aug = flipAugment{mirror}
		}
		dom := &imageset.Domain{
			Desc: core.Description{Name: face.Name, Version: "1", InputKind: "features",
				Input: core.InputSpec{Kind: core.Dense, Shape: f.shape}},
			Splits: map[string]imageset.Batcher{
				"train": &imageset.PairSampler{Set: set, Classes: imageset.AllClasses(set), Augment: aug, PerClass: face.PerClass},
			},
		}
		for _, p := range sm.Params() {
			p.Frozen = false
		}
		cfg := train.FromRecipe(r)
		cfg.Seed = uint64(k + 1)
		cfg.ValEvery = 0
		res := &train.Result{}
		if r.Steps > 0 {
			var hooks []train.Hook
			if cachedOpts.pull > 0 {
				hooks = append(hooks, pullHook{start: snapshot(sm.Params()), rate: cachedOpts.pull})
			}
			if res, err = (&train.Loop{Model: sm, Domain: dom, Config: cfg, Hooks: hooks}).Run(ctx); err != nil {
				return nil, err
			}
		}
		sm.Close()
		embedWith := func(w float64) face.Embedder {
			return func(ctx context.Context, paths []string) ([][]float32, error) {
				items := make([]core.Item, 0, 2*len(paths))
				for _, p := range paths {
					i, ok := f.index[p]
					if !ok {
						return nil, fmt.Errorf("%s: not in the set", p)
					}
					items = append(items, core.Item{Dense: f.orig[i]}, core.Item{Dense: f.flip[i]})
				}
				es, err := sm.Embed(ctx, items, 64)
				if err != nil {
					return nil, err
				}
				out := make([][]float32, len(paths))
				for i := range paths {
					out[i] = es[2*i]
					if flip {
						out[i] = make([]float32, len(es[2*i]))
						for j := range out[i] {
							out[i][j] = (es[2*i][j] + es[2*i+1][j]) / 2
						}
					}
				}
				if w > 0 { // beside the imported suffix's descriptor, weighted
					base, err := imported(ctx, paths)
					if err != nil {
						return nil, err
					}
					for i := range out {
						cat := append([]float32(nil), out[i]...)
						for _, v := range base[i] {
							cat = append(cat, float32(w)*v)
						}
						out[i] = cat
					}
				}
				return out, nil
			}
		}
		if cachedOpts.ensemble > 0 {
			for _, w := range []float64{0, 0.125, 0.25, 0.5, 1, 1.5, 2} {
				sc, err := face.ScoreFolds(ctx, folds, embedWith(w), m.Head.Score)
				if err != nil {
					return nil, err
				}
				acc, _ := metrics.CrossValidateEach(repeatFold(sc, len(folds)))
				fmt.Fprintf(os.Stderr, "fold %d: beside the imported descriptor at weight %g: fold accuracy %.2f%% (all folds %.2f%%)\n", k+1, w, 100*acc.Accuracies[k], 100*acc.Mean)
			}
		}
		if byModel[k], err = face.ScoreFolds(ctx, folds, embedWith(cachedOpts.ensemble), m.Head.Score); err != nil {
			return nil, err
		}
		acc, _ := metrics.CrossValidateEach(repeatFold(byModel[k], len(folds)))
		fmt.Fprintf(os.Stderr, "fold %d: %d people, %d steps in %.0f s, loss %.4f; fold accuracy %.2f%% (all folds with this model %.2f%%)\n",
			k+1, len(set.Classes), res.Steps, res.Seconds, res.Loss, 100*acc.Accuracies[k], 100*acc.Mean)
		sm.Close()
	}
	return metrics.CrossValidateEach(byModel)
}

// pullHook draws the weights back toward where training started after
// every step (L2-SP, decoupled): w -= rate·(w − w0).
type pullHook struct {
	start [][]float32
	rate  float64
}

func (h pullHook) OnStep(_ context.Context, l *train.Loop) error {
	for i, p := range l.Params {
		if i >= len(h.start) || len(h.start[i]) != len(p.Data) {
			continue
		}
		for j, w0 := range h.start[i] {
			p.Data[j] -= float32(h.rate) * (p.Data[j] - w0)
		}
	}
	return nil
}

func embedAll(ctx context.Context, m *core.Model, xs [][]float32) ([][]float32, error) {
	items := make([]core.Item, len(xs))
	for i, x := range xs {
		items[i] = core.Item{Dense: x}
	}
	return m.Embed(ctx, items, 64)
}

func snapshot(ps []*core.Param) [][]float32 {
	out := make([][]float32, len(ps))
	for i, p := range ps {
		out[i] = append([]float32(nil), p.Data...)
	}
	return out
}

func restore(ps []*core.Param, s [][]float32) {
	for i, p := range ps {
		copy(p.Data, s[i])
	}
}
