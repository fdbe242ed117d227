// Command faces-align chooses, on data no test uses, how the face kind
// detects and aligns: ORL's 30 subjects outside its test split (seed 1;
// whole heads on a plain background, 92×112) and LFW View 1's training
// images pasted at random places and sizes into 640×480 scenes.
//
// It prints detection recall (and stray boxes) for a few detector
// settings, then what alignment is worth to the imported face network:
// pair EER and ROC AUC over every ORL pair of those subjects, for the
// whole photo taken as the face (no detection) and for detected faces cut
// at a grid of chip scales and shifts.
//
//	go run ./examples/faces-align
package main

import (
	"context"
	"flag"
	"fmt"
	"image"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/npmpkg"
	"github.com/siamesenet/siamese/internal/scenes"
	"github.com/siamesenet/siamese/internal/tinyyolo"
	_ "github.com/siamesenet/siamese/towers/resnet"
)

func main() {
	data := flag.String("data", datadir.Domain("att_faces"), "ORL folder or att_faces.zip")
	search := flag.Bool("search", true, "compare the detector searches first (about 15 minutes on 2 cores)")
	scales := flag.String("scales", "0.9,1.0,1.1,1.2,1.3,1.4", "chip scales to try")
	shifts := flag.String("shifts", "-0.1,0,0.1,0.15,0.2", "chip shifts to try")
	flag.Parse()
	if err := run(context.Background(), *data, *search, floats(*scales), floats(*shifts)); err != nil {
		fmt.Fprintln(os.Stderr, "faces-align:", err)
		os.Exit(1)
	}
}

type photo struct {
	img   image.Image
	class int
	box   *tinyyolo.Box
}

// floats parses a comma-separated list of numbers (exiting on a bad one).
func floats(list string) []float64 {
	var out []float64
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "faces-align: %q is not a number\n", f)
			os.Exit(2)
		}
		out = append(out, v)
	}
	return out
}

