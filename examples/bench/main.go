// Command bench measures training and embedding speed and memory of the
// tower presets on synthetic data, optionally side by side with PyTorch on
// the same nets, and the speed of search over cached embeddings.
//
//	go run ./examples/bench                          # Go only
//	go run ./examples/bench -compare -reps 3         # interleaved with PyTorch, ratio table
//	go run ./examples/bench -search                  # top-5 search over 1k, 100k, 1M embeddings
//	go run ./examples/bench -plugin -reps 3          # cost of streaming pairs from a plugin
//	go run ./examples/bench -gallery                 # identify against 10,000 enrolled people
//
// Each case runs in a child process of its own, so peak RSS is per case.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/core/gallery"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/domains/questions"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	_ "github.com/siamesenet/siamese/heads/cosine"
	_ "github.com/siamesenet/siamese/heads/l1sigmoid"
	"github.com/siamesenet/siamese/towers/cnn"
	_ "github.com/siamesenet/siamese/towers/mlp"
	"github.com/siamesenet/siamese/towers/resnet"
	"github.com/siamesenet/siamese/towers/text"
)

type options struct {
	steps, batch, embedBatch int
	gemm                     string // the product micro-kernel, passed on to each case
}

func main() {
	nets := flag.String("nets", "small,koch-half,koch", "comma-separated cnn presets")
	modes := flag.String("modes", "train,embed", "train and/or embed")
	reps := flag.Int("reps", 1, "repetitions of each case (medians are reported)")
	compare := flag.Bool("compare", false, "also run the PyTorch reference (torch_ref.py) interleaved")
	python := flag.String("python", "/usr/bin/python3", "python with torch (Debian's python3-torch)")
	search := flag.Bool("search", false, "benchmark top-5 search over cached embeddings instead")
	galleryBench := flag.Bool("gallery", false, "benchmark identification against a gallery of 10,000 people instead")
	facePhoto := flag.Bool("face-photo", false, "benchmark detect + align + embed of one 640×480 photo with the imported face network instead")
	trackBench := flag.Bool("track", false, "benchmark the tracker's frames per second instead (with -compare: the network's share against PyTorch)")
	pluginCost := flag.Bool("plugin", false, "benchmark training with pairs streamed from a plugin against in process instead")
	questionsScale := flag.Int("questions", 0, "index and search this many synthetic questions instead (the question issue's scale: 1000000)")
	shares := flag.String("shares", "", "profile one case NET/MODE and print the share of time by where it goes instead (needs the go tool)")
	memory := flag.Bool("memory", false, "train the small net 1,000 steps and report RSS after step 10 and after step 1,000 instead")
	serveBench := flag.Bool("serve", false, "load the HTTP service on loopback instead: identify by embedding and by photo, check-ins")
	var so serveOptions
	flag.StringVar(&so.db, "serve-db", "auto", "with -serve: auto (a throwaway PostgreSQL), files (the file store) or a postgres:// URL")
	flag.IntVar(&so.seconds, "serve-seconds", 60, "with -serve: seconds of load a phase")
	flag.IntVar(&so.clients, "serve-clients", 8, "with -serve: concurrent clients")
	flag.IntVar(&so.subjects, "serve-subjects", 1000, "with -serve: subjects enrolled (5 embeddings each)")
	peak := flag.Float64("peak", 200, "the machine's fp32 peak in GFLOP/s, for the share column")
	var o options
	flag.IntVar(&o.steps, "steps", 10, "timed steps per case (after one warm-up step)")
	flag.IntVar(&o.batch, "batch", 32, "training pairs per step (2×batch images, the twin layout)")
	flag.IntVar(&o.embedBatch, "embed-batch", 64, "images per embedding batch")
	child := flag.String("case", "", "run one case NET/MODE and print JSON (used by the parent)")
	profile := flag.String("cpuprofile", "", "write a CPU profile (with -case)")
	memProfile := flag.String("memprofile", "", "write an allocation profile at the end (with -case)")
	vecFlag := flag.String("vec", "best", "the distance kernels to use: best, avx512, avx2 or generic (at most the CPU's best)")
	gemmFlag := flag.String("gemm", "best", "the product micro-kernel: best, go-avx512, go-avx2 or go (at most the CPU's best); for the nets, a comma-separated list compares them in one run")
	flag.Parse()
	o.gemm = *gemmFlag
	first, _, _ := strings.Cut(*gemmFlag, ",")
	if err := useKernels(*vecFlag, first); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	var err error
	switch {
	case *child != "":
		if *memProfile != "" {
			runtime.MemProfileRate = 1 // every allocation: what a step allocates is small
		}
		err = runChild(*child, o, *profile)
		if err == nil && *memProfile != "" {
			err = writeHeapProfile(*memProfile)
		}
	case *search:
		err = runSearch()
	case *galleryBench:
		err = runGallery()
	case *facePhoto:
		err = runFacePhoto(*reps)
	case *trackBench:
		err = runTrack(*reps, *compare, *python)
	case *questionsScale > 0:
		err = runQuestionsScale(*questionsScale)
	case *serveBench:
		err = runServe(so)
	case *memory:
		err = runMemory(o)
	case *shares != "":
		err = runShares(*shares, o)
	case *pluginCost:
		err = runPluginOverhead(*reps, 10*o.steps)
	default:
		err = runAll(strings.Split(*nets, ","), strings.Split(*modes, ","), *reps, *compare, *python, *peak, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type result struct {
	Net     string  `json:"net"`
	Mode    string  `json:"mode"`
	Rate    float64 `json:"rate"`
	PeakRSS int64   `json:"peak_rss"`
	// RSSAt10 and RSSAtEnd are the resident set after training step 10
	// and after the last (train cases).
	RSSAt10  int64 `json:"rss_at_10,omitempty"`
	RSSAtEnd int64 `json:"rss_at_end,omitempty"`
}

func runAll(nets, modes []string, reps int, compare bool, python string, peak float64, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script := torchScript()
	// Each product micro-kernel asked for is a case of its own, run in
	// the same rounds: their ratios come from one run.
	kernels := strings.Split(o.gemm, ",")
	type key struct{ net, mode, kernel string }
	goRes, ptRes := map[key][]result{}, map[key][]result{}
	for r := 0; r < reps; r++ {
		for _, net := range nets {
			for _, mode := range modes {
				for _, kern := range kernels {
					args := []string{"-case", net + "/" + mode, "-steps", fmt.Sprint(o.steps), "-batch", fmt.Sprint(o.batch), "-embed-batch", fmt.Sprint(o.embedBatch), "-gemm", kern}
					g, err := runJSON(self, args...)
					if err != nil {
						return fmt.Errorf("%s/%s: %w", net, mode, err)
					}
					k := key{net, mode, kern}
					goRes[k] = append(goRes[k], g)
					fmt.Fprintf(os.Stderr, "rep %d %s/%s %s: go %.1f/s %.2f GB\n", r+1, net, mode, kern, g.Rate, float64(g.PeakRSS)/1e9)
				}
				if compare {
					p, err := runJSONEnv(torchEnv(), python, script, "--net", net, "--mode", mode, "--steps", fmt.Sprint(o.steps), "--batch", fmt.Sprint(o.batch), "--embed-batch", fmt.Sprint(o.embedBatch))
					if err != nil {
						return fmt.Errorf("pytorch %s/%s: %w", net, mode, err)
					}
					ptRes[key{net, mode, ""}] = append(ptRes[key{net, mode, ""}], p)
					fmt.Fprintf(os.Stderr, "rep %d %s/%s: pytorch %.1f/s %.2f GB\n", r+1, net, mode, p.Rate, float64(p.PeakRSS)/1e9)
				}
			}
		}
	}
	fmt.Printf("siamese bench: %s\nbatch %d pairs (train) / %d images (embed), median of %d\n", machine(), o.batch, o.embedBatch, reps)
	if compare {
		fmt.Println(torchMachine(python, script))
	}
	fmt.Println()
	if compare {
		fmt.Println("| net | mode | products | siamese | PyTorch | speed ratio | siamese RSS | PyTorch RSS | RSS ratio | siamese GFLOP/s | share of peak |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Println("| net | mode | products | siamese | peak RSS | GFLOP/s | share of peak |")
		fmt.Println("|---|---|---|---|---|---|---|")
	}
	for _, net := range nets {
		flops := presetFLOPs(net)
		for _, mode := range modes {
			for _, kern := range kernels {
				g := median(goRes[key{net, mode, kern}])
				unit, gf := "img/s", flops*g.Rate/1e9
				if mode == "train" {
					unit, gf = "pairs/s", 3*flops*2*g.Rate/1e9
				}
				name := kern
				if name == "best" {
					name = productPath()
				}
				if compare {
					p := median(ptRes[key{net, mode, ""}])
					fmt.Printf("| %s | %s | %s | %.1f %s | %.1f %s | %.2f× | %.2f GB | %.2f GB | %.2f× | %.1f | %.0f%% |\n", net, mode, name, g.Rate, unit, p.Rate, unit,
						g.Rate/p.Rate, gb(g.PeakRSS), gb(p.PeakRSS), float64(g.PeakRSS)/float64(p.PeakRSS), gf, 100*gf/peak)
				} else {
					fmt.Printf("| %s | %s | %s | %.1f %s | %.2f GB | %.1f | %.0f%% |\n", net, mode, name, g.Rate, unit, gb(g.PeakRSS), gf, 100*gf/peak)
				}
			}
		}
	}
	return nil
}

func gb(b int64) float64 { return float64(b) / (1 << 30) }

// median takes the median rate and the median RSS of the runs.
func median(rs []result) result {
	if len(rs) == 0 {
		return result{}
	}
	rates, rss := make([]float64, len(rs)), make([]int64, len(rs))
	for i, r := range rs {
		rates[i], rss[i] = r.Rate, r.PeakRSS
	}
	sort.Float64s(rates)
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return result{Net: rs[0].Net, Mode: rs[0].Mode, Rate: rates[len(rates)/2], PeakRSS: rss[len(rss)/2]}
}

// torchEnv is the environment of the PyTorch reference: this workplace
// sets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for old OpenBLAS builds, which
// hold a current one back, so the reference runs without them.
func torchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			env = append(env, kv)
		}
	}
	return env
}

func runJSON(bin string, args ...string) (result, error) {
	return runJSONEnv(nil, bin, args...)
}

func runJSONEnv(env []string, bin string, args ...string) (result, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	var r result
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return result{}, fmt.Errorf("bad output %q: %w", out.String(), err)
	}
	return r, nil
}

