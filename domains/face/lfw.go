package face

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/internal/imageset"
)

// LFWFolder is LFW's folder under $SIAMESE_DATA: lfw.zip (lfw/<Name>/
// <Name>_NNNN.jpg) with pairs.txt (View 2) and pairsDevTrain.txt,
// pairsDevTest.txt (View 1).
const LFWFolder = "lfw"

// Pair is one pair of an LFW pairs file, as image paths inside lfw.zip.
type Pair struct {
	A, B string
	Same bool
}

// LFWImage is the path of image n of name inside lfw.zip.
func LFWImage(name string, n int) string {
	return fmt.Sprintf("lfw/%s/%s_%04d.jpg", name, name, n)
}

// ParsePairs reads an LFW pairs file: a header "folds<TAB>n" (View 2) or
// "n" (View 1: one fold), then for each fold n matched lines "name i j"
// and n mismatched lines "name1 i name2 j". Any other line is an error
// naming its line number.
func ParsePairs(r io.Reader, where string) ([][]Pair, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	line := 0
	next := func() ([]string, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", where, line+1, err)
			}
			return nil, fmt.Errorf("%s:%d: the file ends early", where, line+1)
		}
		line++
		return strings.Fields(sc.Text()), nil
	}
	num := func(s string, what string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 100000 {
			return 0, fmt.Errorf("%s:%d: %s %q is not a number from 1 to 100000", where, line, what, s)
		}
		return v, nil
	}
	head, err := next()
	if err != nil {
		return nil, err
	}
	folds, n := 1, 0
	switch len(head) {
	case 1:
		n, err = num(head[0], "pair count")
	case 2:
		if folds, err = num(head[0], "fold count"); err == nil {
			n, err = num(head[1], "pair count")
		}
	default:
		err = fmt.Errorf("%s:1: want a header \"folds<TAB>pairs\" or \"pairs\", got %q", where, sc.Text())
	}
	if err != nil {
		return nil, err
	}
	if folds*n > 1000000 {
		return nil, fmt.Errorf("%s:1: %d folds of %d pairs is too many", where, folds, n)
	}
	out := make([][]Pair, folds)
	for f := range out {
		for i := 0; i < 2*n; i++ {
			fs, err := next()
			if err != nil {
				return nil, err
			}
			same := i < n
			var p Pair
			switch {
			case same && len(fs) == 3:
				a, err1 := num(fs[1], "image number")
				b, err2 := num(fs[2], "image number")
				if err := firstErr(err1, err2); err != nil {
					return nil, err
				}
				p = Pair{A: LFWImage(fs[0], a), B: LFWImage(fs[0], b), Same: true}
			case !same && len(fs) == 4:
				a, err1 := num(fs[1], "image number")
				b, err2 := num(fs[3], "image number")
				if err := firstErr(err1, err2); err != nil {
					return nil, err
				}
				p = Pair{A: LFWImage(fs[0], a), B: LFWImage(fs[2], b)}
			default:
				want := "name, image, image (a matched pair)"
				if !same {
					want = "name, image, name, image (a mismatched pair)"
				}
				return nil, fmt.Errorf("%s:%d: want %s, got %q", where, line, want, sc.Text())
			}
			if strings.ContainsAny(p.A+p.B, "\\:") || strings.Contains(p.A+p.B, "..") {
				return nil, fmt.Errorf("%s:%d: a name with a path in it", where, line)
			}
			out[f] = append(out[f], p)
		}
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// LFW is the data set: its images (read on demand) and pair files.
type LFW struct {
	Dir string
	src *imageset.Source
}

// OpenLFW opens the LFW folder (lfw.zip, or an lfw/ tree, in dir).
func OpenLFW(dir string) (*LFW, error) {
	p := filepath.Join(dir, "lfw.zip")
	if _, err := os.Stat(p); err != nil {
		p = dir
	}
	src, err := imageset.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lfw: %w", err)
	}
	return &LFW{Dir: dir, src: src}, nil
}

// Close releases the images.
func (l *LFW) Close() error { return l.src.Close() }

// Source is the image source (a zip or folder).
func (l *LFW) Source() *imageset.Source { return l.src }

