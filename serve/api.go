package serve

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/serve/store"
)

func (s *Server) routes() {
	mux := http.NewServeMux()
	admin, kiosk, read := store.ScopeAdmin, store.ScopeKiosk, store.ScopeRead
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "not ready: " + err.Error(), Status: http.StatusServiceUnavailable, RequestID: requestID(r)})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", s.metrics.handler)
	mux.Handle("GET /", webHandler())

	mux.HandleFunc("GET /v1/info", s.handle(read, s.info))
	mux.HandleFunc("POST /v1/embed", s.handle(kiosk, s.embed))
	mux.HandleFunc("POST /v1/compare", s.handle(kiosk, s.compare))
	mux.HandleFunc("GET /v1/galleries", s.handle(read, s.galleries))
	mux.HandleFunc("GET /v1/galleries/{gallery}/subjects", s.handle(read, s.listSubjects))
	mux.HandleFunc("POST /v1/galleries/{gallery}/subjects", s.handle(admin, s.enrol(false)))
	mux.HandleFunc("GET /v1/galleries/{gallery}/subjects/{name}", s.handle(read, s.getSubject))
	mux.HandleFunc("PUT /v1/galleries/{gallery}/subjects/{name}", s.handle(admin, s.enrol(true)))
	mux.HandleFunc("DELETE /v1/galleries/{gallery}/subjects/{name}", s.handle(admin, s.deleteSubject))
	mux.HandleFunc("POST /v1/galleries/{gallery}/identify", s.handle(kiosk, s.identify))
	mux.HandleFunc("POST /v1/galleries/{gallery}/verify", s.handle(kiosk, s.verify))
	mux.HandleFunc("POST /v1/attendance/check-in", s.handle(kiosk, s.checkIn))
	mux.HandleFunc("GET /v1/attendance", s.handle(read, s.attendance))
	mux.HandleFunc("GET /v1/attendance.csv", s.handle(read, func(w http.ResponseWriter, r *http.Request) error { return s.attendanceAs(w, r, true) }))
	mux.HandleFunc("GET /v1/audit", s.handle(admin, s.auditLog))
	s.mux = mux
}

// upload is one input of a request: a file part, a text field or the
// whole body.
type upload struct {
	name string
	raw  []byte
}

// maxMemory is how much of a multipart body is held in memory; the rest
// of it (up to MaxUpload) goes to temporary files.
const maxMemory = 8 << 20

// form parses a request's multipart form, if it has one (any other body
// is one upload, with its fields in the query).
func form(r *http.Request) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxMemory); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return fail(http.StatusBadRequest, "malformed multipart body: %v", err)
		}
	}
	return nil
}

// field is a form field or query parameter.
func field(r *http.Request, name string) string {
	if r.MultipartForm != nil {
		if v := r.MultipartForm.Value[name]; len(v) > 0 {
			return v[0]
		}
	}
	return r.URL.Query().Get(name)
}

// uploads reads a request's inputs: each part of the given file fields
// and each value of the "text" field of a multipart body, or else the
// whole body of a request of another type (an image posted as is).
func uploads(r *http.Request, fields ...string) ([]upload, error) {
	if err := form(r); err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		if ct == "application/json" {
			return nil, fail(http.StatusBadRequest, "send files as multipart/form-data (field %q), or one file as the body", fields[0])
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			return nil, fail(http.StatusBadRequest, "empty body: send files as multipart/form-data (field %q), or one file as the body", fields[0])
		}
		return []upload{{"body", raw}}, nil
	}
	var out []upload
	for _, f := range fields {
		for _, fh := range r.MultipartForm.File[f] {
			fp, err := fh.Open()
			if err != nil {
				return nil, fail(http.StatusBadRequest, "%s: %v", fh.Filename, err)
			}
			raw, err := io.ReadAll(fp)
			fp.Close()
			if err != nil {
				return nil, fail(http.StatusBadRequest, "%s: %v", fh.Filename, err)
			}
			out = append(out, upload{fh.Filename, raw})
		}
	}
	for i, t := range r.MultipartForm.Value["text"] {
		out = append(out, upload{"text " + strconv.Itoa(i+1), []byte(t)})
	}
	return out, nil
}

// found is one item of an upload with its embedding.
type found struct {
	File      string    `json:"file"`
	Box       *box      `json:"box,omitempty"`
	Detection float64   `json:"detection,omitempty"`
	Embedding []float32 `json:"embedding,omitempty"`
	upload    int       // the index of its upload
	raw       []byte    // the upload's bytes (a question's text)
}

type box struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