// torchScript finds torch_ref.py beside this source file or in the
// working folder.
func torchScript() string {
	for _, p := range []string{"examples/bench/torch_ref.py", "torch_ref.py"} {
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	return "examples/bench/torch_ref.py"
}

// textFeatures is the number of hashed features of a benchmark text (a
// Quora question of 12 words has about 12 + 11 + 60).
const textFeatures = 80

func presetFLOPs(preset string) float64 {
	if preset == "resnet" {
		return resnetFLOPs()
	}
	if strings.HasPrefix(preset, "text") {
		c := questions.DefaultTower
		return 2 * float64(textFeatures*c.Dim/2+c.Dim*c.Hidden[0]+c.Hidden[0]*c.Embed)
	}
	c, err := cnn.Config{Preset: preset}.Resolve()
	if err != nil {
		return 0
	}
	return forwardFLOPs(c)
}

// forwardFLOPs counts the multiply-adds (×2) of one image through the tower.
func forwardFLOPs(c cnn.Config) float64 {
	ch, h, w := c.Input[0], c.Input[1], c.Input[2]
	f := 0.0
	for _, b := range c.Blocks {
		h, w = h-b.Kernel+1, w-b.Kernel+1
		f += 2 * float64(b.Filters*ch*b.Kernel*b.Kernel*h*w)
		ch = b.Filters
		if b.Pool > 1 {
			h, w = h/b.Pool, w/b.Pool
		}
	}
	in := ch * h * w
	for _, o := range append(append([]int(nil), c.Hidden...), c.Embed) {
		f += 2 * float64(in*o)
		in = o
	}
	return f
}

// fixed is a domain that streams one synthetic batch over and over.
type fixed struct{ bt *core.Batch }

func (f fixed) Describe() core.Description { return core.Description{Name: "synthetic"} }
func (f fixed) Episodes(context.Context, string) ([]core.Episode, error) {
	return nil, errors.New("none")
}
func (f fixed) Decode([]byte) (core.Item, error)                             { return core.Item{}, errors.New("none") }
func (f fixed) Pairs(context.Context, core.PairRequest) (core.Stream, error) { return f, nil }
func (f fixed) Next(context.Context) (*core.Batch, error)                    { return f.bt, nil }
func (f fixed) Close() error                                                 { return nil }

func runChild(c string, o options, profile string) error {
	net, mode, ok := strings.Cut(c, "/")
	if !ok {
		return fmt.Errorf("case %q: want NET/MODE", c)
	}
	tc, _ := json.Marshal(cnn.Config{Preset: net})
	spec := core.Spec{Tower: cnn.Name, TowerConfig: tc, Head: "l1sigmoid"}
	if net == "resnet" { // the face-api.js network (dlib's ResNet), 150×150 RGB
		tc, _ = json.Marshal(resnet.FaceAPI)
		spec = core.Spec{Tower: resnet.Name, TowerConfig: tc, Head: "contrastive"}
	}
	if strings.HasPrefix(net, "text") {
		// The question tower (text-sparse: the same; only the PyTorch
		// reference differs, with a sparse embedding bag and SparseAdam): a 2^18×64 embedding bag, 128 ReLU, 64, L2 norm.
		tc, _ = json.Marshal(questions.DefaultTower)
		spec = core.Spec{Tower: text.Name, TowerConfig: tc, Head: "contrastive"}
	}
	m, err := core.New(spec, core.Preprocess{}, 1)
	if err != nil {
		return err
	}
	randomItem := func(rng *rand.Rand) core.Item {
		if !strings.HasPrefix(net, "text") {
			return coretest.RandomItem(m.Tower.Input(), rng)
		}
		bag := make([]int32, textFeatures)
		for i := range bag {
			bag[i] = int32(rng.IntN(1 << questions.DefaultTower.Bits))
		}
		return core.Item{Bag: bag}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	r := result{Net: net, Mode: mode}
	switch mode {
	case "train":
		// The classic twin layout: pair i is (image i, image batch+i).
		bt := coretest.RandomBatch(m.Tower, 2*o.batch, o.batch, 1)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range bt.Items {
			bt.Items[i] = randomItem(rng)
		}
		for i := range bt.A {
			bt.A[i], bt.B[i] = i, o.batch+i
		}
		var t0 time.Time
		var secs float64
		tr := &train.Trainer{Model: m, Domain: fixed{bt}, Config: train.Config{Steps: o.steps + 1, Items: 2 * o.batch, Pairs: o.batch},
			OnProgress: func(p train.Progress) {
				if p.Step == 1 {
					t0 = time.Now()
				}
				if p.Step == 10 {
					r.RSSAt10 = currentRSS()
				}
				if p.Step == o.steps+1 {
					secs = time.Since(t0).Seconds()
					r.RSSAtEnd = currentRSS()
				}
			}}
		if _, err := tr.Run(context.Background()); err != nil {
			return err
		}
		r.Rate = float64(o.steps*o.batch) / secs
	case "embed":
		rng := rand.New(rand.NewPCG(1, 1))
		var items []core.Item
		for i := 0; i < o.embedBatch; i++ {
			items = append(items, randomItem(rng))
		}
		ctx := context.Background()
		if _, err := m.Embed(ctx, items, o.embedBatch); err != nil {
			return err
		}
		start := time.Now()
		for i := 0; i < o.steps; i++ {
			if _, err := m.Embed(ctx, items, o.embedBatch); err != nil {
				return err
			}
		}
		r.Rate = float64(o.steps*o.embedBatch) / time.Since(start).Seconds()
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	r.PeakRSS = ru.Maxrss * 1024
	return json.NewEncoder(os.Stdout).Encode(r)
}

// writeHeapProfile writes the allocation profile (pprof's alloc_space
// shows what allocates per step).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile is as of the last GC: make it current
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// currentRSS is this process's resident set now (VmRSS), in bytes; 0
// where /proc does not tell.
func currentRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

// runMemory trains the small net for 1,000 steps and reports its resident
// set after step 10 and after step 1,000: a step that allocates and keeps
// shows as growth.
func runMemory(o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	g, err := runJSON(self, "-case", "small/train", "-steps", "1000", "-batch", fmt.Sprint(o.batch), "-gemm", o.gemm)
	if err != nil {
		return err
	}
	fmt.Printf("siamese bench -memory: %s\nsmall net, %d pairs a step\n\n", machine(), o.batch)
	fmt.Println("| RSS after step 10 | RSS after step 1,000 | growth | peak RSS |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| %.1f MB | %.1f MB | %+.1f%% | %.1f MB |\n", float64(g.RSSAt10)/1e6, float64(g.RSSAtEnd)/1e6, 100*(float64(g.RSSAtEnd)/float64(g.RSSAt10)-1), float64(g.PeakRSS)/1e6)
	return nil
}

// runSearch times exact top-5 search of one query over n cached 128-d
// embeddings with each head.
func runSearch() error {
	const dim = 128
	rng := rand.New(rand.NewPCG(1, 1))
	fmt.Printf("exact top-5 search, %d-d embeddings, on %s\n\n| head | embeddings | ms/query | queries/s |\n|---|---|---|---|\n", dim, machine())
	for _, head := range []string{"l1sigmoid", "contrastive", "cosine"} {
		h, err := core.NewHead(head, nil, []int{dim}, rng)
		if err != nil {
			return err
		}
		for _, n := range []int{1_000, 100_000, 1_000_000} {
			db := make([]float32, n*dim)
			for i := range db {
				db[i] = float32(rng.NormFloat64())
			}
			q := db[:dim]
			core.Search(h, q, db, 5)
			reps := max(3, 2_000_000/n)
			start := time.Now()
			for i := 0; i < reps; i++ {
				core.Search(h, q, db, 5)
			}
			per := time.Since(start).Seconds() / float64(reps)
			fmt.Printf("| %s | %d | %.3f | %.0f |\n", head, n, 1000*per, 1/per)
		}
	}
	// The question index: 100,000 questions of 64-d text embeddings,
	// searched through the gallery as `siamese questions search` does.
	m, err := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":4,"embed":64}`), Head: "contrastive"}, core.Preprocess{}, 1)
	if err != nil {
		return err
	}
	g := gallery.New(m, 0)
	var entries []*gallery.Person
	for i := 0; i < 100_000; i++ {
		e := make([]float32, 64)
		for k := range e {
			e[k] = float32(rng.NormFloat64())
		}
		entries = append(entries, &gallery.Person{Name: fmt.Sprintf("q%06d", i), Embeddings: [][]float32{e}})
	}
	if err := g.EnrollAll(entries, false); err != nil {
		return err
	}
	probe := entries[777].Embeddings[0]
	g.Search(m.Head, probe, 5)
	const reps = 50
	start := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := g.Search(m.Head, probe, 5); err != nil {
			return err
		}
	}
	fmt.Printf("\nquestion index (gallery.Gallery.Search, top 5): 100000 questions, 64-d: %.2f ms/query\n", 1000*time.Since(start).Seconds()/reps)
	return nil
}

// runGallery times identification of one probe embedding against a
// gallery of 10,000 people with 1 and 5 photos each (128-d embeddings,
// the face domain's cosine head).
func runGallery() error {
	const dim = 128
	rng := rand.New(rand.NewPCG(2, 2))
	m, err := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":4,"embed":128}`), Head: "cosine"}, core.Preprocess{}, 1)
	if err != nil {
		return err
	}
	fmt.Printf("identify one probe embedding against a gallery, %d-d embeddings, on %s\n\n| people | photos each | ms/probe |\n|---|---|---|\n", dim, machine())
	for _, per := range []int{1, 5} {
		g := gallery.New(m, 0)
		for i := 0; i < 10_000; i++ {
			var embs [][]float32
			for j := 0; j < per; j++ {
				e := make([]float32, dim)
				for k := range e {
					e[k] = float32(rng.NormFloat64())
				}
				embs = append(embs, e)
			}
			if err := g.Enroll(fmt.Sprintf("person%05d", i), embs, false); err != nil {
				return err
			}
		}
		probe := g.People[1234].Embeddings[0]
		const reps = 50
		start := time.Now()
		for i := 0; i < reps; i++ {
			if _, err := g.Identify(m.Head, probe, 0.5); err != nil {
				return err
			}
		}
		fmt.Printf("| 10000 | %d | %.2f |\n", per, 1000*time.Since(start).Seconds()/reps)
	}
	return nil
}

// resnetFLOPs counts the multiply-adds (×2) of one 150×150 image through
// the face-api.js ResNet.
func resnetFLOPs() float64 {
	conv := func(side, k, c, f int) float64 { return 2 * float64(side*side*k*k*c*f) }
	f := conv(72, 7, 3, 32) // stem: 150 → 72
	side, c := 35, 32       // after the 3×3 stride-2 pool
	for _, st := range []struct{ width, blocks int }{{32, 3}, {64, 4}, {128, 3}, {256, 3}} {
		for b := 0; b < st.blocks; b++ {
			if st.width != c || (st.width == 256 && b == 0) {
				out := (side-3)/2 + 1
				f += conv(out, 3, c, st.width) + conv(out, 3, st.width, st.width)
				side, c = (side-2)/2+1, st.width
				continue
			}
			f += 2 * conv(side, 3, c, c)
		}
	}
	out := (side-3)/2 + 1 // conv256_down_out
	f += conv(out, 3, 256, 256) + conv(out, 3, 256, 256)
	return f + 2*256*128
}
