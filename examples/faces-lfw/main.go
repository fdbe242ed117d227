// Command faces-lfw runs LFW's verification protocol (View 2: ten folds of
// 300 matched and 300 mismatched pairs; the threshold chosen on nine
// folds, accuracy on the tenth; mean ± standard error) with ROC AUC, EER
// and TAR at FAR 1e-3 over all 6,000 pairs, for a face model: by default
// the imported face-api.js network (dlib's ResNet) as it is. LFW's images
// here are LFW3D crops, so they are taken whole (-detect off) unless told.
//
// With -finetune, each fold gets its own copy of the model fine-tuned with
// the face domain's fine-tuning recipe on the people of LFW with two or
// more photos who are not in that fold, scored on every fold (its
// threshold from the other nine).
//
// With -scratch, the face domain's own tower (the ORL recipe's CNN, 64×64
// colour) trains from scratch instead, one model per group of folds on the
// people in none of the group's folds.
//
//	go run ./examples/faces-lfw                    # import from the npm cache, as-is
//	go run ./examples/faces-lfw -finetune          # fine-tuned, one model per fold
//	go run ./examples/faces-lfw -model M.model     # any face model file
//	go run ./examples/faces-lfw -scratch -steps 3000   # from scratch, two models
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/npmpkg"
	_ "github.com/siamesenet/siamese/towers/cnn"
	_ "github.com/siamesenet/siamese/towers/resnet"
)

func main() {
	data := flag.String("data", datadir.Domain(face.LFWFolder), "LFW folder (lfw.zip and the pairs files; default $SIAMESE_DATA/lfw)")
	model := flag.String("model", "", "face model file (default: the imported face-api.js network)")
	pairs := flag.String("pairs", "pairs.txt", "pairs file: pairs.txt (View 2, ten folds) or pairsDevTrain.txt / pairsDevTest.txt (View 1, cross-validated in two halves)")
	detect := flag.String("detect", "off", "the model's face detection: auto, on or off (\"\": the model's)")
	finetune := flag.Bool("finetune", false, "fine-tune a copy of the model for each fold on the people outside it")
	steps := flag.Int("steps", 0, "fine-tuning steps (default: the face domain's recipe)")
	scale := flag.String("chip-scale", "", "override the model's chip scale (the alignment)")
	shift := flag.String("chip-shift", "", "override the model's chip shift")
	crop := flag.String("crop-scale", "", "override the model's crop scale (the margin around a photo taken whole)")
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	top := flag.Int("cached", 0, "fine-tune per fold on cached activations of the first N layers (frozen), training the rest")
	flip := flag.Bool("flip", false, "with -cached: mirror images in training and average each descriptor with its mirror image's")
	lr := flag.Float64("lr", 0, "with -cached: learning rate (default the recipe's)")
	items := flag.Int("items", 0, "with -cached: photos per batch (default the recipe's)")
	from := flag.Int("train-from", 0, "with -cached: train layers from this one on (the ones between run once over the cache)")
	only := flag.Int("folds", 0, "with -cached: fine-tune for the first N folds only (the rest reuse fold 1's model: for quick comparisons, read the first N fold accuracies)")
	cache := flag.String("cache", "", "with -cached: file that keeps the activations between runs")
	pull := flag.Float64("pull", 0, "with -cached: draw the trained weights back toward the imported ones by this share after every step (L2-SP)")
	ensemble := flag.Float64("ensemble", 0, "with -cached: score with the fine-tuned descriptor beside the imported one, weighted by this")
	scratch := flag.Bool("scratch", false, "train the face domain's own tower from scratch instead (one model per group of folds, -steps each)")
	groups := flag.Int("groups", 2, "with -scratch: groups of folds, one model each (2: folds 1-5 and 6-10)")
	flag.Parse()
	scratchOpts = scratchFlags{on: *scratch, groups: *groups}
	cachedOpts = cachedFlags{from: *from, only: *only, n: *top, flip: *flip, lr: *lr, items: *items, file: *cache, pull: *pull, ensemble: *ensemble}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, *data, *model, *pairs, map[string]string{"detect": *detect, "chip_scale": *scale, "chip_shift": *shift, "crop_scale": *crop}, *finetune, *steps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faces-lfw:", err)
		os.Exit(1)
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("LFW %s, %s: %.2f%% ± %.2f (10-fold), ROC AUC %.4f, EER %.2f%%, TAR@FAR 1e-3 %.2f%% (%s)\n",
		r.Pairs, r.Model, 100*r.Mean, 100*r.StdErr, r.AUC, 100*r.EER, 100*r.TARAt1e3, r.Took)
}

