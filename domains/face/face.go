// Package face is the face-recognition domain: identity-per-folder trees
// (a folder or a zip; the AT&T/ORL layout sN/*.pgm and the LFW layout
// Name/Name_0001.jpg are both such trees), preprocessing to the tower's
// input, photo augmentation, and identity-disjoint splits by seed.
//
// It registers itself as "face"; import it for its side effect.
package face

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/towers/resnet"
)

// Name is the registered domain name.
const Name = "face"

func init() {
	core.RegisterDomain(Name, func(o core.DomainOptions) (core.Domain, error) { return Open(o) }, Policy)
}

// Policy is the face domain's policy: the ORL folder, calibration on the
// validation identities' 5-shot task, the face recipe (TrainConfig on the
// "train" split, so that the validation identities stay unseen for
// calibration), a fine-tuning recipe for the pretrained network, and a
// gallery of 1 to 5 photos a person, found in photos by the detector.
var Policy = core.Policy{
	DataFolder: "att_faces",
	ValTask:    "val-5shot",
	Recipe:     core.Recipe{Split: "train", Items: 16 * PerClass, Pairs: 16 * PerClass * (16*PerClass - 1) / 2, Steps: 800, LR: 1e-3, WeightDecay: 5e-4, Schedule: "cosine", Augment: true},
	// Fine-tuning the pretrained ResNet: its first 14 layers kept (all
	// but the last block and the matrix), every pair of 4 photos of 8
	// people a step, Adam at 1e-4 on a cosine schedule for 100 steps, no
	// weight decay (it would pull the pretrained weights to zero). Chosen
	// on ORL's subjects outside the test split (examples/faces-finetune:
	// pair EER 2.74% against 2.83–5.85% for the other recipes tried; the
	// network as imported scored 2.31% there, so on ORL's few subjects
	// fine-tuning does not pay).
	FineTune: &core.Recipe{Split: "train", Items: 8 * PerClass, Pairs: 8 * PerClass * (8*PerClass - 1) / 2, Steps: 100, LR: 1e-4, Schedule: "cosine", Augment: true, Freeze: 14},
	Enrolment: &core.Enrolment{Noun: "person", Key: "name", Item: "photo", Gallery: "faces.gallery", List: "gallery",
		Min: 1, Max: 5, Accept: "match", Reject: "no match", Identify: true, Detect: true},
}

// DefaultInput is the model input: half the ORL resolution (92×112), gray.
var DefaultInput = []int{1, 56, 46}

// Preprocess is the preprocessing of face images for an input [C,H,W].
func Preprocess(input []int) core.Preprocess {
	return core.Preprocess{Kind: "image", Channels: input[0], Height: input[1], Width: input[2], Mean: 0.5, Std: 0.25}
}

// Tower is the default face tower for an input: three convolutions of 64,
// 128 and 128 filters, each with batch norm, ReLU and a 2×2 max-pool, and
// a 128-d embedding. (Half as wide, 32-64-64, trains 2.5× faster but errs
// on 1.7 points more unseen pairs on ORL.)
func Tower(input []int) json.RawMessage {
	tc, _ := json.Marshal(map[string]any{"input": input, "blocks": []map[string]int{
		{"filters": 64, "kernel": 5, "pool": 2}, {"filters": 128, "kernel": 3, "pool": 2}, {"filters": 128, "kernel": 3, "pool": 2}},
		"batch_norm": true, "embed": 128, "activation": "none"})
	return tc
}

// PerClass is the number of photos of each person in a training batch.
const PerClass = 4

// TrainConfig is the face recipe of Policy: every pair of PerClass photos
// of 16 people a step (batch statistics for the tower's batch norm, many
// pairs for the cosine head's loss), Adam at 1e-3 on a cosine schedule
// with L2 weight decay 5e-4, photo augmentation, on the "trainval" split
// (every identity outside the test split: with 30 people or fewer, every
// identity counts more than early stopping on 5).
func TrainConfig(steps int, seed uint64) train.Config {
	c := train.FromRecipe(Policy.Recipe)
	c.Split, c.Steps, c.Seed = "trainval", steps, seed
	return c
}

