// Command faces-lfw runs LFW's verification protocol (View 2: ten folds of
// 300 matched and 300 mismatched pairs; the threshold chosen on nine
// folds, accuracy on the tenth; mean ± standard error) with ROC AUC, EER
// and TAR at FAR 1e-3 over all 6,000 pairs, for a face model: by default
// the imported face-api.js network (dlib's ResNet) as it is.
//
//	go run ./examples/faces-lfw                    # import from the npm cache, as-is
//	go run ./examples/faces-lfw -model M.model     # any face model file
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
	jsonOut := flag.Bool("json", false, "print the result as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, *data, *model)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faces-lfw:", err)
		os.Exit(1)
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	fmt.Printf("LFW View 2, %s: %.2f%% ± %.2f (10-fold), ROC AUC %.4f, EER %.2f%%, TAR@FAR 1e-3 %.2f%% (%s)\n",
		r.Model, 100*r.Mean, 100*r.StdErr, r.AUC, 100*r.EER, 100*r.TARAt1e3, r.Took)
}

type result struct {
	Model string `json:"model"`
	*metrics.KFold
	Took string `json:"took"`
}

func run(ctx context.Context, data, path string) (*result, error) {
	if data == "" {
		return nil, errors.New("no LFW folder: set SIAMESE_DATA or -data")
	}
	start := time.Now()
	var m *core.Model
	var err error
	name := path
	if path == "" {
		tgz, ferr := npmpkg.Fetch(ctx, face.FaceAPIPackage)
		if ferr != nil {
			return nil, ferr
		}
		m, err = face.Import(tgz)
		name = "face-api.js ResNet as imported"
	} else {
		m, err = core.Load(path)
	}
	if err != nil {
		return nil, err
	}
	defer m.Close()
	lfw, err := face.OpenLFW(data)
	if err != nil {
		return nil, err
	}
	defer lfw.Close()
	folds, err := lfw.Pairs("pairs.txt")
	if err != nil {
		return nil, err
	}
	progress := func(done, total int) {
		if done%640 == 0 || done == total {
			fmt.Fprintf(os.Stderr, "\rembedded %d/%d images", done, total)
		}
	}
	scored, err := face.ScoreFolds(ctx, folds, lfw.ModelEmbedder(m, 32, progress), m.Head.Score)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	kf, err := metrics.CrossValidate(scored)
	if err != nil {
		return nil, err
	}
	return &result{Model: name, KFold: kf, Took: time.Since(start).Round(time.Second).String()}, nil
}
