package serve_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	_ "github.com/siamesenet/siamese/internal/testmodel" // the MLP tower and contrastive head
	"github.com/siamesenet/siamese/serve"
	"github.com/siamesenet/siamese/serve/store"
	"github.com/siamesenet/siamese/serve/store/filestore"
)

// vectors is a test finder: an upload is "x1 x2 x3 x4 x5 x6", several of
// them separated by '|' for a photo of several faces, "none" for a photo
// without one; anything else is refused as a decoder refuses a file that
// is not an image.
type vectors struct{}

var errNoFace = errors.New("no face found")

func (vectors) Decode(raw []byte) (core.Item, error) {
	fs, err := vectors{}.Find(raw)
	if err != nil {
		return core.Item{}, err
	}
	return fs[0].Item, nil
}

func (vectors) Find(raw []byte) ([]core.Found, error) {
	s := strings.TrimSpace(string(raw))
	if s == "none" {
		return nil, errNoFace
	}
	var out []core.Found
	for i, part := range strings.Split(s, "|") {
		f := strings.Fields(part)
		if len(f) != 6 {
			return nil, fmt.Errorf("not a vector of 6 numbers")
		}
		v := make([]float32, 6)
		for j, x := range f {
			y, err := strconv.ParseFloat(x, 32)
			if err != nil {
				return nil, fmt.Errorf("not a vector: %w", err)
			}
			v[j] = float32(y)
		}
		out = append(out, core.Found{Item: core.Item{Dense: v}, Box: image.Rect(10*i, 0, 10*i+8, 8), Score: 0.9})
	}
	return out, nil
}

// vec is subject n's vector, and a probe near it for jitter > 0.
func vec(n int, jitter float64) string {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	var b strings.Builder
	for j := range 6 {
		fmt.Fprintf(&b, "%g ", 6*r.Float64()-3+jitter*float64(j%3))
	}
	return b.String()
}

// client calls a test server with a key.
type client struct {
	t    testing.TB
	base string
	key  string
}

type part struct {
	field, name, body string
}

func (c client) do(method, path string, body io.Reader, ctype string) (int, map[string]any, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			c.t.Fatalf("%s %s: not JSON: %q", method, path, raw)
		}
	}
	return res.StatusCode, out, raw
}

func (c client) multipart(method, path string, fields map[string]string, parts ...part) (int, map[string]any) {
	c.t.Helper()
	body, ctype := multipartBody(fields, parts...)
	code, out, _ := c.do(method, path, body, ctype)
	return code, out
}

func multipartBody(fields map[string]string, parts ...part) (io.Reader, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for _, p := range parts {
		fw, _ := w.CreateFormFile(p.field, p.name)
		io.WriteString(fw, p.body)
	}
	w.Close()
	return &buf, w.FormDataContentType()
}

// list is a JSON answer's list of objects under key (the test fails,
// showing the answer, if there is none).
func list(t testing.TB, out map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := out[key].([]any)
	if !ok || len(raw) == 0 {
		t.Fatalf("no %s in the answer: %v", key, out)
	}
	var l []map[string]any
	for _, v := range raw {
		l = append(l, v.(map[string]any))
	}
	return l
}

func files(bodies ...string) []part {
	var ps []part
	for i, b := range bodies {
		ps = append(ps, part{"file", fmt.Sprintf("p%d.txt", i+1), b})
	}
	return ps
}

// harness is a server on a store with a key of each scope.
type harness struct {
	srv                *serve.Server
	http               *httptest.Server
	admin, kiosk, read client
	anon               client
	st                 store.Store
	m                  *core.Model
}

