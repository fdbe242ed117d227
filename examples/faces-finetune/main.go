// Command faces-finetune chooses the face domain's fine-tuning recipe for
// the imported network on data no test uses: ORL's 30 subjects outside
// its test split (seed 1), in three rotations of 20 subjects to fine-tune
// on and 10 to score (pair EER and ROC AUC over every pair of their
// photos, detected and aligned as a user's are). Each candidate recipe is
// fine-tuned from the imported weights in every rotation and scored by the
// mean EER of the three.
//
//	go run ./examples/faces-finetune
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/heads/cosine"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/npmpkg"
)

// candidate is a recipe to try: the domain's fine-tuning recipe with its
// frozen layers, steps and learning rate replaced.
type candidate struct {
	freeze, steps int
	lr            float64
}

func main() {
	data := flag.String("data", datadir.Domain("att_faces"), "ORL folder or att_faces.zip (default $SIAMESE_DATA/att_faces)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *data); err != nil {
		fmt.Fprintln(os.Stderr, "faces-finetune:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data string) error {
	if data == "" {
		return fmt.Errorf("no ORL folder: set SIAMESE_DATA or -data")
	}
	tgz, err := npmpkg.Fetch(ctx, face.FaceAPIPackage)
	if err != nil {
		return err
	}
	imp, err := face.Import(tgz, face.ImportOptions{})
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "faces-finetune-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	base := tmp + "/imported.model"
	if err := imp.Save(base); err != nil {
		return err
	}
	pre := imp.Preprocess
	d, err := face.Open(core.DomainOptions{DataDir: data, Preprocess: &pre, Assets: imp.Assets})
	if err != nil {
		return err
	}
	dev := append(append([]int(nil), d.Train...), d.Val...) // the 30 subjects outside the test split
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(dev), func(i, j int) { dev[i], dev[j] = dev[j], dev[i] })
	r := *face.Policy.FineTune
	candidates := []candidate{
		{steps: 0},
		{r.Freeze, r.Steps, r.LR}, // the recipe chosen on the tiny detector's chips
		{10, 50, 1e-4},
		{10, 200, 1e-4},
		{10, 100, 3e-5},
		{14, 100, 1e-4},
		{14, 100, 1e-3},
	}
	fmt.Printf("fine-tuning recipes on ORL's %d subjects outside the test split, 3 rotations of 20 to train and 10 to score\n", len(dev))
	for _, c := range candidates {
		var eers, aucs []float64
		start := time.Now()
		for rot := 0; rot < 3; rot++ {
			scored := dev[rot*10 : rot*10+10]
			var trainOn []int
			for i, s := range dev {
				if i < rot*10 || i >= rot*10+10 {
					trainOn = append(trainOn, s)
				}
			}
			m, err := core.Load(base)
			if err != nil {
				return err
			}
			if c.steps > 0 {
				if err := fineTune(ctx, m, d, trainOn, r, c, uint64(rot+1)); err != nil {
					m.Close()
					return err
				}
			}
			var items []core.Item
			var labels []int
			for _, s := range scored {
				for _, x := range d.Set.Classes[s].Items {
					items = append(items, core.Item{Dense: x})
					labels = append(labels, s)
				}
			}
			v, err := metrics.VerifyAll(ctx, m, items, labels)
			m.Close()
			if err != nil {
				return err
			}
			eers, aucs = append(eers, v.EER), append(aucs, v.AUC)
		}
		name := "as imported"
		if c.steps > 0 {
			name = fmt.Sprintf("freeze %d, %d steps, lr %g", c.freeze, c.steps, c.lr)
		}
		fmt.Printf("%-32s pair EER %5.2f%% (%5.2f %5.2f %5.2f)  AUC %.4f  %s\n", name, 100*mean(eers), 100*eers[0], 100*eers[1], 100*eers[2], mean(aucs), time.Since(start).Round(time.Second))
	}
	return nil
}

// fineTune trains m on the subjects trainOn with recipe r, changed by c
// (no validation: the last weights are scored).
func fineTune(ctx context.Context, m *core.Model, d *face.Domain, trainOn []int, r core.Recipe, c candidate, seed uint64) error {
	dom := &imageset.Domain{
		Desc:   d.Desc,
		Splits: map[string]imageset.Batcher{r.Split: &imageset.PairSampler{Set: d.Set, Classes: trainOn, Augment: imageset.FaceAugment, PerClass: face.PerClass}},
		Tasks:  map[string]func(context.Context) ([]core.Episode, error){},
	}
	if err := core.FreezeLayers(m.Tower, c.freeze); err != nil {
		return err
	}
	cfg := train.FromRecipe(r)
	cfg.Steps, cfg.LR, cfg.Seed, cfg.ValEvery = c.steps, c.lr, seed, 0
	_, err := (&train.Trainer{Model: m, Domain: dom, Config: cfg}).Run(ctx)
	return err
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
