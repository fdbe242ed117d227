// Package gallery keeps enrolled entries (people, writers, questions) as
// embeddings of one model, never their images, in a file that is locked
// while it changes and replaced atomically: enrolling needs no retraining.
package gallery

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofrs/flock"
	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/atomicfile"
	"github.com/siamesenet/siamese/internal/container"
)

// Version is the gallery file format version.
const Version = 1

const magic = "SIAMGAL\x00"

// DefaultLimit is the most images an entry may be enrolled from in a
// gallery that records no limit of its own (files written before limits
// were recorded).
const DefaultLimit = 5

// Person is one enrolled name and the embeddings of its images.
type Person struct {
	Name       string      `json:"name"`
	Note       string      `json:"note,omitempty"` // e.g. a question's text
	Images     int         `json:"images"`
	Added      time.Time   `json:"added"`
	Embeddings [][]float32 `json:"-"`
}

// Gallery holds enrolled people as embeddings (never images) for one model.
// Adding a person never retrains.
type Gallery struct {
	ModelID string `json:"model_id"`
	// MaxImages is the most images one name may be enrolled from (0:
	// DefaultLimit).
	MaxImages int       `json:"max_images,omitempty"`
	Dim       int       `json:"dim"`
	People    []*Person `json:"people"`
	// Extra is what a domain keeps with its entries, saved and replaced
	// with them in one write: a question index's word statistics.
	Extra json.RawMessage `json:"extra,omitempty"`

	db    []float32 // every embedding, row-major (cached for Search)
	owner []int     // the entry of each row of db
}

// ErrEmptyGallery is returned when identifying against no one.
var ErrEmptyGallery = errors.New("the gallery is empty: enroll someone first")

// New makes an empty gallery for model m that takes 1 to limit images per
// entry (0: DefaultLimit); the file records the limit.
func New(m *core.Model, limit int) *Gallery { return NewFor(m.ID(), m.EmbeddingSize(), limit) }

// NewFor makes an empty gallery for the model of that ID and embedding
// size (a service's store, which holds no model).
func NewFor(modelID string, dim, limit int) *Gallery {
	return &Gallery{ModelID: modelID, Dim: dim, MaxImages: limit}
}

// Find returns the person of that name, or nil.
func (g *Gallery) Find(name string) *Person {
	i := sort.Search(len(g.People), func(i int) bool { return g.People[i].Name >= name })
	if i < len(g.People) && g.People[i].Name == name {
		return g.People[i]
	}
	return nil
}

// Holder returns the entry other than except that holds exactly this
// embedding (the same image enrolled twice: one scan under two writers),
// or nil.
func (g *Gallery) Holder(emb []float32, except string) *Person {
	for _, p := range g.People {
		if p.Name == except {
			continue
		}
		for _, e := range p.Embeddings {
			if slices.Equal(e, emb) {
				return p
			}
		}
	}
	return nil
}

// Enroll adds an entry from 1 to g.Limit() embeddings. An existing name is
// an error unless replace is set.
func (g *Gallery) Enroll(name string, embs [][]float32, replace bool) error {
	return g.EnrollAll([]*Person{{Name: name, Embeddings: embs}}, replace)
}

// MaxNameBytes bounds the length of an entry's name.
const MaxNameBytes = 256

// CheckName is the one rule for an entry's name: printable UTF-8 of 1 to
// MaxNameBytes bytes, no control or bidirectional-override characters, no
// space at either end; what is enrolled under it can be listed, verified
// and removed by the same name.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > MaxNameBytes:
		return fmt.Errorf("name of %d bytes; at most %d", len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("name %q starts or ends with a space", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == utf8.RuneError {
			return fmt.Errorf("name %q holds the control character %U", name, r)
		}
	}
	return nil
}

// Printable is name as it can be shown on one line: itself if CheckName
// accepts it, else quoted with its control characters escaped (a file
// written before names were checked).
func Printable(name string) string {
	if CheckName(name) == nil {
		return name
	}
	return strconv.Quote(name)
}

// checkEntry is the one check of an entry's image count, on enrolment and
// on reading a file (and of its name, on enrolment).
func (g *Gallery) checkEntry(name string, images int) error {
	if images < 1 || images > g.Limit() {
		return fmt.Errorf("%q has %d images; this gallery takes 1 to %d per entry", name, images, g.Limit())
	}
	return nil
}

// Limit is the most images one name may be enrolled from.
func (g *Gallery) Limit() int {
	if g.MaxImages > 0 {
		return g.MaxImages
	}
	return DefaultLimit
}

