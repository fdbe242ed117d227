// Package serve is siamese's HTTP service: a JSON API on net/http for
// embedding, comparing, enrolling, identifying and verifying with one
// model, per named gallery, attendance check-ins for face models, a web
// page, health and readiness probes and Prometheus metrics.
//
// Galleries live in a store (serve/store): a folder of gallery files for
// one process, or PostgreSQL shared by replicas, each of which keeps an
// in-memory index for exact search and follows the others' changes.
// Inputs are decoded as the CLI decodes them (core.FindItems), so every
// domain's model serves.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/serve/store"
)

// Config is what a Server serves.
type Config struct {
	// Model embeds and scores; its threshold tells a match from unknown.
	Model *core.Model
	// Decoder turns an upload into items (nil: the model's registered
	// decoder).
	Decoder core.Decoder
	// Store keeps galleries, attendance, keys and the audit log.
	Store store.Store
	// Enrolment is the model's domain's enrolment policy (nil: 1 to 5
	// items an entry, worded generically).
	Enrolment *core.Enrolment
	// Attendance enables check-ins (a face model's use).
	Attendance bool
	// DefaultGallery is the gallery check-ins identify against and the
	// web page opens.
	DefaultGallery string
	// OncePerDay records one check-in per person per day (later ones are
	// answered, not recorded).
	OncePerDay bool
	// Location is the time zone of attendance days (nil: UTC).
	Location *time.Location
	// MaxUpload bounds a request's body in bytes (0: DefaultMaxUpload).
	MaxUpload int64
	// Registerer takes the service's metrics (nil: a registry of its
	// own, served at /metrics).
	Registerer prometheus.Registerer
	// Gatherer serves /metrics (nil: the registry above).
	Gatherer prometheus.Gatherer
	// Logger logs each request (nil: slog.Default()).
	Logger *slog.Logger
	// Scorer, if set, scores a gallery's entries in place of the head, for
	// a model that scores beyond its head (a questions model's lexical
	// fusion: questions.NewIndex): identify and verify go through it. It
	// is made again after the gallery changes.
	Scorer func(g *gallery.Gallery) (GalleryScorer, error)
	// PairScore, if set, is compare's score of two uploads (their raw
	// bytes and embeddings) in place of the head's.
	PairScore func(a, b []byte, ea, eb []float32) float64
}

// GalleryScorer is a model's own scoring of one gallery's entries, with
// scores on the model's threshold's scale.
type GalleryScorer interface {
	// Identify returns the k best entries for an upload (its raw bytes: a
	// question's text) and its embedding, best first.
	Identify(raw []byte, emb []float32, k int) []gallery.Match
	// Verify is the score of an upload against the named entry.
	Verify(name string, raw []byte, emb []float32) (float64, error)
}

// DefaultMaxUpload is the default bound of a request's body: 20 MiB.
const DefaultMaxUpload = 20 << 20

// Server is the service of one model.
type Server struct {
	cfg     Config
	dec     core.Decoder
	index   *index
	metrics *metrics
	mux     *http.ServeMux
	log     *slog.Logger
}

// New makes a server; Start loads its index.
func New(cfg Config) (*Server, error) {
	if cfg.Model == nil || cfg.Store == nil {
		return nil, errors.New("serve: a model and a store are needed")
	}
	if cfg.Decoder == nil {
		dec, err := core.NewDecoder(cfg.Model.Preprocess, cfg.Model.Assets...)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		cfg.Decoder = dec
	}
	if cfg.Enrolment == nil {
		cfg.Enrolment = &core.Enrolment{Noun: "entry", Key: "name", Item: "file", Min: 1, Max: 5, Accept: "match", Reject: "no match", Identify: true}
	}
	if cfg.DefaultGallery == "" {
		cfg.DefaultGallery = "default"
	}
	if err := store.CheckGalleryName(cfg.DefaultGallery); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, dec: cfg.Decoder, index: newIndex(cfg.Store, cfg.Model.ID()), log: cfg.Logger}
	s.index.scorer = cfg.Scorer
	var err error
	if s.metrics, err = newMetrics(cfg.Registerer, cfg.Gatherer, s.index); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Start loads every gallery of the model into memory, makes the default
// gallery if there is none, and follows the store's changes until ctx
// ends.
func (s *Server) Start(ctx context.Context) error {
	m := s.cfg.Model
	_, err := s.cfg.Store.Gallery(ctx, store.Gallery{Name: s.cfg.DefaultGallery, ModelID: m.ID(), Dim: m.EmbeddingSize(), MaxImages: s.cfg.Enrolment.Max}, true)
	if err != nil {
		return fmt.Errorf("serve: gallery %s: %w", s.cfg.DefaultGallery, err)
	}
	if err := s.index.reload(ctx); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	go s.cfg.Store.Watch(ctx, func(c store.Change) {
		if err := s.index.apply(ctx, c); err != nil && ctx.Err() == nil {
			s.log.Warn("index update failed; reloading", "gallery", c.Gallery, "subject", c.Subject, "error", err)
			if err := s.index.reload(ctx); err != nil {
				s.log.Error("index reload failed", "error", err)
			}
		}
	})
	return nil
}

// Store is the server's store.
func (s *Server) Store() store.Store { return s.cfg.Store }

// Handler is the service's HTTP handler: the API, the page, /healthz,
// /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.middleware(s.mux) }

// Ready reports whether the server can answer: its index is loaded and
// its store reachable.
func (s *Server) Ready(ctx context.Context) error {
	if !s.index.ready() {
		return errors.New("index not loaded")
	}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