// model is the test model: testmodel's MLP, seeded alike in every
// process (a replica's child process serves the same model ID).
func model(t testing.TB) *core.Model {
	m, err := newModel()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newModel() (*core.Model, error) {
	m, err := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":6,"hidden":[5],"embed":4}`), Head: "contrastive"}, core.Preprocess{Kind: "vector"}, 3)
	if err == nil {
		m.Threshold = 0.8
	}
	return m, err
}

func newHarness(t testing.TB, st store.Store, cfg serve.Config) *harness {
	t.Helper()
	cfg.Model, cfg.Store, cfg.Decoder, cfg.Attendance = model(t), st, vectors{}, true
	if cfg.DefaultGallery == "" {
		cfg.DefaultGallery = "staff"
	}
	if cfg.Enrolment == nil {
		cfg.Enrolment = &core.Enrolment{Noun: "person", Key: "name", Item: "photo", Min: 1, Max: 5, Accept: "match", Reject: "no match", Identify: true, Detect: true}
	}
	cfg.OncePerDay = true
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := harnessFor(t, srv)
	h.st, h.m = st, cfg.Model
	return h
}

// harnessFor starts srv on an httptest server with a key of each scope
// in its store.
func harnessFor(t testing.TB, srv *serve.Server) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	st := srv.Store()
	h := &harness{srv: srv, http: hs, st: st, anon: client{t, hs.URL, ""}}
	for _, k := range []struct {
		scope store.Scope
		c     *client
	}{{store.ScopeAdmin, &h.admin}, {store.ScopeKiosk, &h.kiosk}, {store.ScopeRead, &h.read}} {
		secret, key, err := store.NewKey(k.scope, "test")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		*k.c = client{t, hs.URL, secret}
	}
	return h
}

func today() string { return store.Day(time.Now(), time.UTC) }

func urlPath(s string) string { return url.PathEscape(s) }

func urlQuery(s string) string { return url.QueryEscape(s) }