func boxOf(r image.Rectangle) *box { return &box{r.Min.X, r.Min.Y, r.Dx(), r.Dy()} }

// find decodes uploads the way the CLI decodes files (core.FindItems) and
// embeds every item found; an upload the decoder refuses (not an image,
// no face) is a 422 naming it.
func (s *Server) find(ctx context.Context, ups []upload) ([]found, error) {
	start := time.Now()
	var out []found
	var items []core.Item
	for ui, u := range ups {
		fs, err := core.FindItems(s.dec, u.raw)
		if err != nil {
			return nil, fail(http.StatusUnprocessableEntity, "%s: %v", u.name, err)
		}
		for _, f := range fs {
			fd := found{File: u.name, upload: ui, raw: u.raw}
			if !f.Whole {
				fd.Box, fd.Detection = boxOf(f.Box), f.Score
			}
			out = append(out, fd)
			items = append(items, f.Item)
		}
	}
	embs, err := s.cfg.Model.Embed(ctx, items, 0)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Embedding = embs[i]
	}
	if len(ups) > 0 {
		s.metrics.embed.Observe(time.Since(start).Seconds() / float64(len(ups)))
	}
	return out, nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	m := s.cfg.Model
	writeJSON(w, http.StatusOK, map[string]any{
		"model_id": m.ID(), "domain": m.Info.Domain, "tower": m.Spec.Tower, "head": m.Spec.Head, "embedding": m.EmbeddingSize(),
		"threshold": m.Threshold, "input": m.Preprocess.Kind, "enrolment": s.cfg.Enrolment, "attendance": s.cfg.Attendance,
		"default_gallery": s.cfg.DefaultGallery, "once_per_day": s.cfg.OncePerDay, "max_upload": s.cfg.MaxUpload,
	})
	return nil
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) error {
	ups, err := uploads(r, "file")
	if err != nil {
		return err
	}
	if len(ups) == 0 {
		return fail(http.StatusBadRequest, "give at least one file (field \"file\")")
	}
	fs, err := s.find(r.Context(), ups)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": fs})
	return nil
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request) error {
	ups, err := uploads(r, "a", "b", "file")
	if err != nil {
		return err
	}
	if len(ups) != 2 {
		return fail(http.StatusBadRequest, "give exactly two files (fields \"a\" and \"b\"), got %d", len(ups))
	}
	fs, err := s.find(r.Context(), ups)
	if err != nil {
		return err
	}
	if len(fs) != 2 {
		return fail(http.StatusUnprocessableEntity, "found %d items in the two files; give one %s each", len(fs), s.cfg.Enrolment.Item)
	}
	m := s.cfg.Model
	score := float64(m.Head.Score(fs[0].Embedding, fs[1].Embedding))
	if s.cfg.PairScore != nil {
		score = s.cfg.PairScore(fs[0].raw, fs[1].raw, fs[0].Embedding, fs[1].Embedding)
	}
	verdict := s.cfg.Enrolment.Reject
	if m.Same(float32(score)) {
		verdict = s.cfg.Enrolment.Accept
	}
	writeJSON(w, http.StatusOK, map[string]any{"a": fs[0].File, "b": fs[1].File, "score": score, "threshold": m.Threshold, "same": m.Same(float32(score)), "verdict": verdict})
	return nil
}

func (s *Server) galleries(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.cfg.Store.Galleries(r.Context())
	if err != nil {
		return err
	}
	sizes := s.index.sizes()
	type row struct {
		store.Gallery
		Subjects int  `json:"subjects"`
		Served   bool `json:"served"` // made with this model
	}
	rows := []row{}
	for _, g := range gs {
		n, ok := sizes[g.Name]
		rows = append(rows, row{g, n, ok})
	}
	writeJSON(w, http.StatusOK, map[string]any{"galleries": rows})
	return nil
}

// galleryName is the request's {gallery}, checked.
func galleryName(r *http.Request) (string, error) {
	g := r.PathValue("gallery")
	if err := store.CheckGalleryName(g); err != nil {
		return "", fail(http.StatusBadRequest, "%v", err)
	}
	return g, nil
}

// subjectJSON is a subject as the API shows it: never its embeddings.
type subjectJSON struct {
	Name   string    `json:"name"`
	Note   string    `json:"note,omitempty"`
	Images int       `json:"images"`
	Added  time.Time `json:"added"`
}

func toJSON(s store.Subject) subjectJSON {
	return subjectJSON{s.Name, s.Note, len(s.Embeddings), s.Added}
}

