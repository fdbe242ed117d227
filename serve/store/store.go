// Package store is where the service keeps what outlives a process:
// galleries of enrolled subjects (their embeddings, never their images),
// attendance events, API keys and an append-only audit log. Two stores
// implement it: a folder of gallery files for one process
// (serve/store/filestore) and PostgreSQL for many replicas
// (serve/store/pgstore).
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Gallery is a named set of subjects enrolled with one model.
type Gallery struct {
	Name    string `json:"name"`
	ModelID string `json:"model_id"`
	Dim     int    `json:"dim"`
	// MaxImages is the most embeddings a subject holds (the domain's
	// enrolment limit).
	MaxImages int `json:"max_images"`
}

// Subject is one enrolled entry of a gallery: a person, a writer, a
// question.
type Subject struct {
	Gallery    string      `json:"gallery"`
	Name       string      `json:"name"`
	Note       string      `json:"note,omitempty"`
	Added      time.Time   `json:"added"`
	Embeddings [][]float32 `json:"-"`
}

// Event is one attendance check-in: a face identified (Subject set) or a
// stranger (Subject empty).
type Event struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Day     string    `json:"day"` // YYYY-MM-DD in the service's time zone
	Gallery string    `json:"gallery"`
	Subject string    `json:"subject,omitempty"`
	Score   float32   `json:"score"`
	Camera  string    `json:"camera,omitempty"`
	ModelID string    `json:"model_id"`
}

// Known reports whether the event names an enrolled subject.
func (e Event) Known() bool { return e.Subject != "" }

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`  // the API key's id, or "cli"
	Action  string    `json:"action"` // enroll, replace, delete, key-add
	Gallery string    `json:"gallery,omitempty"`
	Subject string    `json:"subject,omitempty"`
}

// Change is what a store tells its watchers: one subject of a gallery
// changed (enrolled, replaced or deleted), or everything may have
// (Reload: notifications were lost while disconnected).
type Change struct {
	Gallery string `json:"g"`
	Subject string `json:"s"`
	Reload  bool   `json:"-"`
}

// Store keeps galleries, attendance, keys and the audit log. Every write
// is all or nothing: a process killed mid-write leaves the old state or
// the new one.
type Store interface {
	// Gallery returns the gallery of that name, creating it as g when
	// create is set and it does not exist; a gallery made with another
	// model is ErrOtherModel.
	Gallery(ctx context.Context, g Gallery, create bool) (Gallery, error)
	// Galleries lists every gallery.
	Galleries(ctx context.Context) ([]Gallery, error)
	// Subjects returns every subject of a gallery, with its embeddings.
	Subjects(ctx context.Context, gallery string) ([]Subject, error)
	// Subject returns one subject (ErrNotFound if absent).
	Subject(ctx context.Context, gallery, name string) (Subject, error)
	// Put enrols a subject; an existing name is ErrExists unless replace.
	Put(ctx context.Context, s Subject, replace bool, actor string) error
	// Delete removes a subject and its embeddings (ErrNotFound if absent).
	Delete(ctx context.Context, gallery, name, actor string) error
	// CheckIn records an event; with oncePerDay a known subject already
	// recorded that day is not recorded again (recorded false, and the
	// first event of the day returned).
	CheckIn(ctx context.Context, e Event, oncePerDay bool) (ev Event, recorded bool, err error)
	// Attendance lists the events of one day, oldest first.
	Attendance(ctx context.Context, day string) ([]Event, error)
	// Audit lists the latest entries of the audit log, newest first.
	Audit(ctx context.Context, limit int) ([]AuditEntry, error)
	// AddKey stores an API key (only its hash).
	AddKey(ctx context.Context, k Key) error
	// Key returns the key of an id (ErrNotFound if absent).
	Key(ctx context.Context, id string) (Key, error)
	// Watch calls fn for every change made by any process sharing the
	// store until ctx ends; a store of one process returns at once.
	Watch(ctx context.Context, fn func(Change)) error
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Errors a store returns, wrapped.
var (
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("already enrolled")
	ErrOtherModel = errors.New("made with another model")
)

// Scope is what an API key may do.
type Scope string

// The scopes: admin may do everything; kiosk checks in, identifies,
// verifies, embeds and compares; read reads galleries and reports.
const (
	ScopeAdmin Scope = "admin"
	ScopeKiosk Scope = "kiosk"
	ScopeRead  Scope = "read"
)

// ParseScope checks a scope's name.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeAdmin, ScopeKiosk, ScopeRead:
		return Scope(s), nil
	}
	return "", fmt.Errorf("scope %q: want admin, kiosk or read", s)
}

// Allows reports whether a key of scope k may act in scope need.
func (k Scope) Allows(need Scope) bool { return k == ScopeAdmin || k == need }

// Key is an API key as stored: its id, the SHA-256 of its secret, never
// the secret itself.
type Key struct {
	ID      string    `json:"id"`
	Hash    string    `json:"hash"` // hex SHA-256 of the whole key
	Scope   Scope     `json:"scope"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

// keyPrefix starts every key, so that a leaked one is recognisable.
const keyPrefix = "sk_"

// NewKey makes a random key of a scope: the secret to show the user once
// ("sk_<id>_<secret>") and the record to store.
func NewKey(scope Scope, name string) (secret string, k Key, err error) {
	var id [6]byte
	var sec [24]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Key{}, err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return "", Key{}, err
	}
	k = Key{ID: hex.EncodeToString(id[:]), Scope: scope, Name: name, Created: time.Now().UTC().Truncate(time.Second)}
	secret = keyPrefix + k.ID + "_" + base64.RawURLEncoding.EncodeToString(sec[:])
	k.Hash = HashKey(secret)
	return secret, k, nil
}

// HashKey is the stored form of a key. A key carries 192 random bits, so
// a plain SHA-256 (not a slow password hash) is enough to make the stored
// form useless to whoever reads it.
func HashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// KeyID returns the id part of a key as given in a request ("" if it has
// not the form of a key).
func KeyID(secret string) string {
	rest, ok := strings.CutPrefix(secret, keyPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 {
		return ""
	}
	return id
}

// Matches reports whether a presented key is this one, in constant time.
func (k Key) Matches(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(HashKey(secret)), []byte(k.Hash)) == 1
}

// Day is the day of t in loc, as events record it.
func Day(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// CheckDay checks a YYYY-MM-DD day.
func CheckDay(day string) error {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return fmt.Errorf("date %q: want YYYY-MM-DD", day)
	}
	return nil
}

// MaxGalleryName bounds a gallery's name.
const MaxGalleryName = 64

// CheckGalleryName is the rule for a gallery's name: 1 to 64 letters,
// digits, '.', '_' or '-', starting with a letter or digit (it names a
// file of the file store and a URL path segment).
func CheckGalleryName(name string) error {
	if name == "" || len(name) > MaxGalleryName {
		return fmt.Errorf("gallery name %q: want 1 to %d characters", name, MaxGalleryName)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok {
			return fmt.Errorf("gallery name %q: only letters, digits, '.', '_' and '-', starting with a letter or digit", name)
		}
	}
	return nil
}
