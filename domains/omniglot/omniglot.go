// Package omniglot is the Omniglot characters domain, the standard one-shot
// benchmark: training pairs from the background alphabets and Lake et al.'s
// 20 official 20-way one-shot runs (all_runs.zip) for testing.
//
// It registers itself as "omniglot"; import it for its side effect.
package omniglot

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/imageset"
)

// Name is the registered domain name.
const Name = "omniglot"

// ValAlphabets are held out of the "train" split for validation ("val20").
var ValAlphabets = []string{"Bengali", "Futurama", "Hebrew", "Tifinagh"}

func init() {
	core.RegisterDomain(Name, func(o core.DomainOptions) (core.Domain, error) { return Open(o) }, Policy)
}

// Policy is the Omniglot domain's policy: validation and calibration on
// 20-way one-shot episodes of the held-out background alphabets.
var Policy = core.Policy{DataFolder: "omniglot", ValTask: "val20"}

// Preprocess is the preprocessing of Omniglot images at a given side:
// grayscale, resized, inverted so strokes are 1 and paper 0.
func Preprocess(side int) core.Preprocess {
	return core.Preprocess{Kind: "image", Width: side, Height: side, Channels: 1, Invert: true, Mean: 0, Std: 1}
}

// find returns dir/name.zip or the folder dir/name.
func find(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".zip"), filepath.Join(dir, name)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("omniglot: neither %s.zip nor folder %s found in %s", name, name, dir)
}

// Open loads the background set from o.DataDir (the folder holding
// images_background.zip, images_evaluation.zip and all_runs.zip, or their
// extracted folders). o.Input sets the side ([1,S,S]); the default is 28.
func Open(o core.DomainOptions) (*imageset.Domain, error) {
	side := 28
	if len(o.Input) == 3 {
		if o.Input[0] != 1 || o.Input[1] != o.Input[2] {
			return nil, fmt.Errorf("omniglot: input must be [1,S,S], got %v", o.Input)
		}
		side = o.Input[1]
	}
	if o.DataDir == "" {
		return nil, fmt.Errorf("omniglot: no data folder given (set --data or SIAMESE_DATA)")
	}
	pre := Preprocess(side)
	bgPath, err := find(o.DataDir, "images_background")
	if err != nil {
		return nil, err
	}
	bg, err := imageset.Load(bgPath, imageset.LoadOptions{Pre: pre})
	if err != nil {
		return nil, err
	}
	var train, val []int
	for i, c := range bg.Classes {
		if isVal(c.Group) {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	spec, _ := json.Marshal(map[string]any{"preset": "small", "input": []int{1, side, side}})
	d := &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "1", Policy: Policy, InputKind: "image",
			Input:      core.InputSpec{Kind: core.Dense, Shape: []int{1, side, side}},
			Spec:       core.Spec{Tower: "cnn", TowerConfig: spec, Head: "l1sigmoid"},
			Preprocess: pre,
		},
		Splits: map[string]imageset.Batcher{
			"train": &imageset.PairSampler{Set: bg, Classes: train, SameGroup: 0.5, Augment: imageset.KochAffine},
			"all":   &imageset.PairSampler{Set: bg, Classes: imageset.AllClasses(bg), SameGroup: 0.5, Augment: imageset.KochAffine},
		},
	}
	d.Tasks = map[string]func(context.Context) ([]core.Episode, error){
		"val20": func(context.Context) ([]core.Episode, error) {
			return bg.Episodes(val, 20, 1, 1, 40, true, 20)
		},
		"lake20": func(context.Context) ([]core.Episode, error) {
			p, err := find(o.DataDir, "all_runs")
			if err != nil {
				return nil, err
			}
			return LoadRuns(p, pre)
		},
	}
	for _, k := range []int{1, 5} {
		d.Tasks[fmt.Sprintf("eval20-%dshot", k)] = func(context.Context) ([]core.Episode, error) {
			p, err := find(o.DataDir, "images_evaluation")
			if err != nil {
				return nil, err
			}
			ev, err := imageset.Load(p, imageset.LoadOptions{Pre: pre})
			if err != nil {
				return nil, err
			}
			return ev.Episodes(imageset.AllClasses(ev), 20, k, 1, 200, true, 1)
		}
	}
	return d, nil
}

func isVal(group string) bool {
	base := path.Base(group)
	for _, a := range ValAlphabets {
		if base == a {
			return true
		}
	}
	return false
}

// LoadRuns reads Lake et al.'s 20 one-shot runs from all_runs.zip (or its
// extracted folder): one episode per run, 20 classes of one shot each and
// 20 queries, 400 trials in all.
func LoadRuns(p string, pre core.Preprocess) ([]core.Episode, error) {
	src, err := imageset.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open one-shot runs: %w", err)
	}
	defer src.Close()
	var eps []core.Episode
	for r := 1; r <= 20; r++ {
		run := fmt.Sprintf("run%02d", r)
		labels, err := fs.ReadFile(src.FS, run+"/class_labels.txt")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Where(run+"/class_labels.txt"), err)
		}
		var ep core.Episode
		for c := 1; c <= 20; c++ {
			name := fmt.Sprintf("%s/training/class%02d.png", run, c)
			x, err := src.ReadImage(name, pre)
			if err != nil {
				return nil, err
			}
			ep.Support = append(ep.Support, core.Item{Dense: x})
			ep.SupportLabel = append(ep.SupportLabel, c-1)
		}
		for n, line := range strings.Split(strings.TrimSpace(string(labels)), "\n") {
			f := strings.Fields(line)
			where := fmt.Sprintf("%s line %d", src.Where(run+"/class_labels.txt"), n+1)
			if len(f) != 2 {
				return nil, fmt.Errorf("%s: want 'test/itemXX.png training/classYY.png', got %q", where, line)
			}
			base := path.Base(f[1])
			c, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(base, "class"), ".png"))
			if err != nil || c < 1 || c > 20 {
				return nil, fmt.Errorf("%s: bad class file %q", where, f[1])
			}
			x, err := src.ReadImage(strings.TrimPrefix(f[0], "/"), pre)
			if err != nil {
				return nil, err
			}
			ep.Query = append(ep.Query, core.Item{Dense: x})
			ep.QueryLabel = append(ep.QueryLabel, c-1)
		}
		if len(ep.Query) != 20 {
			return nil, fmt.Errorf("%s: %d trials, want 20", src.Where(run+"/class_labels.txt"), len(ep.Query))
		}
		eps = append(eps, ep)
	}
	return eps, nil
}
