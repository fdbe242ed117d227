package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/face"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/internal/imageset"
	"github.com/siamesenet/siamese/internal/npmpkg"
	"github.com/siamesenet/siamese/internal/pgtest"
	"github.com/siamesenet/siamese/internal/scenes"
	"github.com/siamesenet/siamese/serve"
	"github.com/siamesenet/siamese/serve/store"
	"github.com/siamesenet/siamese/serve/store/filestore"
	"github.com/siamesenet/siamese/serve/store/pgstore"
)

// serveOptions size the service benchmark.
type serveOptions struct {
	db       string // "auto": a throwaway PostgreSQL; "files": the file store; else a URL
	seconds  int
	clients  int
	subjects int
}

// runServe loads the service on loopback with the imported face network:
// subjects × 5 embeddings enrolled (random unit vectors, and one LFW
// person from real photos), then clients identifying for the given time
// by embedding (search alone), by photo (detection and embedding
// included), and checking in by photo; every 2xx check-in must be one
// event in the store.
func runServe(o serveOptions) error {
	ctx := context.Background()
	tgz, err := npmpkg.Fetch(ctx, face.FaceAPIPackage)
	if err != nil {
		return err
	}
	m, err := face.Import(tgz, face.ImportOptions{})
	if err != nil {
		return err
	}
	lfw, err := face.OpenLFW(datadir.Domain(face.LFWFolder))
	if err != nil {
		return fmt.Errorf("the photos come from LFW: set SIAMESE_DATA (%w)", err)
	}
	defer lfw.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var photos [][]byte
	for i := 1; i <= 8; i++ {
		raw, err := fs.ReadFile(lfw.Source().FS, face.LFWImage("George_W_Bush", i))
		if err != nil {
			return err
		}
		f, err := imageset.Decode(raw)
		if err != nil {
			return err
		}
		img, _ := scenes.Paste(f, 640, 480, 150, 150, rng)
		var b bytes.Buffer
		jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
		photos = append(photos, b.Bytes())
	}

	var st store.Store
	kind := o.db
	switch o.db {
	case "files":
		dir, err := os.MkdirTemp("", "siamese-bench-serve-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		st, err = filestore.Open(dir)
		if err != nil {
			return err
		}
	case "auto":
		pg, err := pgtest.New(true)
		if err != nil {
			return err
		}
		defer pg.Close()
		if st, err = pgstore.Open(ctx, pg.URL()); err != nil {
			return err
		}
		kind = "PostgreSQL 15 (a throwaway cluster on loopback, fsync on)"
	default:
		if st, err = pgstore.Open(ctx, o.db); err != nil {
			return err
		}
		kind = "PostgreSQL at " + o.db
	}
	defer st.Close()
	pol, _ := core.DomainPolicy(face.Name)
	g := store.Gallery{Name: "staff", ModelID: m.ID(), Dim: m.EmbeddingSize(), MaxImages: pol.Enrolment.Max}
	if _, err := st.Gallery(ctx, g, true); err != nil {
		return err
	}
	start := time.Now()
	for i := range o.subjects {
		embs := make([][]float32, 5)
		for j := range embs {
			embs[j] = unitVector(rng, g.Dim)
		}
		if err := st.Put(ctx, store.Subject{Gallery: "staff", Name: fmt.Sprintf("employee-%04d", i), Embeddings: embs}, false, "bench"); err != nil {
			return err
		}
	}
	// George enrolled from his first three photos; the rest are probes.
	dec, err := core.NewDecoder(m.Preprocess, m.Assets...)
	if err != nil {
		return err
	}
	var items []core.Item
	for _, p := range photos[:3] {
		fs, err := core.FindItems(dec, p)
		if err != nil {
			return err
		}
		items = append(items, fs[0].Item)
	}
	embs, err := m.Embed(ctx, items, 0)
	if err != nil {
		return err
	}
	if err := st.Put(ctx, store.Subject{Gallery: "staff", Name: "George", Embeddings: embs}, false, "bench"); err != nil {
		return err
	}
	enrolTime := time.Since(start)
	probes := photos[3:]
	it, _ := core.FindItems(dec, probes[0])
	probeEmb, _ := m.Embed(ctx, []core.Item{it[0].Item}, 0)

	srv, err := serve.New(serve.Config{Model: m, Decoder: dec, Store: st, Enrolment: pol.Enrolment, Attendance: true, DefaultGallery: "staff",
		OncePerDay: false, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := srv.Start(sctx); err != nil {
		return err
	}
	secret, key, _ := store.NewKey(store.ScopeKiosk, "bench")
	if err := st.AddKey(ctx, key); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients}}
	day := store.Day(time.Now(), time.UTC)
	before, err := st.Attendance(ctx, day)
	if err != nil {
		return err
	}

	byEmbedding := func(int) (*http.Request, error) {
		b, _ := json.Marshal(map[string]any{"embedding": probeEmb[0], "k": 5})
		r, err := http.NewRequest("POST", base+"/v1/galleries/staff/identify", bytes.NewReader(b))
		if err == nil {
			r.Header.Set("Content-Type", "application/json")
		}
		return r, err
	}
	upload := func(path string) func(int) (*http.Request, error) {
		return func(i int) (*http.Request, error) {
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			fw, _ := w.CreateFormFile("file", "door.jpg")
			fw.Write(probes[i%len(probes)])
			w.WriteField("camera", "bench")
			w.Close()
			r, err := http.NewRequest("POST", base+path, &b)
			if err == nil {
				r.Header.Set("Content-Type", w.FormDataContentType())
			}
			return r, err
		}
	}
	type phase struct {
		name string
		req  func(int) (*http.Request, error)
	}
	phases := []phase{
		{"identify by embedding (search only)", byEmbedding},
		{"identify by photo (detect + embed + search)", upload("/v1/galleries/staff/identify")},
		{"check-in by photo (+ one event stored)", upload("/v1/attendance/check-in")},
	}
	fmt.Printf("siamese bench -serve: %s\n%s, %d subjects × 5 embeddings + 1 (enrolled in %.1f s), %d clients, %d s a phase, loopback\n\n",
		machine(), kind, o.subjects, enrolTime.Seconds(), o.clients, o.seconds)
	fmt.Println("| phase | requests | errors | requests/s | p50 ms | p99 ms |")
	fmt.Println("|---|---|---|---|---|---|")
	var checkIns2xx, recorded int
	for _, ph := range phases {
		var mu sync.Mutex
		var lat []float64
		errs, ok2xx, faces := 0, 0, 0
		var firstErr error
		deadline := time.Now().Add(time.Duration(o.seconds) * time.Second)
		var wg sync.WaitGroup
		t0 := time.Now()
		for c := range o.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; time.Now().Before(deadline); i += o.clients {
					r, err := ph.req(i)
					if err != nil {
						return
					}
					r.Header.Set("Authorization", "Bearer "+secret)
					s := time.Now()
					res, err := client.Do(r)
					d := time.Since(s).Seconds() * 1000
					n := 0
					if err == nil {
						var body struct {
							Faces []struct{ Recorded bool }
						}
						raw, _ := io.ReadAll(res.Body)
						res.Body.Close()
						json.Unmarshal(raw, &body)
						for _, f := range body.Faces {
							if f.Recorded {
								n++
							}
						}
						if res.StatusCode/100 != 2 {
							err = fmt.Errorf("status %d: %s", res.StatusCode, raw)
						}
					}
					mu.Lock()
					lat = append(lat, d)
					if err != nil {
						errs++
						if firstErr == nil {
							firstErr = err
						}
					} else {
						ok2xx++
						faces += n
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		el := time.Since(t0).Seconds()
		sort.Float64s(lat)
		fmt.Printf("| %s | %d | %d | %.1f | %.1f | %.1f |\n", ph.name, len(lat), errs, float64(len(lat))/el, pct(lat, 0.5), pct(lat, 0.99))
		if firstErr != nil {
			fmt.Fprintln(os.Stderr, "first error:", firstErr)
		}
		if ph.name[:8] == "check-in" {
			checkIns2xx, recorded = ok2xx, faces
		}
	}
	after, err := st.Attendance(ctx, day)
	if err != nil {
		return err
	}
	stored := len(after) - len(before)
	fmt.Printf("\ncheck-ins answered 2xx: %d (faces recorded in them: %d); events stored: %d\n", checkIns2xx, recorded, stored)
	if stored != recorded {
		return errors.New("lost attendance events: the store holds a different number of events than the check-ins recorded")
	}
	return nil
}

func unitVector(rng *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	var n float64
	for i := range v {
		x := rng.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
