// The framework's own tower trained from scratch on LFW's people: row (c)
// of the table.

package main

import (
	"context"
	"fmt"
	"image"
	"os"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/imageset"
)

// scratchInput is the from-scratch tower's input: LFW3D's 90×90 colour
// crops resized to 64×64.
var scratchInput = []int{3, 64, 64}

// fromScratch is the 10-fold protocol with the face domain's own tower
// (face.Tower, the cosine head and face.Policy.Recipe) trained from
// scratch, one model per group of folds: the model of a group trains for
// steps on every LFW person with two photos or more who is in none of the
// group's folds, and scores every fold; a fold's accuracy is its group
// model's, at the threshold that model's scores of the other nine folds
// choose. No person of a test fold is seen in training.
func fromScratch(ctx context.Context, lfw *face.LFW, folds [][]face.Pair, groups, steps int, progress func(done, total int)) (*metrics.KFold, error) {
	if groups < 2 || groups > len(folds) {
		return nil, fmt.Errorf("-groups %d: want 2 to %d", groups, len(folds))
	}
	pre := face.Preprocess(scratchInput)
	prepare := func(img image.Image) ([]float32, error) { return imageset.Prepare(img, pre) }
	byModel := make([][]metrics.Fold, len(folds))
	per := (len(folds) + groups - 1) / groups
	for g := 0; g*per < len(folds); g++ {
		lo, hi := g*per, min((g+1)*per, len(folds))
		dom, err := lfw.TrainDomain(pre, prepare, face.People(folds[lo:hi]...))
		if err != nil {
			return nil, err
		}
		m, err := core.New(core.Spec{Tower: "cnn", TowerConfig: face.Tower(scratchInput), Head: "cosine"}, pre, uint64(g+1))
		if err != nil {
			return nil, err
		}
		cfg := train.FromRecipe(face.Policy.Recipe)
		cfg.Steps, cfg.Seed = steps, uint64(g+1)
		res, err := (&train.Trainer{Model: m, Domain: dom, Config: cfg}).Run(ctx)
		if err != nil {
			m.Close()
			return nil, err
		}
		dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
		if err != nil {
			m.Close()
			return nil, err
		}
		scored, err := face.ScoreFolds(ctx, folds, lfw.ModelEmbedder(m, dec, 64, progress), m.Head.Score)
		m.Close()
		if err != nil {
			return nil, err
		}
		for k := lo; k < hi; k++ {
			byModel[k] = scored
		}
		fmt.Fprintf(os.Stderr, "\nfolds %d-%d: trained from scratch, %d steps in %.0f s\n", lo+1, hi, res.Steps, res.Seconds)
	}
	return metrics.CrossValidateEach(byModel)
}
