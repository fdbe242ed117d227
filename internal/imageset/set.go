package imageset

import (
	"archive/zip"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/siamesenet/siamese/core"
)

// Class is one class of a set: its preprocessed items.
type Class struct {
	Name  string // path of its folder inside the source
	Group string // path of the parent folder ("" for flat trees)
	Items [][]float32
	Files []string
}

// Set is a labelled image set, preprocessed in memory.
type Set struct {
	Source  string
	Classes []Class
	Pre     core.Preprocess
}

// Images counts the items of the set.
func (s *Set) Images() int {
	n := 0
	for _, c := range s.Classes {
		n += len(c.Items)
	}
	return n
}

// Source is a folder or a zip archive opened as a file system.
type Source struct {
	Name string // the path given by the user
	FS   fs.FS
	zip  *zip.ReadCloser
}

// Open opens a folder or a .zip file.
func Open(p string) (*Source, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return &Source{Name: p, FS: os.DirFS(p)}, nil
	}
	z, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &Source{Name: p, FS: z, zip: z}, nil
}

// Close releases the source.
func (s *Source) Close() error {
	if s.zip != nil {
		return s.zip.Close()
	}
	return nil
}

// Where names a file of the source for messages: "data.zip:dir/x.png".
func (s *Source) Where(name string) string {
	if s.zip != nil {
		return s.Name + ":" + name
	}
	return path.Join(s.Name, name)
}

// ReadImage reads, decodes and prepares one file of the source.
func (s *Source) ReadImage(name string, pre core.Preprocess) ([]float32, error) {
	return s.readImage(name, func(img image.Image) ([]float32, error) { return Prepare(img, pre) })
}

func (s *Source) readImage(name string, prepare func(image.Image) ([]float32, error)) ([]float32, error) {
	raw, err := fs.ReadFile(s.FS, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(name), err)
	}
	img, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(name), err)
	}
	x, err := prepare(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(name), err)
	}
	return x, nil
}

var imageExt = map[string]bool{".pgm": true, ".ppm": true, ".pnm": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".tif": true, ".tiff": true}

// IsImage reports whether a file name has an image extension.
func IsImage(name string) bool { return imageExt[strings.ToLower(path.Ext(name))] }

// LoadOptions tune Load.
type LoadOptions struct {
	Pre core.Preprocess
	// MinPerClass is the fewest images a class may have (default 2: a class
	// needs a positive pair).
	MinPerClass int
	// Filter, if set, keeps only classes for which it returns true.
	Filter func(class, group string) bool
	// Prepare, if set, turns each decoded image into its item in place of
	// Pre's kind (a face domain's detection and alignment, say).
	Prepare func(image.Image) ([]float32, error)
	// SkipSingles leaves out classes with fewer than MinPerClass images
	// instead of refusing the set (LFW: 4,069 people have one photo).
	SkipSingles bool
}

// Load reads a class-per-folder tree from a folder or zip: every folder
// that holds image files directly is a class, its parent folder is its
// group. Images are decoded in parallel and preprocessed.
func Load(p string, o LoadOptions) (*Set, error) {
	src, err := Open(p)
	if err != nil {
		return nil, fmt.Errorf("open image set: %w", err)
	}
	defer src.Close()
	return src.Load(o)
}

// Load reads the source as a class-per-folder tree (see the package Load).
func (s *Source) Load(o LoadOptions) (*Set, error) {
	if o.MinPerClass == 0 {
		o.MinPerClass = 2
	}
	files := map[string][]string{}
	err := fs.WalkDir(s.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !IsImage(p) || strings.HasPrefix(path.Base(p), ".") || strings.HasPrefix(p, "__MACOSX") {
			return nil
		}
		dir := path.Dir(p)
		files[dir] = append(files[dir], p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	var names []string
	for dir := range files {
		group := path.Dir(dir)
		if group == "." {
			group = ""
		}
		if o.Filter == nil || o.Filter(dir, group) {
			names = append(names, dir)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no class folders with images found", s.Name)
	}
	sort.Strings(names)
	set := &Set{Source: s.Name, Pre: o.Pre}
	var all []string
	for _, dir := range names {
		fl := files[dir]
		sort.Strings(fl)
		if len(fl) < o.MinPerClass && o.SkipSingles {
			continue
		}
		if len(fl) < o.MinPerClass {
			return nil, fmt.Errorf("%s: class has %d image(s), at least %d needed", s.Where(dir), len(fl), o.MinPerClass)
		}
		group := path.Dir(dir)
		if group == "." {
			group = ""
		}
		set.Classes = append(set.Classes, Class{Name: dir, Group: group, Files: fl})
		all = append(all, fl...)
	}
	prepare := o.Prepare
	if prepare == nil {
		prepare = func(img image.Image) ([]float32, error) { return Prepare(img, o.Pre) }
	}
	items, err := s.ReadImagesFunc(all, prepare)
	if err != nil {
		return nil, err
	}
	for i := range set.Classes {
		c := &set.Classes[i]
		c.Items, items = items[:len(c.Files)], items[len(c.Files):]
	}
	return set, nil
}

// ReadImages reads, decodes and prepares files of the source, one per core
// at a time (so that however large the images, only a few are decoded at
// once). An unreadable file is an error naming it (and counting the others).
func (s *Source) ReadImages(paths []string, pre core.Preprocess) ([][]float32, error) {
	return s.ReadImagesFunc(paths, func(img image.Image) ([]float32, error) { return Prepare(img, pre) })
}

// ReadImagesFunc is ReadImages with a function of its own preparing each
// decoded image.
func (s *Source) ReadImagesFunc(paths []string, prepare func(image.Image) ([]float32, error)) ([][]float32, error) {
	out := make([][]float32, len(paths))
	errs := make([]error, len(paths))
	Each(len(paths), func(i int) { out[i], errs[i] = s.readImage(paths[i], prepare) })
	var bad []error
	for _, err := range errs {
		if err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) == 0 {
		return out, nil
	}
	sort.Slice(bad, func(a, b int) bool { return bad[a].Error() < bad[b].Error() })
	if len(bad) > 1 {
		return nil, fmt.Errorf("%w (and %d more unreadable images)", bad[0], len(bad)-1)
	}
	return nil, bad[0]
}

// Each calls fn(i) for every i in [0, n), on one goroutine per core, and
// returns when all calls have: decoding files one per core.
func Each(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(n, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