func run(ctx context.Context, data string, search bool, scales, shifts []float64) error {
	tgz, err := npmpkg.Fetch(ctx, face.FaceAPIPackage)
	if err != nil {
		return err
	}
	m, err := face.Import(tgz, face.ImportOptions{})
	if err != nil {
		return err
	}
	src, err := imageset.Open(datadir.Archive(data, "att_faces.zip"))
	if err != nil {
		return err
	}
	defer src.Close()
	byClass := map[string][]string{}
	fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && imageset.IsImage(p) && !strings.HasPrefix(path.Base(p), ".") {
			byClass[path.Dir(p)] = append(byClass[path.Dir(p)], p)
		}
		return nil
	})
	var classes []string
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	test, _, _ := face.Split(len(classes), 10, 5, 1)
	isTest := map[int]bool{}
	for _, c := range test {
		isTest[c] = true
	}
	faces, err := face.NewFaces(m.Preprocess, m.Assets)
	if err != nil {
		return err
	}
	scenes, truth, err := lfwScenes(ctx, 300)
	if err != nil {
		return err
	}
	empty := emptyScenes(200)
	var photos []photo // decoded once; their boxes come with the default search below
	for ci, c := range classes {
		if isTest[ci] {
			continue
		}
		for _, f := range byClass[c] {
			raw, err := fs.ReadFile(src.FS, f)
			if err != nil {
				return err
			}
			img, err := imageset.Decode(raw)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			photos = append(photos, photo{img: img, class: ci})
		}
	}
	orl := len(photos)
	fmt.Printf("detection: %d ORL photos of the training subjects, %d LFW View 1 training images in scenes\n", orl, len(scenes))
	def := face.DefaultDetection
	candidates := []face.Detection{}
	tiny := []face.Pass{{Size: 416}, {Size: 224}}
	pads := []face.Pass{{Pad: 0.5, Size: 224}, {Pad: 1, Size: 416}}
	ssd := face.Pass{SSD: true}
	if search {
		candidates = []face.Detection{
			{Passes: tiny[:1], Threshold: 0.5}, // face-api.js's defaults
			{Passes: tiny[:1], Threshold: 0.3},
			{Passes: tiny, Threshold: 0.3},
			{Passes: tiny[:1], Fallback: pads, Threshold: 0.3},
			{Passes: tiny, Fallback: pads, Threshold: 0.3}, // the tiny detector's search
			{Passes: []face.Pass{ssd}},                     // SSD alone, face-api.js's threshold
			{Passes: []face.Pass{ssd}, SSDThreshold: 0.3},
			{Passes: []face.Pass{ssd}, Fallback: []face.Pass{{Pad: 0.5, SSD: true}}, SSDThreshold: 0.3},
			{Passes: []face.Pass{ssd}, Fallback: []face.Pass{{Pad: 0.5, SSD: true}}, LastResort: tiny, SSDThreshold: 0.3, Threshold: 0.3},
			{Passes: []face.Pass{ssd}, Fallback: []face.Pass{{Pad: 0.5, SSD: true}}, LastResort: []face.Pass{{Pad: 0.25, SSD: true}}, SSDThreshold: 0.3},
			{Passes: tiny, Fallback: append([]face.Pass{ssd}, pads...), Threshold: 0.3},
			{Passes: tiny, Fallback: append([]face.Pass{ssd}, pads...), Threshold: 0.3, SSDThreshold: 0.3},
			{Passes: append(tiny, ssd), Fallback: pads, Threshold: 0.3},
			{Passes: append(tiny, ssd), Fallback: pads, Threshold: 0.3, SSDThreshold: 0.3},
		}
	}
	for _, d := range append(candidates, def) {
		fd := faces.WithDetection(d)
		hit := 0
		for _, p := range photos {
			if b, _ := fd.Detect(p.img); len(b) > 0 {
				hit++
			}
		}
		sceneHits, stray := 0, 0
		for i, img := range scenes {
			b, _ := fd.Detect(img)
			ok := false
			for _, bx := range b {
				if tinyyolo.IoU(bx, truth[i]) >= 0.4 {
					ok = true
				} else {
					stray++
				}
			}
			if ok {
				sceneHits++
			}
		}
		inEmpty := 0
		for _, img := range empty {
			b, _ := fd.Detect(img)
			inEmpty += len(b)
		}
		fmt.Printf("%-60s ORL %d/%d (%.2f%%), LFW scenes %d/%d (%.2f%%), %d stray boxes, %d boxes in %d scenes without a face\n",
			fmt.Sprintf("%+v", d), hit, orl, 100*float64(hit)/float64(orl), sceneHits, len(scenes), 100*float64(sceneHits)/float64(len(scenes)), stray, inEmpty, len(empty))
	}
	found := 0
	for i := range photos {
		if b, err := faces.Detect(photos[i].img); err == nil && len(b) > 0 {
			photos[i].box = &b[0]
			found++
		}
	}
	fmt.Printf("%d photos of %d subjects outside the test split; a face detected in %d\n", len(photos), len(classes)-len(test), found)
	eval := func(name string, input func(p photo) []float32) error {
		items := make([]core.Item, len(photos))
		labels := make([]int, len(photos))
		for i, p := range photos {
			items[i], labels[i] = core.Item{Dense: input(p)}, p.class
		}
		v, err := metrics.VerifyAll(ctx, m, items, labels)
		if err != nil {
			return err
		}
		fmt.Printf("%-28s pair EER %5.2f%%  AUC %.4f\n", name, 100*v.EER, v.AUC)
		return nil
	}
	off, _ := faces.WithMode(face.DetectOff)
	if err := eval("whole photo (no detection)", func(p photo) []float32 { return must(off.Prepare(p.img)) }); err != nil {
		return err
	}
	for _, scale := range scales {
		for _, shift := range shifts {
			chip := face.Chip{Scale: scale, ShiftY: shift}
			err := eval(fmt.Sprintf("detected, scale %.2f shift %+.2f", scale, shift), func(p photo) []float32 {
				if p.box == nil {
					return must(off.Prepare(p.img))
				}
				return faces.WithChip(chip).Align(p.img, *p.box)
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// lfwScenes pastes n LFW View 1 training images into 640×480 scenes,
// 60 to 240 pixels a side, and returns the scenes and where each face is.
func lfwScenes(ctx context.Context, n int) ([]image.Image, []tinyyolo.Box, error) {
	lfw, err := face.OpenLFW(datadir.Domain(face.LFWFolder))
	if err != nil {
		return nil, nil, err
	}
	defer lfw.Close()
	folds, err := lfw.Pairs("pairsDevTrain.txt")
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(11, 11))
	var out []image.Image
	var truth []tinyyolo.Box
	for _, p := range folds[0] {
		if len(out) == n {
			break
		}
		if seen[p.A] {
			continue
		}
		seen[p.A] = true
		raw, err := fs.ReadFile(lfw.Source().FS, p.A)
		if err != nil {
			return nil, nil, err
		}
		img, err := imageset.Decode(raw)
		if err != nil {
			return nil, nil, err
		}
		sc, at := scenes.Paste(img, 640, 480, 60, 240, rng)
		out = append(out, sc)
		truth = append(truth, tinyyolo.Box{X: float64(at.Min.X), Y: float64(at.Min.Y), W: float64(at.Dx()), H: float64(at.Dy())})
	}
	return out, truth, nil
}

// emptyScenes are n scenes of the same kind without a face: a flat black
// square 60 to 240 pixels a side where the face would be.
func emptyScenes(n int) []image.Image {
	rng := rand.New(rand.NewPCG(5, 5))
	flat := image.NewRGBA(image.Rect(0, 0, 8, 8))
	out := make([]image.Image, n)
	for i := range out {
		out[i], _ = scenes.Paste(flat, 640, 480, 60, 240, rng)
	}
	return out
}

func must(x []float32, err error) []float32 {
	if err != nil {
		panic(err)
	}
	return x
}
