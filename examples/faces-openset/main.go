// Command faces-openset checks the imported face network's threshold
// across data sets: calibrated on LFW View 1's training pairs (at the EER,
// and at false-accept rates of 1% and 0.1%), then applied to ORL's 10
// unseen subjects, photos detected and aligned: 5 of them enrolled from 5
// photos each and probed with their other 5, the other 5 subjects
// strangers probed with all 10 photos. It prints how many enrolled probes
// are named right and how many strangers are turned away.
//
//	go run ./examples/faces-openset
package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/npmpkg"
	_ "github.com/siamesenet/siamese/towers/resnet"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "faces-openset:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	tgz, err := npmpkg.Fetch(ctx, face.FaceAPIPackage)
	if err != nil {
		return err
	}
	m, err := face.Import(tgz, face.ImportOptions{})
	if err != nil {
		return err
	}
	lfw, err := face.OpenLFW(datadir.Domain(face.LFWFolder))
	if err != nil {
		return err
	}
	defer lfw.Close()
	folds, err := lfw.Pairs("pairsDevTrain.txt")
	if err != nil {
		return err
	}
	crops := m.Preprocess
	crops.Extra = map[string]string{"detect": face.DetectOff}
	dec, err := core.NewDecoder(crops, m.Assets...)
	if err != nil {
		return err
	}
	scored, err := face.ScoreFolds(ctx, folds, lfw.ModelEmbedder(m, dec, 32, nil), m.Head.Score)
	if err != nil {
		return err
	}
	v, err := metrics.Verify(scored[0].Scores, scored[0].Same, math.NaN())
	if err != nil {
		return err
	}
	th2, _ := v.ThresholdAtFAR(1e-2)
	th3, _ := v.ThresholdAtFAR(1e-3)

	pre := m.Preprocess
	d, err := face.Open(core.DomainOptions{DataDir: datadir.Domain("att_faces"), Preprocess: &pre, Assets: m.Assets})
	if err != nil {
		return err
	}
	embed := func(xs [][]float32) ([][]float32, error) {
		items := make([]core.Item, len(xs))
		for i, x := range xs {
			items[i] = core.Item{Dense: x}
		}
		return m.Embed(ctx, items, 32)
	}
	type probe struct {
		emb   []float32
		class int // -1: a stranger
	}
	var gallery [][][]float32
	var probes []probe
	for i, c := range d.Test {
		es, err := embed(d.Set.Classes[c].Items)
		if err != nil {
			return err
		}
		if i < 5 {
			gallery = append(gallery, es[:5])
			for _, e := range es[5:] {
				probes = append(probes, probe{e, i})
			}
			continue
		}
		for _, e := range es {
			probes = append(probes, probe{e, -1})
		}
	}
	fmt.Printf("threshold from LFW View 1 training pairs (%d), applied to ORL's unseen subjects (5 enrolled, 25 probes; 5 strangers, 50 probes):\n\n", len(scored[0].Scores))
	fmt.Println("| threshold (LFW) | score | enrolled named right | strangers turned away |")
	fmt.Println("|---|---|---|---|")
	for _, t := range []struct {
		name string
		th   float64
	}{{"at LFW's EER", v.EERThresh}, {"at LFW FAR 1%", th2}, {"at LFW FAR 0.1%", th3}} {
		right, away := 0, 0
		for _, p := range probes {
			best, who := -1.0, -1
			for g, refs := range gallery {
				for _, r := range refs {
					if s := float64(m.Head.Score(p.emb, r)); s > best {
						best, who = s, g
					}
				}
			}
			known := best >= t.th
			switch {
			case p.class >= 0 && known && who == p.class:
				right++
			case p.class < 0 && !known:
				away++
			}
		}
		fmt.Printf("| %s | %.4f | %d/25 | %d/50 |\n", t.name, t.th, right, away)
	}
	return nil
}
