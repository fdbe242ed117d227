// Package tracking is object tracking with a Siamese network, after SiamFC
// (Bertinetto et al. 2016): video sequences in the OTB and VOT layouts
// (folder or zip) with their ground truth; training pairs of crops with
// context (the domain "tracking"); the tracker, which finds the exemplar's
// features in a search region at three scales each frame; the OTB metrics
// (success curve and its AUC, precision at 20 pixels) and plots; two
// baselines, the first box held still and template matching by normalised
// cross-correlation on raw pixels; annotated GIFs.
//
// A model for it pairs a fully-convolutional tower (towers/fconv) with the
// cross-correlation head (heads/xcorr).
package tracking

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/siamesenet/siamese/internal/imageset"
)

// Box is an axis-aligned box in pixels: top-left corner (0-based) and size.
type Box struct{ X, Y, W, H float64 }

// Absent reports whether the box marks a frame without the target (OTB's
// 0,0,0,0 line, or any box under a pixel): such frames are never trained
// on and are left out of the success and precision curves.
func (b Box) Absent() bool { return !(b.W > 0 && b.H > 0) }

// Center returns the box's centre.
func (b Box) Center() (float64, float64) { return b.X + b.W/2, b.Y + b.H/2 }

// IoU is the intersection over union of two boxes.
func IoU(a, b Box) float64 {
	x0, y0 := math.Max(a.X, b.X), math.Max(a.Y, b.Y)
	x1, y1 := math.Min(a.X+a.W, b.X+b.W), math.Min(a.Y+a.H, b.Y+b.H)
	inter := math.Max(0, x1-x0) * math.Max(0, y1-y0)
	union := a.W*a.H + b.W*b.H - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// CheckInit rejects an initial box of zero size or outside a frame of
// w×h pixels.
func CheckInit(b Box, w, h int) error {
	if !(b.W >= 1 && b.H >= 1) {
		return fmt.Errorf("initial box %v×%v is under a pixel", b.W, b.H)
	}
	if b.W > 2*float64(w) || b.H > 2*float64(h) {
		return fmt.Errorf("initial box %g×%g is larger than twice the %d×%d frame", b.W, b.H, w, h)
	}
	if b.X+b.W <= 0 || b.Y+b.H <= 0 || b.X >= float64(w) || b.Y >= float64(h) {
		return fmt.Errorf("initial box (%g,%g %g×%g) lies outside the %d×%d frame", b.X, b.Y, b.W, b.H, w, h)
	}
	return nil
}

// ParseGroundTruth reads one box per line: OTB's x,y,w,h (1-based; comma,
// tab or space separated) or VOT's polygon x1,y1,…,x4,y4 (its bounding
// box). Boxes come back 0-based; a line of 0,0,0,0 (the target absent)
// comes back as the zero Box, whose Absent is true. Errors name the line.
func ParseGroundTruth(r io.Reader, name string) ([]Box, error) {
	var out []Box
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		f := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == '\t' || r == ' ' || r == ';' })
		v := make([]float64, len(f))
		for i, s := range f {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%s:%d: %q is not a number", name, line, s)
			}
			v[i] = x
		}
		switch len(v) {
		case 4:
			if v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0 {
				out = append(out, Box{})
				continue
			}
			out = append(out, Box{X: v[0] - 1, Y: v[1] - 1, W: v[2], H: v[3]})
		case 8:
			x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
			for i := 0; i < 8; i += 2 {
				x0, x1 = math.Min(x0, v[i]), math.Max(x1, v[i])
				y0, y1 = math.Min(y0, v[i+1]), math.Max(y1, v[i+1])
			}
			out = append(out, Box{X: x0 - 1, Y: y0 - 1, W: x1 - x0, H: y1 - y0})
		default:
			return nil, fmt.Errorf("%s:%d: %d values, want x,y,w,h or 8 polygon coordinates", name, line, len(v))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Sequence is one video: its frames (paths in Source) and ground truth.
type Sequence struct {
	Name   string
	Frames []string
	Boxes  []Box
	Source *imageset.Source
}

// Frame decodes frame i.
func (s *Sequence) Frame(i int) (image.Image, error) {
	raw, err := fs.ReadFile(s.Source.FS, s.Frames[i])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Source.Where(s.Frames[i]), err)
	}
	img, err := imageset.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Source.Where(s.Frames[i]), err)
	}
	return img, nil
}

// Open finds the sequences of a folder or zip: every folder holding
// groundtruth_rect.txt (OTB; frames in img/) or groundtruth.txt (VOT;
// frames beside it or in imgs/ or color/). Each must have one
// ground-truth line per frame. Close the returned source when done.
func Open(p string) ([]*Sequence, *imageset.Source, error) {
	src, err := imageset.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open sequences: %w", err)
	}
	var seqs []*Sequence
	err = fs.WalkDir(src.FS, ".", func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := path.Base(f)
		if d.IsDir() || (base != "groundtruth_rect.txt" && base != "groundtruth.txt") {
			return nil
		}
		dir := path.Dir(f)
		s, err := loadSequence(src, dir, f)
		if err != nil {
			return err
		}
		seqs = append(seqs, s)
		return nil
	})
	if err == nil && len(seqs) == 0 {
		err = fmt.Errorf("%s: no sequence (groundtruth_rect.txt or groundtruth.txt) found", p)
	}
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	sort.Slice(seqs, func(a, b int) bool { return seqs[a].Name < seqs[b].Name })
	return seqs, src, nil
}

func loadSequence(src *imageset.Source, dir, gt string) (*Sequence, error) {
	frames, err := findFrames(src, dir)
	if err != nil {
		return nil, err
	}
	f, err := src.FS.Open(gt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Where(gt), err)
	}
	defer f.Close()
	boxes, err := ParseGroundTruth(f, src.Where(gt))
	if err != nil {
		return nil, err
	}
	if len(boxes) != len(frames) {
		return nil, fmt.Errorf("%s: %d ground-truth lines for %d frames", src.Where(gt), len(boxes), len(frames))
	}
	if boxes[0].Absent() {
		return nil, fmt.Errorf("%s:1: the target is absent (0,0,0,0) in the first frame, which must show it", src.Where(gt))
	}
	name := path.Base(dir)
	if dir == "." {
		name = path.Base(src.Name)
	}
	return &Sequence{Name: name, Frames: frames, Boxes: boxes, Source: src}, nil
}

// findFrames lists the frame images of a sequence folder, in name order:
// those in img/, imgs/ or color/, else those in the folder itself.
func findFrames(src *imageset.Source, dir string) ([]string, error) {
	var frames []string
	for _, sub := range []string{"img", "imgs", "color", "."} {
		entries, err := fs.ReadDir(src.FS, path.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() && imageset.IsImage(e.Name()) {
				frames = append(frames, path.Join(dir, sub, e.Name()))
			}
		}
		if len(frames) > 0 {
			break
		}
	}
	if len(frames) == 0 {
		return nil, fmt.Errorf("%s: no frames (img/, imgs/, color/ or beside the ground truth)", src.Where(dir))
	}
	sort.Strings(frames)
	return frames, nil
}

// OpenFrames opens a folder or zip of frames without ground truth (in
// img/, imgs/, color/ or the folder itself, in name order), as a
// sequence with no boxes. Close the returned source when done.
func OpenFrames(p string) (*Sequence, *imageset.Source, error) {
	src, err := imageset.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("open frames: %w", err)
	}
	frames, err := findFrames(src, ".")
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return &Sequence{Name: path.Base(src.Name), Frames: frames, Source: src}, src, nil
}
