// Package filestore is the service's embedded store for one process: a
// folder holding one gallery file per gallery (NAME.gallery, the format
// the CLI reads and writes), attendance and the audit log as append-only
// JSON lines, and the API keys' hashes.
//
// Gallery files are replaced atomically under a lock; an appended line is
// synced before the write returns, and a line cut short by a kill is
// skipped on reading. Several processes may read the folder (the CLI's
// reports), but only one service should write it: use PostgreSQL
// (serve/store/pgstore) for replicas.
package filestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/internal/atomicfile"
	"github.com/siamesenet/siamese/serve/store"
)

// The folder's files beside the galleries.
const (
	AttendanceFile = "attendance.jsonl"
	AuditFile      = "audit.jsonl"
	KeysFile       = "keys.json"
	galleryExt     = ".gallery"
)

// Store is a folder of gallery files and logs.
type Store struct {
	dir string

	mu      sync.Mutex
	nextID  int64
	firstOf map[string]store.Event // day/gallery/subject → the day's first event
	loaded  bool
}

// Open opens (creating if need be) the store in folder dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

// GalleryPath is the file of a gallery.
func (s *Store) GalleryPath(name string) string { return filepath.Join(s.dir, name+galleryExt) }

// GalleryName is the gallery a file of the folder holds ("" if the file
// is not a gallery).
func GalleryName(path string) string {
	name, ok := strings.CutSuffix(filepath.Base(path), galleryExt)
	if !ok || store.CheckGalleryName(name) != nil {
		return ""
	}
	return name
}

func (s *Store) read(name string) (*gallery.Gallery, error) {
	g, err := gallery.Read(s.GalleryPath(name))
	if errors.Is(err, gallery.ErrNoGallery) {
		return nil, fmt.Errorf("gallery %q: %w", name, store.ErrNotFound)
	}
	return g, err
}

func info(name string, g *gallery.Gallery) store.Gallery {
	return store.Gallery{Name: name, ModelID: g.ModelID, Dim: g.Dim, MaxImages: g.Limit()}
}

// Gallery implements store.Store.
func (s *Store) Gallery(_ context.Context, want store.Gallery, create bool) (store.Gallery, error) {
	if err := store.CheckGalleryName(want.Name); err != nil {
		return store.Gallery{}, err
	}
	g, err := s.read(want.Name)
	if errors.Is(err, store.ErrNotFound) && create {
		// Under the gallery's lock: two first enrolments at once must not
		// each write an empty file over the other's subject.
		g, err = gallery.UpdateFor(s.GalleryPath(want.Name), want.ModelID, want.Dim, want.MaxImages, func(*gallery.Gallery) error { return nil })
	}
	if err != nil {
		return store.Gallery{}, err
	}
	if want.ModelID != "" && g.ModelID != want.ModelID {
		return store.Gallery{}, fmt.Errorf("gallery %q: %w (%s, not %s): enrol again with this model", want.Name, store.ErrOtherModel, g.ModelID, want.ModelID)
	}
	return info(want.Name, g), nil
}

// Galleries implements store.Store.
func (s *Store) Galleries(_ context.Context) ([]store.Gallery, error) {
	files, err := filepath.Glob(filepath.Join(s.dir, "*"+galleryExt))
	if err != nil {
		return nil, err
	}
	var out []store.Gallery
	for _, f := range files {
		name := GalleryName(f)
		if name == "" {
			continue
		}
		g, err := gallery.Read(f)
		if err != nil {
			return nil, err
		}
		out = append(out, info(name, g))
	}
	return out, nil
}

func subject(name string, p *gallery.Person) store.Subject {
	return store.Subject{Gallery: name, Name: p.Name, Note: p.Note, Added: p.Added, Embeddings: p.Embeddings}
}

// Subjects implements store.Store.
func (s *Store) Subjects(_ context.Context, name string) ([]store.Subject, error) {
	g, err := s.read(name)
	if err != nil {
		return nil, err
	}
	out := make([]store.Subject, len(g.People))
	for i, p := range g.People {
		out[i] = subject(name, p)
	}
	return out, nil
}

// Subject implements store.Store.
func (s *Store) Subject(_ context.Context, name, subj string) (store.Subject, error) {
	g, err := s.read(name)
	if err != nil {
		return store.Subject{}, err
	}
	p := g.Find(subj)
	if p == nil {
		return store.Subject{}, fmt.Errorf("%q in gallery %q: %w", subj, name, store.ErrNotFound)
	}
	return subject(name, p), nil
}

func (s *Store) update(name string, change func(*gallery.Gallery) error) error {
	g, err := s.read(name)
	if err != nil {
		return err
	}
	_, err = gallery.UpdateFor(s.GalleryPath(name), g.ModelID, g.Dim, g.Limit(), change)
	return err
}

// Put implements store.Store.
func (s *Store) Put(_ context.Context, subj store.Subject, replace bool, actor string) error {
	action := "enroll"
	err := s.update(subj.Gallery, func(g *gallery.Gallery) error {
		if g.Find(subj.Name) != nil {
			if !replace {
				return fmt.Errorf("%q in gallery %q: %w", subj.Name, subj.Gallery, store.ErrExists)
			}
			action = "replace"
		}
		return g.EnrollAll([]*gallery.Person{{Name: subj.Name, Note: subj.Note, Embeddings: subj.Embeddings}}, true)
	})
	if err != nil {
		return err
	}
	return s.audit(store.AuditEntry{Actor: actor, Action: action, Gallery: subj.Gallery, Subject: subj.Name})
}

