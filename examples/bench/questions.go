package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/domains/questions"
	"github.com/siamesenet/siamese/towers/text"
)

// runQuestionsScale indexes n synthetic questions (words drawn from a
// Zipf law over a 50,000-word vocabulary, 4 to 16 a question) with the
// default text tower and a lexical fusion, writes the index file, reads it
// back, and times exact searches: index time, file size, memory, ms per
// query.
func runQuestionsScale(n int) error {
	ctx := context.Background()
	tc := questions.DefaultTower
	spec := core.Spec{Tower: text.Name, Head: "contrastive", HeadConfig: []byte(`{"margin":1.4}`)}
	spec.TowerConfig = []byte(fmt.Sprintf(`{"bits":%d,"max_features":%d,"dim":%d,"hidden":[128],"embed":%d}`, tc.Bits, tc.MaxFeatures, tc.Dim, tc.Embed))
	feat := tc.Featurizer()
	m, err := core.New(spec, feat.Preprocess(), 1)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(3, 4))
	zipf := rand.NewZipf(rng, 1.1, 2, 49999)
	word := func() string { return fmt.Sprintf("w%d", zipf.Uint64()) }
	texts := make([]string, n)
	for i := range texts {
		k := 4 + rng.IntN(13)
		ws := make([]string, k)
		for j := range ws {
			ws[j] = word()
		}
		texts[i] = strings.Join(ws, " ") + "?"
	}
	stats := questions.NewStats(texts[:min(n, 100000)])
	sc := &questions.Scoring{Fusion: questions.Fusion{Bias: -2.6, Learned: 0.7, Lexical: 3.2}, Stats: stats}
	if m.Scoring, err = sc.Marshal(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "siamese-bench-questions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "base.idx")

	start := time.Now()
	g := gallery.New(m, 1)
	people := make([]*gallery.Person, 0, n)
	const batch = 512
	items := make([]core.Item, 0, batch)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		items = items[:0]
		for _, t := range texts[lo:hi] {
			f, _, err := feat.Features(t)
			if err != nil {
				return err
			}
			items = append(items, core.Item{Bag: f})
		}
		embs, err := m.Embed(ctx, items, 0)
		if err != nil {
			return err
		}
		for i, e := range embs {
			people = append(people, &gallery.Person{Name: fmt.Sprintf("q%07d", lo+i), Note: texts[lo+i], Embeddings: [][]float32{e}})
		}
	}
	embedTime := time.Since(start)
	if err := g.EnrollAll(people, false); err != nil {
		return err
	}
	if err := questions.IndexStats(g); err != nil {
		return err
	}
	if err := g.Save(path); err != nil {
		return err
	}
	indexTime := time.Since(start)
	st, _ := os.Stat(path)
	people, g, texts = nil, nil, nil
	runtime.GC()

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start = time.Now()
	g, err = gallery.Load(path, m, 1)
	if err != nil {
		return err
	}
	x, err := questions.NewIndex(g, m)
	if err != nil {
		return err
	}
	loadTime := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	if path := os.Getenv("SIAMESE_BENCH_PROFILE"); path != "" {
		f, _ := os.Create(path)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var lat []float64
	for q := range 200 {
		k := 4 + rng.IntN(13)
		ws := make([]string, k)
		for j := range ws {
			ws[j] = word()
		}
		query := strings.Join(ws, " ")
		t0 := time.Now()
		f, _, err := feat.Features(query)
		if err != nil {
			return err
		}
		e, err := m.Embed(ctx, []core.Item{{Bag: f}}, 1)
		if err != nil {
			return err
		}
		hits := x.Search(query, e[0], 5)
		if q >= 10 { // the first ones warm up
			lat = append(lat, time.Since(t0).Seconds()*1000)
		}
		if len(hits) != 5 {
			return fmt.Errorf("search found %d", len(hits))
		}
	}
	sort.Float64s(lat)
	mean := 0.0
	for _, v := range lat {
		mean += v
	}
	mean /= float64(len(lat))
	fmt.Printf("siamese bench -questions: %s\n%d synthetic questions (Zipf words), default text tower (64-d), lexical fusion, exact search, top 5\n\n", machine(), x.Len())
	fmt.Println("| questions | embed | index (embed + stats + write) | file | load + prepare | heap after load | search ms/query (mean) | p50 | p99 |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %.1f s | %.1f s | %.0f MB | %.1f s | %.0f MB | %.2f | %.2f | %.2f |\n", x.Len(), embedTime.Seconds(), indexTime.Seconds(), float64(st.Size())/1e6,
		loadTime.Seconds(), float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/1e6, mean, lat[len(lat)/2], lat[int(math.Min(float64(len(lat)-1), 0.99*float64(len(lat))))])
	return nil
}
