package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/serve/store"
)

// apiError is an error with the HTTP status it answers.
type apiError struct {
	status int
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func fail(status int, format string, args ...any) error {
	return &apiError{status, fmt.Errorf(format, args...)}
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &ae):
		return ae.status
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrOtherModel):
		return http.StatusConflict
	case errors.Is(err, gallery.ErrEmptyGallery):
		return http.StatusConflict
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// errorBody is every error's JSON: one line that says what and where.
type errorBody struct {
	Error     string `json:"error"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	msg := err.Error()
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		msg = fmt.Sprintf("request body over the limit of %d bytes (%d MiB)", mbe.Limit, mbe.Limit>>20)
	}
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "request_id", requestID(r), "error", err)
	}
	writeJSON(w, status, errorBody{Error: msg, Status: status, RequestID: requestID(r)})
}

// handle adapts an error-returning handler, with the scope it needs.
func (s *Server) handle(scope store.Scope, h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if scope != "" {
			key, err := s.authenticate(r, scope)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			*r = *r.WithContext(context.WithValue(r.Context(), keyCtx{}, key))
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

type keyCtx struct{}
type ridCtx struct{}

// actor is the id of the key a request came with.
func actor(r *http.Request) string {
	if k, ok := r.Context().Value(keyCtx{}).(store.Key); ok {
		return "key:" + k.ID
	}
	return "anonymous"
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ridCtx{}).(string)
	return id
}

// authenticate checks the request's API key (Authorization: Bearer KEY,
// or X-API-Key) against the store and the scope needed.
func (s *Server) authenticate(r *http.Request, need store.Scope) (store.Key, error) {
	secret := r.Header.Get("X-API-Key")
	if h := r.Header.Get("Authorization"); secret == "" && h != "" {
		secret, _ = strings.CutPrefix(h, "Bearer ")
	}
	if secret == "" {
		return store.Key{}, fail(http.StatusUnauthorized, "an API key is needed (Authorization: Bearer KEY); make one with 'siamese serve keys add --scope %s'", need)
	}
	id := store.KeyID(secret)
	if id == "" {
		return store.Key{}, fail(http.StatusUnauthorized, "not a siamese API key")
	}
	k, err := s.cfg.Store.Key(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !k.Matches(secret) {
		return store.Key{}, fail(http.StatusUnauthorized, "unknown API key")
	}
	if err != nil {
		return store.Key{}, &apiError{http.StatusServiceUnavailable, fmt.Errorf("checking the key: %w", err)}
	}
	if !k.Scope.Allows(need) {
		return store.Key{}, fail(http.StatusForbidden, "this key's scope is %s; this request needs %s", k.Scope, need)
	}
	return k, nil
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middleware gives each request an id (X-Request-Id, kept if the client
// sent a sane one), a JSON log line and its latency in the metrics.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < '!' || c > '~' }) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), ridCtx{}, id))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.metrics.observeRequest(route, sw.status, d)
		if route == "GET /healthz" || route == "GET /metrics" || route == "GET /readyz" {
			return
		}
		s.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path, "route", route, "status", sw.status, "ms", float64(d.Microseconds())/1000, "actor", actor(r))
	})
}
