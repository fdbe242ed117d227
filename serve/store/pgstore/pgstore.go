// Package pgstore keeps the service's galleries, attendance, API keys and
// audit log in PostgreSQL (15 or later), through pgx, so that many
// replicas share them.
//
// The schema is created and migrated on Open (versioned, under an
// advisory lock, so replicas starting together migrate once). Every write
// is one transaction; enrolments and deletions send a notification (the
// gallery and subject, never an embedding) on the channel Channel when
// they commit, which Watch relays to each replica's in-memory index.
package pgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/siamesenet/siamese/serve/store"
)

// Channel is the LISTEN/NOTIFY channel of subject changes.
const Channel = "siamese_subjects"

// migrations are the schema's versions, applied in order; a released one
// is never edited, only followed by another.
var migrations = []string{
	// 1: galleries, subjects with their embeddings, attendance, keys and
	// an audit log that refuses updates and deletes.
	`CREATE TABLE galleries (
		name       text PRIMARY KEY,
		model_id   text NOT NULL,
		dim        integer NOT NULL CHECK (dim > 0),
		max_images integer NOT NULL CHECK (max_images > 0),
		created    timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE subjects (
		gallery text NOT NULL REFERENCES galleries(name) ON DELETE CASCADE,
		name    text NOT NULL,
		note    text NOT NULL DEFAULT '',
		added   timestamptz NOT NULL,
		images  integer NOT NULL CHECK (images > 0),
		vectors bytea NOT NULL, -- images × dim float32, little-endian
		PRIMARY KEY (gallery, name)
	);
	CREATE TABLE attendance (
		id       bigserial PRIMARY KEY,
		time     timestamptz NOT NULL,
		day      date NOT NULL,
		gallery  text NOT NULL,
		subject  text,           -- NULL: a stranger
		score    real NOT NULL,
		camera   text NOT NULL DEFAULT '',
		model_id text NOT NULL
	);
	CREATE INDEX attendance_by_day ON attendance (day, gallery, subject);
	CREATE TABLE api_keys (
		id      text PRIMARY KEY,
		hash    text NOT NULL,
		scope   text NOT NULL CHECK (scope IN ('admin', 'kiosk', 'read')),
		name    text NOT NULL DEFAULT '',
		created timestamptz NOT NULL
	);
	CREATE TABLE audit (
		id      bigserial PRIMARY KEY,
		time    timestamptz NOT NULL DEFAULT now(),
		actor   text NOT NULL,
		action  text NOT NULL,
		gallery text NOT NULL DEFAULT '',
		subject text NOT NULL DEFAULT ''
	);
	CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
	CREATE TRIGGER audit_is_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
		FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only();`,
}

// SchemaVersion is the schema version this package migrates to.
var SchemaVersion = len(migrations)

// migrateLock is the advisory lock key under which replicas migrate.
const migrateLock = 0x5a4d5345

// Store is a PostgreSQL store.
type Store struct {
	pool *pgxpool.Pool
	url  string
}

// Open connects to the database at url (a postgres:// URL or a key=value
// string) and migrates its schema.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	s := &Store{pool: pool, url: url}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies the migrations the database lacks, in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program's (%d): upgrade siamese", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v, err)
			}
			slog.Info("database schema migrated", "version", v)
		}
		return nil
	})
}

// Gallery implements store.Store.
func (s *Store) Gallery(ctx context.Context, want store.Gallery, create bool) (store.Gallery, error) {
	if err := store.CheckGalleryName(want.Name); err != nil {
		return store.Gallery{}, err
	}
	if create {
		_, err := s.pool.Exec(ctx, `INSERT INTO galleries (name, model_id, dim, max_images) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING`,
			want.Name, want.ModelID, want.Dim, want.MaxImages)
		if err != nil {
			return store.Gallery{}, fmt.Errorf("gallery %q: %w", want.Name, err)
		}
	}
	var g store.Gallery
	err := s.pool.QueryRow(ctx, `SELECT name, model_id, dim, max_images FROM galleries WHERE name = $1`, want.Name).Scan(&g.Name, &g.ModelID, &g.Dim, &g.MaxImages)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Gallery{}, fmt.Errorf("gallery %q: %w", want.Name, store.ErrNotFound)
	}
	if err != nil {
		return store.Gallery{}, fmt.Errorf("gallery %q: %w", want.Name, err)
	}
	if want.ModelID != "" && g.ModelID != want.ModelID {
		return store.Gallery{}, fmt.Errorf("gallery %q: %w (%s, not %s): enrol again with this model", want.Name, store.ErrOtherModel, g.ModelID, want.ModelID)
	}
	return g, nil
}