func (s *Server) listSubjects(w http.ResponseWriter, r *http.Request) error {
	g, err := galleryName(r)
	if err != nil {
		return err
	}
	subs, err := s.cfg.Store.Subjects(r.Context(), g)
	if err != nil {
		return err
	}
	rows := make([]subjectJSON, len(subs))
	for i, sub := range subs {
		rows[i] = toJSON(sub)
	}
	writeJSON(w, http.StatusOK, map[string]any{"gallery": g, "subjects": rows})
	return nil
}

func (s *Server) getSubject(w http.ResponseWriter, r *http.Request) error {
	g, err := galleryName(r)
	if err != nil {
		return err
	}
	sub, err := s.cfg.Store.Subject(r.Context(), g, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toJSON(sub))
	return nil
}

// enrol enrols a subject from Min to Max uploads, each holding one item;
// with replace (PUT) an enrolled one is replaced, else it is a 409.
func (s *Server) enrol(replace bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		g, err := galleryName(r)
		if err != nil {
			return err
		}
		ups, err := uploads(r, "file")
		if err != nil {
			return err
		}
		e := s.cfg.Enrolment
		name := r.PathValue("name")
		if name == "" {
			if name = field(r, e.Key); name == "" {
				name = field(r, "name")
			}
		}
		if err := gallery.CheckName(name); err != nil {
			return fail(http.StatusBadRequest, "%s: %v", e.Key, err)
		}
		if len(ups) < e.Min || len(ups) > e.Max {
			return fail(http.StatusBadRequest, "give %d to %d %ss of the %s, got %d", e.Min, e.Max, e.Item, e.Noun, len(ups))
		}
		if !replace {
			replace = field(r, "replace") == "true"
		}
		fs, err := s.find(r.Context(), ups)
		if err != nil {
			return err
		}
		embs := make([][]float32, 0, len(fs))
		for i, f := range fs {
			if i > 0 && f.upload == fs[i-1].upload {
				return fail(http.StatusUnprocessableEntity, "%s: several faces or items found: enrol from %ss of the %s alone", f.File, e.Item, e.Noun)
			}
			embs = append(embs, f.Embedding)
		}
		m := s.cfg.Model
		info, err := s.cfg.Store.Gallery(r.Context(), store.Gallery{Name: g, ModelID: m.ID(), Dim: m.EmbeddingSize(), MaxImages: e.Max}, true)
		if err != nil {
			return err
		}
		s.index.ensure(info)
		sub := store.Subject{Gallery: g, Name: name, Note: field(r, "note"), Added: time.Now().UTC().Truncate(time.Second), Embeddings: embs}
		if err := s.cfg.Store.Put(r.Context(), sub, replace, actor(r)); err != nil {
			if errors.Is(err, store.ErrExists) {
				return fail(http.StatusConflict, "%s %q is already enrolled in %q: PUT /v1/galleries/%s/subjects/{name} (or replace=true) replaces", e.Noun, name, g, g)
			}
			return err
		}
		if err := s.index.put(sub); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"gallery": g, "enrolled": name, "images": len(embs)})
		return nil
	}
}