type cachedFlags struct {
	n, items, from, only int
	flip                 bool
	lr, pull, ensemble   float64
	file                 string
}

var cachedOpts cachedFlags

type scratchFlags struct {
	on     bool
	groups int
}

var scratchOpts scratchFlags

type result struct {
	Model string `json:"model"`
	Pairs string `json:"pairs"`
	*metrics.KFold
	Took string `json:"took"`
}

func run(ctx context.Context, data, path, pairsFile string, extra map[string]string, finetune bool, steps int) (*result, error) {
	if data == "" {
		return nil, errors.New("no LFW folder: set SIAMESE_DATA or -data")
	}
	start := time.Now()
	if scratchOpts.on {
		return runScratch(ctx, data, pairsFile, steps, start)
	}
	var m *core.Model
	var err error
	name := path
	if path == "" {
		tgz, ferr := npmpkg.Fetch(ctx, face.FaceAPIPackage)
		if ferr != nil {
			return nil, ferr
		}
		m, err = face.Import(tgz, face.ImportOptions{})
		name = "face-api.js ResNet as imported"
	} else {
		m, err = core.Load(path)
	}
	if err != nil {
		return nil, err
	}
	defer m.Close()
	for k, v := range extra {
		if v != "" {
			if m.Preprocess.Extra == nil {
				m.Preprocess.Extra = map[string]string{}
			}
			m.Preprocess.Extra[k] = v
			name += fmt.Sprintf(", %s=%s", k, v)
		}
	}
	lfw, folds, err := openFolds(data, pairsFile)
	if err != nil {
		return nil, err
	}
	defer lfw.Close()
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		return nil, err
	}
	var kf *metrics.KFold
	if cachedOpts.n > 0 {
		r := *face.Policy.FineTune
		if steps != 0 {
			r.Steps = max(steps, 0)
		}
		if cachedOpts.lr > 0 {
			r.LR = cachedOpts.lr
		}
		if cachedOpts.items > 0 {
			r.Items = cachedOpts.items
			r.Pairs = r.Items * (r.Items - 1) / 2
		}
		if kf, err = cachedTuned(ctx, lfw, m, folds, cachedOpts.n, cachedOpts.from, r, cachedOpts.flip, cachedOpts.file, cachedOpts.only); err != nil {
			return nil, err
		}
		name += fmt.Sprintf(", layers %d on fine-tuned per fold on cached activations (%d steps, lr %g, flip %v)", cachedOpts.n, r.Steps, r.LR, cachedOpts.flip)
	} else if !finetune {
		scored, err := face.ScoreFolds(ctx, folds, lfw.ModelEmbedder(m, dec, 32, progress), m.Head.Score)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, err
		}
		if kf, err = metrics.CrossValidate(scored); err != nil {
			return nil, err
		}
	} else {
		if kf, err = fineTuned(ctx, lfw, m, folds, steps, progress); err != nil {
			return nil, err
		}
		name += ", fine-tuned per fold"
	}
	return &result{Model: name, Pairs: pairsFile, KFold: kf, Took: time.Since(start).Round(time.Second).String()}, nil
}