// Split is the identity-disjoint split of n identities (sorted by folder
// name) by seed: nTest for testing, nVal for validation, the rest for
// training.
func Split(n, nTest, nVal int, seed uint64) (test, val, train []int) {
	perm := rand.New(rand.NewPCG(seed, 0xface)).Perm(n)
	return perm[:nTest], perm[nTest : nTest+nVal], perm[nTest+nVal:]
}

// Domain is the face domain with its identity split.
type Domain struct {
	*imageset.Domain
	Set              *imageset.Set
	Test, Val, Train []int // class indices of the identity-disjoint split
}

// Open loads the identities of o.DataDir. Options (o.Extra): "test" and
// "val", the numbers of identities held out for testing (default 10) and
// validation (default 5); "split_seed" (default 1) picks them.
func Open(o core.DomainOptions) (*Domain, error) {
	if o.DataDir == "" {
		return nil, fmt.Errorf("face: no data folder given (set --data or SIAMESE_DATA)")
	}
	input := DefaultInput
	if len(o.Input) == 3 {
		input = o.Input
	}
	nTest, err := o.Int("test", 10)
	if err != nil {
		return nil, err
	}
	nVal, err := o.Int("val", 5)
	if err != nil {
		return nil, err
	}
	seed, err := o.Int("split_seed", 1)
	if err != nil {
		return nil, err
	}
	pre := Preprocess(input)
	opts := imageset.LoadOptions{Pre: pre}
	spec := core.Spec{Tower: "cnn", TowerConfig: Tower(input), Head: "cosine"}
	inputKind := "image"
	if o.Preprocess != nil && o.Preprocess.Kind == InputKind {
		// A pretrained face model: photos become aligned chips, as its
		// users' photos do.
		faces, err := NewFaces(*o.Preprocess, o.Assets)
		if err != nil {
			return nil, err
		}
		pre, input, inputKind = *o.Preprocess, []int{3, o.Preprocess.Height, o.Preprocess.Width}, InputKind
		opts = imageset.LoadOptions{Pre: pre, Prepare: faces.Prepare}
		tc, _ := json.Marshal(ImportedTower(ImportOptions{}))
		spec = core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: "cosine"}
	}
	set, err := imageset.Load(datadir.Archive(o.DataDir, "att_faces.zip"), opts)
	if err != nil {
		return nil, err
	}
	n := len(set.Classes)
	if n < nTest+nVal+2 {
		return nil, fmt.Errorf("face: %s has %d identities; %d test + %d validation + 2 training needed", o.DataDir, n, nTest, nVal)
	}
	test, val, train := Split(n, nTest, nVal, uint64(seed))
	d := &imageset.Domain{
		Desc: core.Description{
			Name: Name, Version: "1", Policy: Policy, InputKind: inputKind,
			Input:      core.InputSpec{Kind: core.Dense, Shape: input},
			Spec:       spec,
			Preprocess: pre,
			// The gallery's rule: a person scores as their closest photo;
			// thresholds are calibrated for it.
			Rule: &core.ScoreRule{Aggregate: core.Closest},
		},
		Splits: map[string]imageset.Batcher{
			"train":    &imageset.PairSampler{Set: set, Classes: train, Augment: imageset.FaceAugment, PerClass: PerClass},
			"trainval": &imageset.PairSampler{Set: set, Classes: append(append([]int(nil), train...), val...), Augment: imageset.FaceAugment, PerClass: PerClass},
		},
		Tasks: map[string]func(context.Context) ([]core.Episode, error){},
	}
	addTask := func(name string, classes []int, k, count int) {
		if len(classes) < 2 {
			return
		}
		d.Tasks[name] = func(context.Context) ([]core.Episode, error) {
			return set.Episodes(classes, min(10, len(classes)), k, 1, count, false, uint64(len(name)))
		}
	}
	addTask("test-1shot", test, 1, 200)
	addTask("test-5shot", test, 5, 200)
	addTask("val-1shot", val, 1, 100)
	addTask("val-5shot", val, 5, 100)
	return &Domain{Domain: d, Set: set, Test: test, Val: val, Train: train}, nil
}