func (s *Server) deleteSubject(w http.ResponseWriter, r *http.Request) error {
	g, err := galleryName(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := s.cfg.Store.Delete(r.Context(), g, name, actor(r)); err != nil {
		return err
	}
	s.index.remove(g, name)
	writeJSON(w, http.StatusOK, map[string]any{"gallery": g, "deleted": name})
	return nil
}

// identified is one item of an identify or check-in: where it is, its
// best match (Name "unknown" under the threshold) and the top k.
type identified struct {
	File      string          `json:"file"`
	Box       *box            `json:"box,omitempty"`
	Name      string          `json:"name"`
	Known     bool            `json:"known"`
	Score     float32         `json:"score"`
	Matches   []gallery.Match `json:"matches,omitempty"`
	Recorded  *bool           `json:"recorded,omitempty"`   // check-in: a new event was stored
	CheckedIn *time.Time      `json:"checked_in,omitempty"` // check-in: the day's first event
}

// Unknown is the name identify gives an item under the threshold.
const Unknown = "unknown"

func (s *Server) search(g string, raw []byte, probe []float32, k int) ([]gallery.Match, error) {
	start := time.Now()
	ms, err := s.index.identify(g, s.cfg.Model.Head, raw, probe, k, s.cfg.Model.Threshold)
	s.metrics.search.Observe(time.Since(start).Seconds())
	if err == nil && len(ms) > 0 {
		if ms[0].Known {
			s.metrics.results.WithLabelValues("matched").Inc()
		} else {
			s.metrics.results.WithLabelValues(Unknown).Inc()
		}
	}
	return ms, err
}

func (s *Server) identifyAll(g string, fs []found, k int) ([]identified, error) {
	out := make([]identified, 0, len(fs))
	for _, f := range fs {
		ms, err := s.search(g, f.raw, f.Embedding, k)
		if err != nil {
			return nil, err
		}
		id := identified{File: f.File, Box: f.Box, Name: Unknown, Score: ms[0].Score, Matches: ms}
		if ms[0].Known {
			id.Name, id.Known = ms[0].Name, true
		}
		out = append(out, id)
	}
	return out, nil
}

// probeJSON is an identify request by embedding (a client that embeds
// at the edge, or a benchmark of search alone).
type probeJSON struct {
	Embedding []float32 `json:"embedding"`
	K         int       `json:"k"`
}

func (s *Server) identify(w http.ResponseWriter, r *http.Request) error {
	g, err := galleryName(r)
	if err != nil {
		return err
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		return s.identifyEmbedding(w, r, g)
	}
	ups, err := uploads(r, "file")
	if err != nil {
		return err
	}
	if len(ups) == 0 {
		return fail(http.StatusBadRequest, "give a %s (field \"file\")", s.cfg.Enrolment.Item)
	}
	k := 5
	if v := field(r, "k"); v != "" {
		if k, err = strconv.Atoi(v); err != nil || k < 1 || k > 100 {
			return fail(http.StatusBadRequest, "k %q: want a whole number from 1 to 100", v)
		}
	}
	if err := s.index.with(g, func(*gallery.Gallery) error { return nil }); err != nil {
		return err
	}
	fs, err := s.find(r.Context(), ups)
	if err != nil {
		return err
	}
	ids, err := s.identifyAll(g, fs, k)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"gallery": g, "threshold": s.cfg.Model.Threshold, "items": ids})
	return nil
}

func (s *Server) identifyEmbedding(w http.ResponseWriter, r *http.Request, g string) error {
	var p probeJSON
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fail(http.StatusBadRequest, "malformed JSON body: %v (want {\"embedding\": [...], \"k\": 5})", err)
	}
	if d := s.cfg.Model.EmbeddingSize(); len(p.Embedding) != d {
		return fail(http.StatusBadRequest, "embedding of %d values; this model's have %d", len(p.Embedding), d)
	}
	for _, v := range p.Embedding {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fail(http.StatusBadRequest, "embedding holds %v", v)
		}
	}
	if p.K == 0 {
		p.K = 5
	}
	if p.K < 1 || p.K > 100 {
		return fail(http.StatusBadRequest, "k %d: want 1 to 100", p.K)
	}
	ids, err := s.identifyAll(g, []found{{File: "embedding", Embedding: p.Embedding}}, p.K)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"gallery": g, "threshold": s.cfg.Model.Threshold, "items": ids})
	return nil
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) error {
	g, err := galleryName(r)
	if err != nil {
		return err
	}
	ups, err := uploads(r, "file")
	if err != nil {
		return err
	}
	e := s.cfg.Enrolment
	name := field(r, e.Key)
	if name == "" {
		name = field(r, "name")
	}
	if name == "" {
		return fail(http.StatusBadRequest, "give the %s claimed (field %q)", e.Noun, e.Key)
	}
	if len(ups) != 1 {
		return fail(http.StatusBadRequest, "give one %s (field \"file\"), got %d", e.Item, len(ups))
	}
	rule := core.ScoreRule{Aggregate: core.Closest}
	if m := s.cfg.Model; m.Rule != nil {
		rule = *m.Rule
	}
	if err := s.index.with(g, func(gg *gallery.Gallery) error {
		if gg.Find(name) == nil {
			return fmt.Errorf("%s %q in gallery %q: %w", e.Noun, name, g, store.ErrNotFound)
		}
		return nil
	}); err != nil {
		return err
	}
	fs, err := s.find(r.Context(), ups)
	if err != nil {
		return err
	}
	if len(fs) != 1 {
		return fail(http.StatusUnprocessableEntity, "%s: %d %ss found; give one", ups[0].name, len(fs), e.Item)
	}
	score, err := s.index.verify(g, name, s.cfg.Model.Head, fs[0].raw, fs[0].Embedding, rule)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %w", e.Noun, err)
	}
	if err != nil {
		return err
	}
	ok := score >= s.cfg.Model.Threshold
	verdict := e.Reject
	if ok {
		verdict = e.Accept
	}
	writeJSON(w, http.StatusOK, map[string]any{"gallery": g, e.Key: name, "score": score, "threshold": s.cfg.Model.Threshold, "match": ok, "verdict": verdict})
	return nil
}