// Delete implements store.Store.
func (s *Store) Delete(_ context.Context, name, subj, actor string) error {
	err := s.update(name, func(g *gallery.Gallery) error {
		if g.Find(subj) == nil {
			return fmt.Errorf("%q in gallery %q: %w", subj, name, store.ErrNotFound)
		}
		return g.Remove(subj)
	})
	if err != nil {
		return err
	}
	return s.audit(store.AuditEntry{Actor: actor, Action: "delete", Gallery: name, Subject: subj})
}

// appendLine appends one JSON line to a log file and syncs it, under a
// lock shared with other processes.
func (s *Store) appendLine(file string, v any) error {
	path := filepath.Join(s.dir, file)
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	lock := flock.New(path + ".lock")
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer lock.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	// A line cut short by a kill is skipped on reading; start on a new
	// line after one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(path); err == nil {
			r.ReadAt(last, st.Size()-1)
			r.Close()
		}
		if last[0] != '\n' {
			b = append([]byte{'\n'}, b...)
		}
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append to %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// readLines decodes every whole JSON line of a log file; a malformed line
// (cut short by a kill) is skipped with a warning naming it.
func readLines[T any](path string) ([]T, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []T
	for n, line := range bytes.Split(raw, []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			slog.Warn("skipped a malformed line", "file", path, "line", n+1, "error", err)
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Store) audit(e store.AuditEntry) error {
	e.Time = time.Now().UTC()
	return s.appendLine(AuditFile, e)
}

// loadEvents reads the attendance log once, for ids and the first
// check-in of each subject a day.
func (s *Store) loadEvents() error {
	if s.loaded {
		return nil
	}
	evs, err := readLines[store.Event](filepath.Join(s.dir, AttendanceFile))
	if err != nil {
		return err
	}
	s.firstOf = map[string]store.Event{}
	for _, e := range evs {
		s.nextID = max(s.nextID, e.ID)
		if k := firstKey(e); e.Known() && s.firstOf[k].ID == 0 {
			s.firstOf[k] = e
		}
	}
	s.loaded = true
	return nil
}

func firstKey(e store.Event) string { return e.Day + "\x00" + e.Gallery + "\x00" + e.Subject }

// CheckIn implements store.Store.
func (s *Store) CheckIn(_ context.Context, e store.Event, oncePerDay bool) (store.Event, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadEvents(); err != nil {
		return store.Event{}, false, err
	}
	if first, ok := s.firstOf[firstKey(e)]; ok && oncePerDay && e.Known() {
		return first, false, nil
	}
	e.ID = s.nextID + 1
	if err := s.appendLine(AttendanceFile, e); err != nil {
		return store.Event{}, false, err
	}
	s.nextID = e.ID
	if k := firstKey(e); e.Known() && s.firstOf[k].ID == 0 {
		s.firstOf[k] = e
	}
	return e, true, nil
}

// Attendance implements store.Store.
func (s *Store) Attendance(_ context.Context, day string) ([]store.Event, error) {
	evs, err := readLines[store.Event](filepath.Join(s.dir, AttendanceFile))
	if err != nil {
		return nil, err
	}
	out := []store.Event{}
	for _, e := range evs {
		if e.Day == day {
			out = append(out, e)
		}
	}
	return out, nil
}

// Audit implements store.Store.
func (s *Store) Audit(_ context.Context, limit int) ([]store.AuditEntry, error) {
	es, err := readLines[store.AuditEntry](filepath.Join(s.dir, AuditFile))
	if err != nil {
		return nil, err
	}
	for i := range es {
		es[i].ID = int64(i + 1)
	}
	slices.Reverse(es)
	if limit > 0 && len(es) > limit {
		es = es[:limit]
	}
	return es, nil
}

func (s *Store) keys() ([]store.Key, error) {
	raw, err := os.ReadFile(filepath.Join(s.dir, KeysFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ks []store.Key
	if err := json.Unmarshal(raw, &ks); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(s.dir, KeysFile), err)
	}
	return ks, nil
}

// AddKey implements store.Store.
func (s *Store) AddKey(_ context.Context, k store.Key) error {
	path := filepath.Join(s.dir, KeysFile)
	lock := flock.New(path + ".lock")
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer lock.Unlock()
	ks, err := s.keys()
	if err != nil {
		return err
	}
	ks = append(ks, k)
	err = atomicfile.Write(path, 0o600, func(w *bufio.Writer) error {
		return json.NewEncoder(w).Encode(ks)
	})
	if err != nil {
		return err
	}
	return s.audit(store.AuditEntry{Actor: "cli", Action: "key-add:" + string(k.Scope), Subject: k.ID})
}

// Key implements store.Store: the keys file is read on each call, so a
// key added by the CLI while the service runs works at once.
func (s *Store) Key(_ context.Context, id string) (store.Key, error) {
	ks, err := s.keys()
	if err != nil {
		return store.Key{}, err
	}
	for _, k := range ks {
		if k.ID == id {
			return k, nil
		}
	}
	return store.Key{}, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
}

// Watch implements store.Store: one process writes the folder, so there
// is nothing to watch.
func (s *Store) Watch(context.Context, func(store.Change)) error { return nil }

// Ping implements store.Store: the folder is there.
func (s *Store) Ping(context.Context) error {
	_, err := os.Stat(s.dir)
	return err
}

// Close implements store.Store.
func (s *Store) Close() error { return nil }