func fileStore(t testing.TB) store.Store {
	st, err := filestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAPIOnFiles(t *testing.T) { testAPI(t, fileStore(t)) }

// testAPI is the API's behaviour on any store.
func testAPI(t *testing.T, st store.Store) {
	h := newHarness(t, st, serve.Config{})
	g := "/v1/galleries/staff"
	enrol := func(name string, bodies ...string) (int, map[string]any) {
		return h.admin.multipart("POST", g+"/subjects", map[string]string{"name": name}, files(bodies...)...)
	}
	if code, out := enrol("ann", vec(1, 0), vec(1, 0.01)); code != 201 || out["images"].(float64) != 2 {
		t.Fatalf("enrol: %d %v", code, out)
	}
	sqlName := `Robert'); DROP TABLE subjects;--`
	for n, name := range []string{"bob", sqlName, "Zoë 李"} {
		if code, out := enrol(name, vec(n+2, 0)); code != 201 {
			t.Fatalf("enrol %q: %d %v", name, code, out)
		}
	}

	t.Run("identify", func(t *testing.T) {
		code, out := h.kiosk.multipart("POST", g+"/identify", map[string]string{"k": "2"}, files(vec(1, 0.02))...)
		items := list(t, out, "items")
		first := items[0]
		if code != 200 || first["name"] != "ann" || first["known"] != true || len(first["matches"].([]any)) != 2 {
			t.Fatalf("identify ann: %d %v", code, out)
		}
		code, out = h.kiosk.multipart("POST", g+"/identify", nil, files(vec(3, 0.01)+"|"+"9 9 9 9 9 9")...)
		items = list(t, out, "items")
		if code != 200 || len(items) != 2 || items[0]["name"] != sqlName || items[1]["name"] != serve.Unknown {
			t.Fatalf("identify two faces: %d %v", code, out)
		}
		// by embedding: the same answer as by upload
		it, _ := vectors{}.Decode([]byte(vec(1, 0.02)))
		emb, err := h.m.Embed(context.Background(), []core.Item{it}, 0)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"embedding": emb[0], "k": 1})
		code, out, _ = h.kiosk.do("POST", g+"/identify", bytes.NewReader(body), "application/json")
		if code != 200 || list(t, out, "items")[0]["name"] != "ann" {
			t.Fatalf("identify by embedding: %d %v", code, out)
		}
	})

	t.Run("verify", func(t *testing.T) {
		code, out := h.kiosk.multipart("POST", g+"/verify", map[string]string{"name": "bob"}, files(vec(2, 0.01))...)
		if code != 200 || out["match"] != true || out["verdict"] != "match" {
			t.Fatalf("verify bob: %d %v", code, out)
		}
		code, out = h.kiosk.multipart("POST", g+"/verify", map[string]string{"name": "bob"}, files(vec(1, 0))...)
		if code != 200 || out["match"] != false || out["verdict"] != "no match" {
			t.Fatalf("verify ann as bob: %d %v", code, out)
		}
	})

	t.Run("list-get-replace", func(t *testing.T) {
		code, out, _ := h.read.do("GET", g+"/subjects", nil, "")
		if code != 200 || len(list(t, out, "subjects")) != 4 {
			t.Fatalf("list: %d %v", code, out)
		}
		code, out, _ = h.read.do("GET", g+"/subjects/"+urlPath(sqlName), nil, "")
		if code != 200 || out["name"] != sqlName || out["images"].(float64) != 1 {
			t.Fatalf("get %q: %d %v", sqlName, code, out)
		}
		code, out = h.admin.multipart("PUT", g+"/subjects/bob", nil, files(vec(2, 0), vec(2, 0.01), vec(2, 0.02))...)
		if code != 201 {
			t.Fatalf("replace: %d %v", code, out)
		}
		if s, err := st.Subject(context.Background(), "staff", "bob"); err != nil || len(s.Embeddings) != 3 {
			t.Fatalf("bob after replace: %v %v", s, err)
		}
	})

	t.Run("check-in", func(t *testing.T) {
		checkIn := func(body string) (int, map[string]any) {
			return h.kiosk.multipart("POST", "/v1/attendance/check-in", map[string]string{"camera": "door-1"}, part{"file", "door.jpg", body})
		}
		code, out := checkIn(vec(1, 0.01))
		face := list(t, out, "faces")[0]
		if code != 200 || face["name"] != "ann" || face["recorded"] != true {
			t.Fatalf("check-in ann: %d %v", code, out)
		}
		code, out = checkIn(vec(1, 0.02))
		if face := list(t, out, "faces")[0]; code != 200 || face["recorded"] != false || face["checked_in"] == nil {
			t.Fatalf("second check-in ann the same day: %d %v", code, out)
		}
		for range 2 {
			if code, out := checkIn("9 9 9 9 9 9"); code != 200 || list(t, out, "faces")[0]["name"] != serve.Unknown {
				t.Fatalf("stranger: %d %v", code, out)
			}
		}
		code, out, _ = h.read.do("GET", "/v1/attendance", nil, "")
		evs := list(t, out, "events")
		if code != 200 || len(evs) != 3 {
			t.Fatalf("attendance: want ann once and two strangers, got %d %v", code, out)
		}
		code, _, raw := h.read.do("GET", "/v1/attendance.csv", nil, "")
		rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if code != 200 || err != nil || len(rows) != 4 || rows[1][4] != "ann" || rows[2][4] != "" || rows[1][7] != "door-1" {
			t.Fatalf("CSV: %d %v %q", code, err, raw)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if code, out, _ := h.admin.do("DELETE", g+"/subjects/"+urlPath(sqlName), nil, ""); code != 200 {
			t.Fatalf("delete: %d %v", code, out)
		}
		if _, err := st.Subject(context.Background(), "staff", sqlName); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted subject still in the store: %v", err)
		}
		subs, err := st.Subjects(context.Background(), "staff")
		if err != nil || len(subs) != 3 {
			t.Fatalf("after delete: %d subjects, %v", len(subs), err)
		}
		code, out := h.kiosk.multipart("POST", g+"/identify", nil, files(vec(3, 0))...)
		if first := list(t, out, "items")[0]; code != 200 || first["name"] == sqlName {
			t.Fatalf("deleted subject still identified: %v", out)
		}
		audit, err := st.Audit(context.Background(), 1)
		if err != nil || len(audit) != 1 || audit[0].Action != "delete" || audit[0].Subject != sqlName || !strings.HasPrefix(audit[0].Actor, "key:") {
			t.Fatalf("audit: %v %v", audit, err)
		}
	})

	// Bad input: a clear JSON error, and nothing stored.
	big := strings.Repeat("x", 50<<20)
	for _, tc := range []struct {
		name   string
		c      client
		method string
		path   string
		fields map[string]string
		parts  []part
		status int
		want   string
	}{
		{"not an image", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve"}, files("GIF89a garbage"), 422, "p1.txt: not a vector"},
		{"50 MB upload", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve"}, files(big), 413, "over the limit"},
		{"no face", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve"}, files("none"), 422, "no face found"},
		{"two faces to enrol", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve"}, files(vec(5, 0) + "|" + vec(6, 0)), 422, "several"},
		{"too many photos", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve"}, files(vec(5, 0), vec(5, 0), vec(5, 0), vec(5, 0), vec(5, 0), vec(5, 0)), 400, "1 to 5"},
		{"no photo", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve"}, nil, 400, "1 to 5"},
		{"duplicate name", h.admin, "POST", g + "/subjects", map[string]string{"name": "ann"}, files(vec(5, 0)), 409, "already enrolled"},
		{"bad name", h.admin, "POST", g + "/subjects", map[string]string{"name": "eve\x00"}, files(vec(5, 0)), 400, "control character"},
		{"empty name", h.admin, "POST", g + "/subjects", nil, files(vec(5, 0)), 400, "empty name"},
		{"unknown gallery", h.kiosk, "POST", "/v1/galleries/nowhere/identify", nil, files(vec(1, 0)), 404, `"nowhere"`},
		{"bad gallery name", h.admin, "POST", "/v1/galleries/..x/subjects", map[string]string{"name": "eve"}, files(vec(5, 0)), 400, "gallery name"},
		{"unknown subject", h.kiosk, "POST", g + "/verify", map[string]string{"name": "nobody"}, files(vec(1, 0)), 404, "nobody"},
		{"no key", h.anon, "POST", g + "/identify", nil, files(vec(1, 0)), 401, "API key is needed"},
		{"wrong key", client{t, h.http.URL, "sk_000000000000_nope"}, "POST", g + "/identify", nil, files(vec(1, 0)), 401, "unknown API key"},
		{"kiosk enrols", h.kiosk, "POST", g + "/subjects", map[string]string{"name": "eve"}, files(vec(5, 0)), 403, "needs admin"},
		{"read checks in", h.read, "POST", "/v1/attendance/check-in", nil, files(vec(1, 0)), 403, "needs kiosk"},
		{"check-in without a face", h.kiosk, "POST", "/v1/attendance/check-in", nil, files("none"), 422, "no face"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := st.Subjects(context.Background(), "staff")
			evs, _ := st.Attendance(context.Background(), today())
			code, out := tc.c.multipart(tc.method, tc.path, tc.fields, tc.parts...)
			msg, _ := out["error"].(string)
			if code != tc.status || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("%d %q: want %d and an error with %q", code, msg, tc.status, tc.want)
			}
			after, _ := st.Subjects(context.Background(), "staff")
			evs2, _ := st.Attendance(context.Background(), today())
			if len(after) != len(before) || len(evs2) != len(evs) {
				t.Fatalf("something was stored: %d → %d subjects, %d → %d events", len(before), len(after), len(evs), len(evs2))
			}
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		code, out, _ := h.kiosk.do("POST", g+"/identify", strings.NewReader(`{"embedding": [1, 2`), "application/json")
		if msg, _ := out["error"].(string); code != 400 || !strings.Contains(msg, "malformed JSON") {
			t.Fatalf("%d %v", code, out)
		}
	})
	t.Run("probes and metrics", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, out, _ := h.anon.do("GET", p, nil, ""); code != 200 {
				t.Fatalf("%s: %d %v", p, code, out)
			}
		}
		_, _, raw := h.anon.do("GET", "/metrics", nil, "")
		for _, want := range []string{`siamese_gallery_subjects{gallery="staff"} 3`, `siamese_identify_results_total{result="matched"}`, `siamese_checkins_total{outcome="repeat"} 1`,
			`siamese_http_request_duration_seconds_count{code="401",route="POST /v1/galleries/{gallery}/identify"}`, "siamese_embed_duration_seconds_count", "siamese_search_duration_seconds_count"} {
			if !bytes.Contains(raw, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		code, _, page := h.anon.do("GET", "/", nil, "")
		if code != 200 || !bytes.Contains(page, []byte("Check in")) {
			t.Fatalf("page: %d", code)
		}
	})
}