// openFolds opens LFW and reads a pairs file's folds; View 1's one list
// becomes two halves, each half matched and half mismatched.
func openFolds(data, file string) (*face.LFW, [][]face.Pair, error) {
	lfw, err := face.OpenLFW(data)
	if err != nil {
		return nil, nil, err
	}
	folds, err := lfw.Pairs(file)
	if err != nil {
		lfw.Close()
		return nil, nil, err
	}
	if len(folds) == 1 {
		f, n := folds[0], len(folds[0])/2
		folds = [][]face.Pair{append(append([]face.Pair(nil), f[:n/2]...), f[n:n+n/2]...), append(append([]face.Pair(nil), f[n/2:n]...), f[n+n/2:]...)}
	}
	return lfw, folds, nil
}

// progress reports embedding on stderr.
func progress(done, total int) {
	if done%640 == 0 || done == total {
		fmt.Fprintf(os.Stderr, "\rembedded %d/%d images ", done, total)
	}
}

// runScratch is run for -scratch: no model to start from.
func runScratch(ctx context.Context, data, pairsFile string, steps int, start time.Time) (*result, error) {
	if steps <= 0 {
		return nil, fmt.Errorf("-scratch needs -steps")
	}
	lfw, folds, err := openFolds(data, pairsFile)
	if err != nil {
		return nil, err
	}
	defer lfw.Close()
	kf, err := fromScratch(ctx, lfw, folds, scratchOpts.groups, steps, progress)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("the face tower from scratch (%v input, %d steps a model, %d models)", scratchInput, steps, scratchOpts.groups)
	return &result{Model: name, Pairs: pairsFile, KFold: kf, Took: time.Since(start).Round(time.Second).String()}, nil
}

// fineTuned is the protocol with one fine-tuned model per fold.
func fineTuned(ctx context.Context, lfw *face.LFW, m *core.Model, folds [][]face.Pair, steps int, progress func(done, total int)) (*metrics.KFold, error) {
	faces, err := face.NewFaces(m.Preprocess, m.Assets)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "faces-lfw-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	base := tmp + "/base.model"
	if err := m.Save(base); err != nil {
		return nil, err
	}
	byModel := make([][]metrics.Fold, len(folds))
	for k := range folds {
		dom, err := lfw.TrainDomain(m.Preprocess, faces.Prepare, face.People(folds[k]))
		if err != nil {
			return nil, err
		}
		mk, err := core.Load(base)
		if err != nil {
			return nil, err
		}
		r := *face.Policy.FineTune
		if steps > 0 {
			r.Steps = steps
		}
		if err := core.FreezeLayers(mk.Tower, r.Freeze); err != nil {
			return nil, err
		}
		cfg := train.FromRecipe(r)
		cfg.Seed = uint64(k + 1)
		res, err := (&train.Trainer{Model: mk, Domain: dom, Config: cfg}).Run(ctx)
		if err != nil {
			return nil, err
		}
		dec, err := core.NewDecoder(mk.Preprocess, mk.Assets...)
		if err != nil {
			return nil, err
		}
		if byModel[k], err = face.ScoreFolds(ctx, folds, lfw.ModelEmbedder(mk, dec, 32, progress), mk.Head.Score); err != nil {
			return nil, err
		}
		acc, _ := metrics.CrossValidateEach(repeatFold(byModel[k], len(folds)))
		fmt.Fprintf(os.Stderr, "\nfold %d: fine-tuned %d steps in %.0f s; fold accuracy %.2f%%\n", k+1, res.Steps, res.Seconds, 100*acc.Accuracies[k])
		mk.Close()
	}
	return metrics.CrossValidateEach(byModel)
}

// repeatFold is one model's scores standing in for every fold's model.
func repeatFold(f []metrics.Fold, n int) [][]metrics.Fold {
	out := make([][]metrics.Fold, n)
	for i := range out {
		out[i] = f
	}
	return out
}