// Score scores a probe against one enrolled name's images by rule.
func (g *Gallery) Score(h core.Head, name string, probe []float32, rule core.ScoreRule) (float64, error) {
	p := g.Find(name)
	if p == nil {
		return 0, fmt.Errorf("no one named %q in the gallery", name)
	}
	if len(probe) != g.Dim {
		return 0, fmt.Errorf("probe embedding of %d values, the gallery holds %d", len(probe), g.Dim)
	}
	s, err := rule.Score(h, probe, p.Embeddings)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// EnrollAll adds many entries at once (an index of questions): each with
// 1 to g.Limit() embeddings. Existing names are an error unless replace is
// set.
func (g *Gallery) EnrollAll(entries []*Person, replace bool) error {
	g.db, g.owner = nil, nil
	byName := make(map[string]int, len(g.People))
	for i, p := range g.People {
		byName[p.Name] = i
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, e := range entries {
		if err := CheckName(e.Name); err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		if err := g.checkEntry(e.Name, len(e.Embeddings)); err != nil {
			return fmt.Errorf("enroll: %w", err)
		}
		for _, v := range e.Embeddings {
			if len(v) != g.Dim {
				return fmt.Errorf("enroll %s: embedding of %d values, the gallery holds %d", e.Name, len(v), g.Dim)
			}
		}
		e.Images = len(e.Embeddings)
		if e.Added.IsZero() {
			e.Added = now
		}
		if i, ok := byName[e.Name]; ok {
			if !replace {
				return fmt.Errorf("enroll: %q is already enrolled (use --replace to replace)", e.Name)
			}
			g.People[i] = e
			continue
		}
		byName[e.Name] = len(g.People)
		g.People = append(g.People, e)
	}
	sort.Slice(g.People, func(a, b int) bool { return g.People[a].Name < g.People[b].Name })
	return nil
}

// Search returns the k entries that score highest against a probe (an
// entry scores as its closest embedding), best first.
func (g *Gallery) Search(h core.Head, probe []float32, k int) ([]Match, error) {
	if len(g.People) == 0 {
		return nil, ErrEmptyGallery
	}
	if len(probe) != g.Dim {
		return nil, fmt.Errorf("probe embedding of %d values, the gallery holds %d", len(probe), g.Dim)
	}
	db, owner := g.flat()
	hits := core.Search(h, probe, db, k*g.Limit())
	var out []Match
	seen := map[int]bool{}
	for _, hit := range hits {
		o := owner[hit.Index]
		if seen[o] {
			continue
		}
		seen[o] = true
		out = append(out, Match{Name: g.People[o].Name, Score: hit.Score})
		if len(out) == k {
			break
		}
	}
	return out, nil
}

// flat returns every embedding as one row-major matrix and the entry of
// each row.
func (g *Gallery) flat() ([]float32, []int) {
	if g.db != nil {
		return g.db, g.owner
	}
	for i, p := range g.People {
		for _, e := range p.Embeddings {
			g.db = append(g.db, e...)
			g.owner = append(g.owner, i)
		}
	}
	return g.db, g.owner
}

// Remove deletes a person.
func (g *Gallery) Remove(name string) error {
	g.db, g.owner = nil, nil
	for i, p := range g.People {
		if p.Name == name {
			g.People = append(g.People[:i], g.People[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("remove: no one named %q in the gallery", name)
}

// Match is the best-matching person for a probe.
type Match struct {
	Name  string  `json:"name"`  // best match, even when not accepted
	Score float32 `json:"score"` // the head's score against the closest of the person's images
	Known bool    `json:"known"` // Score ≥ threshold
}

// Identify returns the best match for a probe embedding over everyone in
// the gallery (a person's score is that of their closest image); it is
// Known when the score reaches threshold, else the probe is unknown.
func (g *Gallery) Identify(h core.Head, probe []float32, threshold float64) (Match, error) {
	if len(g.People) == 0 {
		return Match{}, ErrEmptyGallery
	}
	if len(probe) != g.Dim {
		return Match{}, fmt.Errorf("probe embedding of %d values, the gallery holds %d", len(probe), g.Dim)
	}
	r, fast := h.(core.Ranker)
	best := make([]float32, len(g.People))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(g.People)/512))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*len(g.People)/workers, (w+1)*len(g.People)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			var key [1]float32
			for i := lo; i < hi; i++ {
				b := float32(math.Inf(-1))
				for _, e := range g.People[i].Embeddings {
					if fast {
						r.RankKeys(probe, e, key[:])
					} else {
						key[0] = h.Score(probe, e)
					}
					b = max(b, key[0])
				}
				best[i] = b
			}
		}()
	}
	wg.Wait()
	bi := 0
	for i, b := range best {
		if b > best[bi] {
			bi = i
		}
	}
	s := best[bi]
	if fast {
		s = r.ScoreOfKey(s)
	}
	return Match{Name: g.People[bi].Name, Score: s, Known: float64(s) >= threshold}, nil
}

// Verify scores a probe against one person (their closest image).
func (g *Gallery) Verify(h core.Head, name string, probe []float32, threshold float64) (Match, error) {
	p := g.Find(name)
	if p == nil {
		return Match{}, fmt.Errorf("verify: no one named %q in the gallery", name)
	}
	one := &Gallery{ModelID: g.ModelID, Dim: g.Dim, People: []*Person{p}}
	return one.Identify(h, probe, threshold)
}

// Save writes the gallery atomically.
func (g *Gallery) Save(path string) error {
	hdr, err := json.Marshal(g)
	if err != nil {
		return err
	}
	var data [][]float32
	for _, p := range g.People {
		data = append(data, p.Embeddings...)
	}
	if err := container.Write(path, magic, Version, hdr, data); err != nil {
		return fmt.Errorf("save gallery: %w", err)
	}
	return nil
}

// Load reads a gallery made with model m (a new one, of limit images per
// entry, if the file does not exist; an existing file keeps the limit it
// records). A gallery of another model is refused.
func Load(path string, m *core.Model, limit int) (*Gallery, error) {
	return LoadFor(path, m.ID(), m.EmbeddingSize(), limit)
}

// LoadFor is Load for the model of that ID and embedding size.
func LoadFor(path, id string, dim, limit int) (*Gallery, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return NewFor(id, dim, limit), nil
	}
	g, err := Read(path)
	if err != nil {
		return nil, err
	}
	if g.ModelID != id {
		return nil, fmt.Errorf("gallery %s: made with model %s, not with this model (%s): embeddings of two models do not compare; enroll again with this model", path, g.ModelID, id)
	}
	return g, nil
}

// ErrNoGallery is returned for a gallery file that does not exist where
// one must (identify, verify, list, remove).
var ErrNoGallery = errors.New("no such gallery file (enroll someone first, or check the path)")

// Open reads an existing gallery made with model m; a missing file is
// ErrNoGallery, not an empty gallery.
func Open(path string, m *core.Model) (*Gallery, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("gallery %s: %w", path, ErrNoGallery)
	}
	return Load(path, m, 0)
}