// Pairs reads one of the pair files: "pairs.txt" (View 2, ten folds),
// "pairsDevTrain.txt" or "pairsDevTest.txt" (View 1).
func (l *LFW) Pairs(file string) ([][]Pair, error) {
	p := filepath.Join(l.Dir, file)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("lfw: %w", err)
	}
	defer f.Close()
	return ParsePairs(f, p)
}

// Embedder embeds image files of the set; the face domain's one is
// Model.Embed over each file decoded by the model's preprocessing.
type Embedder func(ctx context.Context, paths []string) ([][]float32, error)

// ModelEmbedder embeds LFW files with m, decoded by dec (the model's
// decoder for a user's photo: for the "face" kind, detection and
// alignment), batch images at a time, calling progress after each batch.
func (l *LFW) ModelEmbedder(m *core.Model, dec core.Decoder, batch int, progress func(done, total int)) Embedder {
	return func(ctx context.Context, paths []string) ([][]float32, error) {
		out := make([][]float32, 0, len(paths))
		for lo := 0; lo < len(paths); lo += batch {
			hi := min(lo+batch, len(paths))
			items := make([]core.Item, hi-lo)
			errs := make([]error, hi-lo)
			imageset.Each(hi-lo, func(i int) {
				raw, err := fs.ReadFile(l.src.FS, paths[lo+i])
				if err == nil {
					items[i], err = dec.Decode(raw)
				}
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", l.src.Where(paths[lo+i]), err)
				}
			})
			if err := errors.Join(errs...); err != nil {
				return nil, firstErr(errs...)
			}
			es, err := m.Embed(ctx, items, len(items))
			if err != nil {
				return nil, err
			}
			out = append(out, es...)
			if progress != nil {
				progress(hi, len(paths))
			}
		}
		return out, nil
	}
}

// ScoreFolds embeds every image the folds name once and scores each pair
// with score: the folds of metrics.CrossValidate.
func ScoreFolds(ctx context.Context, folds [][]Pair, embed Embedder, score func(a, b []float32) float32) ([]metrics.Fold, error) {
	index := map[string]int{}
	var paths []string
	for _, f := range folds {
		for _, p := range f {
			for _, q := range []string{p.A, p.B} {
				if _, ok := index[q]; !ok {
					index[q] = len(paths)
					paths = append(paths, q)
				}
			}
		}
	}
	es, err := embed(ctx, paths)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.Fold, len(folds))
	for i, f := range folds {
		for _, p := range f {
			out[i].Scores = append(out[i].Scores, float64(score(es[index[p.A]], es[index[p.B]])))
			out[i].Same = append(out[i].Same, p.Same)
		}
	}
	return out, nil
}

// TrainDomain is a face domain over LFW's people with at least two images,
// but for those in exclude (a test fold's), their photos prepared by
// prepare: the training data of the 10-fold protocol's fine-tuning.
func (l *LFW) TrainDomain(pre core.Preprocess, prepare func(image.Image) ([]float32, error), exclude map[string]bool) (core.Domain, error) {
	set, err := l.src.Load(imageset.LoadOptions{Pre: pre, Prepare: prepare, Filter: func(class, _ string) bool {
		return !exclude[path.Base(class)]
	}, SkipSingles: true})
	if err != nil {
		return nil, err
	}
	input := []int{pre.Channels, pre.Height, pre.Width}
	return &imageset.Domain{
		Desc: core.Description{Name: Name, Version: "1", Policy: Policy, InputKind: InputKind,
			Input: core.InputSpec{Kind: core.Dense, Shape: input}, Preprocess: pre},
		Splits: map[string]imageset.Batcher{
			"train": &imageset.PairSampler{Set: set, Classes: imageset.AllClasses(set), Augment: imageset.FaceAugment, PerClass: PerClass},
		},
		Tasks: map[string]func(context.Context) ([]core.Episode, error){},
	}, nil
}

// People returns the names of the people the folds' pairs show.
func People(folds ...[]Pair) map[string]bool {
	out := map[string]bool{}
	for _, f := range folds {
		for _, p := range f {
			out[path.Base(path.Dir(p.A))] = true
			out[path.Base(path.Dir(p.B))] = true
		}
	}
	return out
}