// checkIn identifies every face of a photo and records an event for
// each: a known person once a day (by default), a stranger every time.
func (s *Server) checkIn(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.Attendance {
		return fail(http.StatusNotFound, "attendance is for face models; this one is a %s model", s.cfg.Model.Info.Domain)
	}
	ups, err := uploads(r, "file", "photo")
	if err != nil {
		return err
	}
	if len(ups) != 1 {
		return fail(http.StatusBadRequest, "give one photo (field \"file\"), got %d", len(ups))
	}
	g := field(r, "gallery")
	if g == "" {
		g = s.cfg.DefaultGallery
	}
	if err := store.CheckGalleryName(g); err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}
	camera := field(r, "camera")
	if len(camera) > 128 || strings.ContainsFunc(camera, func(c rune) bool { return c < ' ' }) {
		return fail(http.StatusBadRequest, "camera: at most 128 printable characters")
	}
	if err := s.index.with(g, func(*gallery.Gallery) error { return nil }); err != nil {
		return err
	}
	fs, err := s.find(r.Context(), ups)
	if err != nil {
		return err
	}
	ids, err := s.identifyAll(g, fs, 1)
	if err != nil && !errors.Is(err, gallery.ErrEmptyGallery) {
		return err
	}
	if errors.Is(err, gallery.ErrEmptyGallery) { // everyone is a stranger
		ids = make([]identified, len(fs))
		for i, f := range fs {
			ids[i] = identified{File: f.File, Box: f.Box, Name: Unknown}
		}
	}
	now := time.Now().UTC()
	for i := range ids {
		ev := store.Event{Time: now, Day: store.Day(now, s.cfg.Location), Gallery: g, Score: ids[i].Score, Camera: camera, ModelID: s.cfg.Model.ID()}
		if ids[i].Known {
			ev.Subject = ids[i].Name
		}
		first, recorded, err := s.cfg.Store.CheckIn(r.Context(), ev, s.cfg.OncePerDay)
		if err != nil {
			return err
		}
		ids[i].Recorded = &recorded
		ids[i].Matches = nil
		switch {
		case !ev.Known():
			s.metrics.checkins.WithLabelValues(Unknown).Inc()
		case recorded:
			s.metrics.checkins.WithLabelValues("recorded").Inc()
		default:
			s.metrics.checkins.WithLabelValues("repeat").Inc()
		}
		if ev.Known() {
			t := first.Time
			ids[i].CheckedIn = &t
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"time": now, "camera": camera, "gallery": g, "faces": ids})
	return nil
}

func (s *Server) attendance(w http.ResponseWriter, r *http.Request) error {
	asCSV := field(r, "format") == "csv"
	return s.attendanceAs(w, r, asCSV)
}

// attendanceAs answers a day's events (?date=YYYY-MM-DD, default today)
// as JSON or CSV.
func (s *Server) attendanceAs(w http.ResponseWriter, r *http.Request, asCSV bool) error {
	day := field(r, "date")
	if day == "" {
		day = store.Day(time.Now(), s.cfg.Location)
	}
	if err := store.CheckDay(day); err != nil {
		return fail(http.StatusBadRequest, "%v", err)
	}
	evs, err := s.cfg.Store.Attendance(r.Context(), day)
	if err != nil {
		return err
	}
	if !asCSV {
		writeJSON(w, http.StatusOK, map[string]any{"date": day, "events": evs})
		return nil
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, evs, s.cfg.Location); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="attendance-%s.csv"`, day))
	w.Write(buf.Bytes())
	return nil
}

// WriteCSV writes attendance events as CSV with a header row: id, time
// (RFC 3339 in loc), date, gallery, subject ("" for a stranger), known,
// score, camera, model id. A cell that a spreadsheet would run as a
// formula is prefixed with a quote.
func WriteCSV(w io.Writer, evs []store.Event, loc *time.Location) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "time", "date", "gallery", "subject", "known", "score", "camera", "model_id"})
	for _, e := range evs {
		cw.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.In(loc).Format(time.RFC3339), e.Day, e.Gallery, safeCell(e.Subject), strconv.FormatBool(e.Known()),
			strconv.FormatFloat(float64(e.Score), 'f', 4, 32), safeCell(e.Camera), e.ModelID})
	}
	cw.Flush()
	return cw.Error()
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	n := 100
	if v := field(r, "limit"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 10000 {
			return fail(http.StatusBadRequest, "limit %q: want 1 to 10000", v)
		}
	}
	es, err := s.cfg.Store.Audit(r.Context(), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"audit": es})
	return nil
}