// Remove removes an entry from an existing gallery file (a missing file is
// ErrNoGallery, and nothing is created).
func Remove(path string, m *core.Model, name string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gallery %s: %w", path, ErrNoGallery)
	}
	_, err := Update(path, m, 0, func(g *Gallery) error { return g.Remove(name) })
	return err
}

// Read reads a gallery file whatever model made it.
func Read(path string) (*Gallery, error) {
	fail := func(err error) (*Gallery, error) { return nil, fmt.Errorf("gallery %s: %w", path, err) }
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fail(ErrNoGallery)
	}
	f, err := container.Read(path, magic, Version)
	if errors.Is(err, container.ErrForeign) {
		return fail(errors.New("not a siamese gallery file (bad magic)"))
	}
	if err != nil {
		return fail(err)
	}
	g := &Gallery{}
	if err := json.Unmarshal(f.Header, g); err != nil {
		return fail(fmt.Errorf("header: %w", err))
	}
	for _, p := range g.People {
		if err := g.checkEntry(p.Name, p.Images); err != nil {
			return fail(err)
		}
		for i := 0; i < p.Images; i++ {
			e, err := f.Next(g.Dim, nil)
			if err != nil {
				return fail(err)
			}
			p.Embeddings = append(p.Embeddings, e)
		}
	}
	if f.Rest() != 0 {
		return fail(errors.New("unexpected data after the embeddings"))
	}
	sort.SliceStable(g.People, func(i, j int) bool { return g.People[i].Name < g.People[j].Name })
	return g, nil
}

// Update locks the gallery file against other processes, loads it (or
// starts an empty one of limit images per entry), applies change and saves
// it atomically.
func Update(path string, m *core.Model, limit int, change func(*Gallery) error) (*Gallery, error) {
	return UpdateFor(path, m.ID(), m.EmbeddingSize(), limit, change)
}

// UpdateFor is Update for the model of that ID and embedding size.
func UpdateFor(path, id string, dim, limit int, change func(*Gallery) error) (*Gallery, error) {
	// Lock the file a symbolic link names, so that writers through the
	// link and through the real path are serialised.
	real, err := atomicfile.Resolve(path)
	if err != nil {
		return nil, fmt.Errorf("gallery %s: %w", path, err)
	}
	lock := flock.New(real + ".lock")
	if err := lock.Lock(); err != nil {
		return nil, fmt.Errorf("lock gallery %s: %w", path, err)
	}
	defer lock.Unlock()
	g, err := LoadFor(path, id, dim, limit)
	if err != nil {
		return nil, err
	}
	if err := change(g); err != nil {
		return nil, err
	}
	if err := g.Save(path); err != nil {
		return nil, err
	}
	return g, nil
}
