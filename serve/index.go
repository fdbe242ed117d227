package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/serve/store"
)

// index is a replica's in-memory copy of every gallery, for exact search
// with the gallery package's vectorised scan; the store is the truth and
// the index follows its changes.
type index struct {
	st      store.Store
	modelID string

	mu        sync.RWMutex
	galleries map[string]*gallery.Gallery
	loaded    bool
	// scorer makes a gallery's GalleryScorer (nil: the head's scan);
	// scorers caches them until their gallery changes.
	scorer  func(g *gallery.Gallery) (GalleryScorer, error)
	scorers map[string]GalleryScorer
}

func newIndex(st store.Store, modelID string) *index {
	return &index{st: st, modelID: modelID, galleries: map[string]*gallery.Gallery{}}
}

// reload replaces the whole index with the store's galleries of this
// model (another model's galleries are left out, and logged).
func (x *index) reload(ctx context.Context) error {
	gs, err := x.st.Galleries(ctx)
	if err != nil {
		return fmt.Errorf("load galleries: %w", err)
	}
	fresh := map[string]*gallery.Gallery{}
	for _, info := range gs {
		if info.ModelID != x.modelID {
			slog.Warn("gallery made with another model: not served", "gallery", info.Name, "model", info.ModelID, "serving", x.modelID)
			continue
		}
		g, err := x.load(ctx, info)
		if err != nil {
			return err
		}
		fresh[info.Name] = g
	}
	x.mu.Lock()
	x.galleries, x.loaded, x.scorers = fresh, true, nil
	x.mu.Unlock()
	return nil
}

func (x *index) load(ctx context.Context, info store.Gallery) (*gallery.Gallery, error) {
	subjects, err := x.st.Subjects(ctx, info.Name)
	if err != nil {
		return nil, fmt.Errorf("load gallery %q: %w", info.Name, err)
	}
	g := gallery.NewFor(info.ModelID, info.Dim, info.MaxImages)
	people := make([]*gallery.Person, len(subjects))
	for i, s := range subjects {
		people[i] = &gallery.Person{Name: s.Name, Note: s.Note, Added: s.Added, Embeddings: s.Embeddings}
	}
	if err := g.EnrollAll(people, true); err != nil {
		return nil, fmt.Errorf("load gallery %q: %w", info.Name, err)
	}
	return g, nil
}

// apply brings one changed subject (or, for a Reload, everything) up to
// date from the store.
func (x *index) apply(ctx context.Context, c store.Change) error {
	if c.Reload {
		return x.reload(ctx)
	}
	x.mu.RLock()
	g := x.galleries[c.Gallery]
	x.mu.RUnlock()
	if g == nil {
		info, err := x.st.Gallery(ctx, store.Gallery{Name: c.Gallery, ModelID: x.modelID}, false)
		if err != nil {
			return err
		}
		x.mu.Lock()
		if x.galleries[c.Gallery] == nil {
			x.galleries[c.Gallery] = gallery.NewFor(info.ModelID, info.Dim, info.MaxImages)
		}
		x.mu.Unlock()
	}
	s, err := x.st.Subject(ctx, c.Gallery, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		x.remove(c.Gallery, c.Subject)
		return nil
	}
	if err != nil {
		return err
	}
	return x.put(s)
}

// put adds or replaces a subject.
func (x *index) put(s store.Subject) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	g := x.galleries[s.Gallery]
	if g == nil {
		return fmt.Errorf("gallery %q: %w", s.Gallery, store.ErrNotFound)
	}
	delete(x.scorers, s.Gallery)
	return g.EnrollAll([]*gallery.Person{{Name: s.Name, Note: s.Note, Added: s.Added, Embeddings: s.Embeddings}}, true)
}

// remove drops a subject (absent is fine).
func (x *index) remove(name, subject string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if g := x.galleries[name]; g != nil && g.Find(subject) != nil {
		g.Remove(subject)
		delete(x.scorers, name)
	}
}

// ensure adds an empty gallery (just created in the store).
func (x *index) ensure(info store.Gallery) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.galleries[info.Name] == nil {
		x.galleries[info.Name] = gallery.NewFor(info.ModelID, info.Dim, info.MaxImages)
	}
}

// with runs fn on a gallery under the index's lock (nil if absent).
func (x *index) with(name string, fn func(g *gallery.Gallery) error) error {
	x.mu.Lock() // Search caches the flat matrix in the gallery: not a read
	defer x.mu.Unlock()
	g := x.galleries[name]
	if g == nil {
		return fmt.Errorf("gallery %q: %w", name, store.ErrNotFound)
	}
	return fn(g)
}

// sizes is the number of subjects of each gallery.
func (x *index) sizes() map[string]int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[string]int{}
	for n, g := range x.galleries {
		out[n] = len(g.People)
	}
	return out
}

func (x *index) ready() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.loaded
}

// identify returns the top k subjects of a gallery for a probe (raw, the
// upload it came from, for a Searcher).
func (x *index) identify(name string, h core.Head, raw []byte, probe []float32, k int, threshold float64) ([]gallery.Match, error) {
	var out []gallery.Match
	err := x.with(name, func(g *gallery.Gallery) error {
		if len(g.People) == 0 {
			return gallery.ErrEmptyGallery
		}
		if sc, err := x.scorerOf(name, g); err != nil {
			return err
		} else if sc != nil {
			out = sc.Identify(raw, probe, k)
			for i := range out {
				out[i].Known = float64(out[i].Score) >= threshold
			}
			return nil
		}
		ms, err := g.Search(h, probe, k)
		for i := range ms {
			ms[i].Known = float64(ms[i].Score) >= threshold
		}
		out = ms
		return err
	})
	return out, err
}

// scorerOf is gallery g's scorer (nil without one), made on first use;
// the caller holds x.mu.
func (x *index) scorerOf(name string, g *gallery.Gallery) (GalleryScorer, error) {
	if x.scorer == nil {
		return nil, nil
	}
	if sc := x.scorers[name]; sc != nil {
		return sc, nil
	}
	sc, err := x.scorer(g)
	if err != nil {
		return nil, err
	}
	if x.scorers == nil {
		x.scorers = map[string]GalleryScorer{}
	}
	x.scorers[name] = sc
	return sc, nil
}

// verify is the score of a probe against the named subject of a gallery:
// the gallery's scorer's where it has one, else the head's under rule.
func (x *index) verify(name, subject string, h core.Head, raw []byte, probe []float32, rule core.ScoreRule) (float64, error) {
	var score float64
	err := x.with(name, func(g *gallery.Gallery) error {
		if g.Find(subject) == nil {
			return fmt.Errorf("%q in gallery %q: %w", subject, name, store.ErrNotFound)
		}
		sc, err := x.scorerOf(name, g)
		if err != nil {
			return err
		}
		if sc != nil {
			score, err = sc.Verify(subject, raw, probe)
			return err
		}
		score, err = g.Score(h, subject, probe, rule)
		return err
	})
	return score, err
}