// Galleries implements store.Store.
func (s *Store) Galleries(ctx context.Context) ([]store.Gallery, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, model_id, dim, max_images FROM galleries ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("galleries: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Gallery, error) {
		var g store.Gallery
		return g, r.Scan(&g.Name, &g.ModelID, &g.Dim, &g.MaxImages)
	})
}

func encode(embs [][]float32) []byte {
	var b []byte
	for _, e := range embs {
		for _, v := range e {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

func decode(b []byte, images int) ([][]float32, error) {
	if images <= 0 || len(b)%(4*images) != 0 {
		return nil, fmt.Errorf("stored vectors of %d bytes do not hold %d embeddings", len(b), images)
	}
	dim := len(b) / 4 / images
	flat := make([]float32, len(b)/4)
	for i := range flat {
		flat[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	out := make([][]float32, images)
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

func scanSubject(r pgx.Row) (store.Subject, error) {
	var s store.Subject
	var images int
	var vecs []byte
	if err := r.Scan(&s.Gallery, &s.Name, &s.Note, &s.Added, &images, &vecs); err != nil {
		return s, err
	}
	var err error
	s.Embeddings, err = decode(vecs, images)
	return s, err
}

// Subjects implements store.Store.
func (s *Store) Subjects(ctx context.Context, gallery string) ([]store.Subject, error) {
	if _, err := s.Gallery(ctx, store.Gallery{Name: gallery}, false); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT gallery, name, note, added, images, vectors FROM subjects WHERE gallery = $1 ORDER BY name`, gallery)
	if err != nil {
		return nil, fmt.Errorf("gallery %q: %w", gallery, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Subject, error) { return scanSubject(r) })
}

// Subject implements store.Store.
func (s *Store) Subject(ctx context.Context, gallery, name string) (store.Subject, error) {
	subj, err := scanSubject(s.pool.QueryRow(ctx, `SELECT gallery, name, note, added, images, vectors FROM subjects WHERE gallery = $1 AND name = $2`, gallery, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return subj, fmt.Errorf("%q in gallery %q: %w", name, gallery, store.ErrNotFound)
	}
	return subj, err
}

// notify sends a change inside tx: it reaches the listeners when tx
// commits, and never if it does not.
func notify(ctx context.Context, tx pgx.Tx, gallery, subject string) error {
	payload, _ := json.Marshal(store.Change{Gallery: gallery, Subject: subject})
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, string(payload))
	return err
}

func audit(ctx context.Context, tx pgx.Tx, actor, action, gallery, subject string) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit (actor, action, gallery, subject) VALUES ($1, $2, $3, $4)`, actor, action, gallery, subject)
	return err
}

// Put implements store.Store: the subject, its embeddings, the audit line
// and the notification are one transaction.
func (s *Store) Put(ctx context.Context, subj store.Subject, replace bool, actor string) error {
	g, err := s.Gallery(ctx, store.Gallery{Name: subj.Gallery}, false)
	if err != nil {
		return err
	}
	if n := len(subj.Embeddings); n < 1 || n > g.MaxImages {
		return fmt.Errorf("%q has %d embeddings; gallery %q takes 1 to %d", subj.Name, n, g.Name, g.MaxImages)
	}
	for _, e := range subj.Embeddings {
		if len(e) != g.Dim {
			return fmt.Errorf("%q: embedding of %d values, gallery %q holds %d", subj.Name, len(e), g.Name, g.Dim)
		}
	}
	if subj.Added.IsZero() {
		subj.Added = time.Now().UTC().Truncate(time.Second)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		action := "enroll"
		var tag pgconn.CommandTag
		var err error
		if replace {
			var existed bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subjects WHERE gallery = $1 AND name = $2)`, subj.Gallery, subj.Name).Scan(&existed); err != nil {
				return err
			}
			if existed {
				action = "replace"
			}
			tag, err = tx.Exec(ctx, `INSERT INTO subjects (gallery, name, note, added, images, vectors) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (gallery, name) DO UPDATE SET note = EXCLUDED.note, added = EXCLUDED.added, images = EXCLUDED.images, vectors = EXCLUDED.vectors`,
				subj.Gallery, subj.Name, subj.Note, subj.Added, len(subj.Embeddings), encode(subj.Embeddings))
		} else {
			tag, err = tx.Exec(ctx, `INSERT INTO subjects (gallery, name, note, added, images, vectors) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gallery, name) DO NOTHING`,
				subj.Gallery, subj.Name, subj.Note, subj.Added, len(subj.Embeddings), encode(subj.Embeddings))
		}
		if err != nil {
			return fmt.Errorf("enrol %q: %w", subj.Name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%q in gallery %q: %w", subj.Name, subj.Gallery, store.ErrExists)
		}
		if err := audit(ctx, tx, actor, action, subj.Gallery, subj.Name); err != nil {
			return err
		}
		return notify(ctx, tx, subj.Gallery, subj.Name)
	})
}

// Delete implements store.Store: a hard delete, the embeddings included.
func (s *Store) Delete(ctx context.Context, gallery, name, actor string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM subjects WHERE gallery = $1 AND name = $2`, gallery, name)
		if err != nil {
			return fmt.Errorf("delete %q: %w", name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%q in gallery %q: %w", name, gallery, store.ErrNotFound)
		}
		if err := audit(ctx, tx, actor, "delete", gallery, name); err != nil {
			return err
		}
		return notify(ctx, tx, gallery, name)
	})
}

func scanEvent(r pgx.Row) (store.Event, error) {
	var e store.Event
	var day time.Time
	var subj *string
	err := r.Scan(&e.ID, &e.Time, &day, &e.Gallery, &subj, &e.Score, &e.Camera, &e.ModelID)
	e.Day = day.Format(time.DateOnly)
	if subj != nil {
		e.Subject = *subj
	}
	return e, err
}

const eventCols = `id, time, day, gallery, subject, score, camera, model_id`

// CheckIn implements store.Store: replicas checking the same subject in
// at once are serialised by an advisory lock on (day, gallery, subject).
func (s *Store) CheckIn(ctx context.Context, e store.Event, oncePerDay bool) (store.Event, bool, error) {
	if err := store.CheckDay(e.Day); err != nil {
		return e, false, err
	}
	var out store.Event
	recorded := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var subj *string
		if e.Known() {
			subj = &e.Subject
			if oncePerDay {
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, e.Day+"\n"+e.Gallery+"\n"+e.Subject); err != nil {
					return err
				}
				first, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventCols+` FROM attendance WHERE day = $1 AND gallery = $2 AND subject = $3 ORDER BY id LIMIT 1`, e.Day, e.Gallery, e.Subject))
				if err == nil {
					out = first
					return nil
				}
				if !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
		}
		var err error
		out, err = scanEvent(tx.QueryRow(ctx, `INSERT INTO attendance (time, day, gallery, subject, score, camera, model_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+eventCols,
			e.Time, e.Day, e.Gallery, subj, e.Score, e.Camera, e.ModelID))
		recorded = err == nil
		return err
	})
	if err != nil {
		return store.Event{}, false, fmt.Errorf("check-in: %w", err)
	}
	return out, recorded, nil
}

// Attendance implements store.Store.
func (s *Store) Attendance(ctx context.Context, day string) ([]store.Event, error) {
	if err := store.CheckDay(day); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM attendance WHERE day = $1 ORDER BY id`, day)
	if err != nil {
		return nil, fmt.Errorf("attendance: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) { return scanEvent(r) })
}

// Audit implements store.Store.
func (s *Store) Audit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT id, time, actor, action, gallery, subject FROM audit ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditEntry, error) {
		var a store.AuditEntry
		return a, r.Scan(&a.ID, &a.Time, &a.Actor, &a.Action, &a.Gallery, &a.Subject)
	})
}

// AddKey implements store.Store.
func (s *Store) AddKey(ctx context.Context, k store.Key) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, hash, scope, name, created) VALUES ($1, $2, $3, $4, $5)`, k.ID, k.Hash, string(k.Scope), k.Name, k.Created); err != nil {
			return fmt.Errorf("add key: %w", err)
		}
		return audit(ctx, tx, "cli", "key-add:"+string(k.Scope), "", k.ID)
	})
}

// Key implements store.Store.
func (s *Store) Key(ctx context.Context, id string) (store.Key, error) {
	var k store.Key
	var scope string
	err := s.pool.QueryRow(ctx, `SELECT id, hash, scope, name, created FROM api_keys WHERE id = $1`, id).Scan(&k.ID, &k.Hash, &scope, &k.Name, &k.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	k.Scope = store.Scope(scope)
	return k, err
}

// Watch implements store.Store: it listens on Channel on a connection of
// its own, and after every (re)connection first reports a Reload, since
// notifications sent while disconnected are lost.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	const first = 50 * time.Millisecond
	backoff := first
	for ctx.Err() == nil {
		connected, err := s.listen(ctx, fn)
		if ctx.Err() != nil {
			break
		}
		if connected {
			backoff = first
		}
		slog.Warn("database notifications lost; reconnecting", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

// listen relays notifications until the connection fails; connected
// says it got as far as listening.
func (s *Store) listen(ctx context.Context, fn func(store.Change)) (connected bool, err error) {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+Channel); err != nil {
		return false, err
	}
	fn(store.Change{Reload: true})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		var c store.Change
		if err := json.Unmarshal([]byte(n.Payload), &c); err != nil {
			slog.Warn("malformed notification", "payload", n.Payload, "error", err)
			continue
		}
		fn(c)
	}
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
