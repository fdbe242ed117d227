package gallery_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/gallery"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/container"
	_ "github.com/siamesenet/siamese/towers/mlp"
)

func emb(v ...float32) []float32 { return v }

func galleryModel(t testing.TB) *core.Model {
	t.Helper()
	m, err := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":3,"embed":4}`), Head: "contrastive"}, core.Preprocess{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGalleryEnrollIdentify(t *testing.T) {
	m := galleryModel(t)
	g := gallery.New(m, 0)
	if _, err := g.Identify(m.Head, emb(0, 0, 0, 0), 0.5); !errors.Is(err, gallery.ErrEmptyGallery) {
		t.Errorf("empty gallery: %v", err)
	}
	if err := g.Enroll("ann", [][]float32{emb(1, 0, 0, 0), emb(1, 0.1, 0, 0)}, false); err != nil {
		t.Fatal(err)
	}
	if err := g.Enroll("bob", [][]float32{emb(0, 0, 5, 0)}, false); err != nil {
		t.Fatal(err)
	}
	if err := g.Enroll("ann", [][]float32{emb(9, 9, 9, 9)}, false); err == nil || !strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("duplicate name: %v", err)
	}
	if err := g.Enroll("cy", make([][]float32, 6), false); err == nil {
		t.Error("6 images: no error")
	}
	match, err := g.Identify(m.Head, emb(1, 0.05, 0, 0), 0.5)
	if err != nil || match.Name != "ann" || !match.Known {
		t.Errorf("identify near ann: %+v %v", match, err)
	}
	match, _ = g.Identify(m.Head, emb(-9, 9, -9, 9), 0.5)
	if match.Known {
		t.Errorf("a stranger was accepted: %+v", match)
	}
	if v, err := g.Verify(m.Head, "bob", emb(0, 0, 5, 0.01), 0.5); err != nil || !v.Known {
		t.Errorf("verify bob: %+v %v", v, err)
	}
	if err := g.Enroll("bob", [][]float32{emb(0, 3, 0, 0)}, true); err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Verify(m.Head, "bob", emb(0, 0, 5, 0.01), 0.5); v.Known {
		t.Error("replaced embeddings still match")
	}
	if err := g.Remove("ann"); err != nil || g.Find("ann") != nil || g.Remove("ann") == nil {
		t.Errorf("remove: %v", err)
	}

	path := filepath.Join(t.TempDir(), "g.gallery")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := gallery.Load(path, m, 0)
	if err != nil || len(back.People) != 1 || back.People[0].Embeddings[0][1] != 3 {
		t.Fatalf("reload: %+v %v", back, err)
	}
	other, _ := core.New(core.Spec{Tower: "mlp", TowerConfig: []byte(`{"input":3,"embed":4}`), Head: "contrastive"}, core.Preprocess{}, 2)
	if _, err := gallery.Load(path, other, 0); err == nil || !strings.Contains(err.Error(), "not with this model") || !strings.Contains(err.Error(), path) {
		t.Errorf("gallery of another model: %v", err)
	}
}

// Two processes enrolling at once both land, and a gallery write killed
// with SIGKILL leaves the previous gallery loadable.
func TestGalleryConcurrentAndKilled(t *testing.T) {
	if p := os.Getenv("SIAMESE_GALLERY_HELPER"); p != "" {
		who, n := os.Getenv("SIAMESE_GALLERY_WHO"), 0
		fmt.Sscan(os.Getenv("SIAMESE_GALLERY_N"), &n)
		m := galleryModel(t)
		for i := 0; n == 0 || i < n; i++ {
			name := fmt.Sprintf("%s%d", who, i)
			if n == 0 {
				name = who // endless rewrites for the kill test
			}
			if _, err := gallery.Update(p, m, 0, func(g *gallery.Gallery) error {
				return g.Enroll(name, [][]float32{emb(float32(i), 1, 2, 3)}, true)
			}); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "g.gallery")
	spawn := func(who, n string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGalleryConcurrentAndKilled$")
		cmd.Env = append(os.Environ(), "SIAMESE_GALLERY_HELPER="+path, "SIAMESE_GALLERY_WHO="+who, "SIAMESE_GALLERY_N="+n)
		return cmd
	}
	var wg sync.WaitGroup
	for _, who := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := spawn(who, "15").CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", who, err, out)
			}
		}()
	}
	wg.Wait()
	g, err := gallery.Load(path, galleryModel(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.People) != 30 {
		t.Errorf("%d people after two processes enrolled 15 each at once, want 30", len(g.People))
	}
	for round := 0; round < 3; round++ {
		cmd := spawn("k", "0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+100*round) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if _, err := gallery.Load(path, galleryModel(t), 0); err != nil {
			t.Fatalf("round %d: gallery unreadable after SIGKILL: %v", round, err)
		}
	}
}

// A gallery records its limit: entries of up to that many images are
// written, read back and verified; more are refused on write, and a file
// that claims more than it allows is refused on read.
func TestGalleryLimitIsRecorded(t *testing.T) {
	m := galleryModel(t)
	refs := func(n int) [][]float32 {
		out := make([][]float32, n)
		for i := range out {
			out[i] = emb(1, float32(i), 0, 1)
		}
		return out
	}
	for _, n := range []int{6, 20} {
		path := filepath.Join(t.TempDir(), "sig.gallery")
		if _, err := gallery.Update(path, m, 20, func(g *gallery.Gallery) error { return g.Enroll("030", refs(n), false) }); err != nil {
			t.Fatalf("%d references: %v", n, err)
		}
		g, err := gallery.Load(path, m, 0)
		if err != nil {
			t.Fatalf("%d references: reload: %v", n, err)
		}
		if g.Limit() != 20 || g.Find("030").Images != n {
			t.Fatalf("%d references: reloaded limit %d, images %d", n, g.Limit(), g.Find("030").Images)
		}
		if _, err := g.Score(m.Head, "030", emb(1, 0, 0, 1), core.ScoreRule{Aggregate: core.MeanScore}); err != nil {
			t.Fatalf("%d references: verify after reload: %v", n, err)
		}
	}
	path := filepath.Join(t.TempDir(), "face.gallery")
	_, err := gallery.Update(path, m, 5, func(g *gallery.Gallery) error { return g.Enroll("x", refs(6), false) })
	if err == nil || !strings.Contains(err.Error(), "1 to 5") {
		t.Fatalf("6 photos into a gallery of 5: %v", err)
	}
}

// A gallery written before limits were recorded (no max_images) loads
// with the old limit of 5.
func TestGalleryWithoutRecordedLimitLoads(t *testing.T) {
	m := galleryModel(t)
	path := filepath.Join(t.TempDir(), "old.gallery")
	g := gallery.New(m, 0)
	if err := g.Enroll("alice", [][]float32{emb(1, 0, 0, 0), emb(0, 1, 0, 0), emb(0, 0, 1, 0), emb(0, 0, 0, 1), emb(1, 1, 0, 0)}, false); err != nil {
		t.Fatal(err)
	}
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "max_images") {
		t.Fatal("a gallery of the default limit should record none, as the old code wrote it")
	}
	back, err := gallery.Load(path, m, 20)
	if err != nil || back.Limit() != gallery.DefaultLimit || back.Find("alice").Images != 5 {
		t.Fatalf("old gallery: %v", err)
	}
}

// Names are printable UTF-8 without control characters: a name that would
// forge a line of 'gallery list', print raw escapes, or be stored other
// than typed is refused before anything is written.
func TestNames(t *testing.T) {
	m := galleryModel(t)
	g := gallery.New(m, 5)
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"Zoë Ångström", true}, {"李小龙", true}, {"o'brien-smith 2", true},
		{"", false}, {"evil\nsubj09\t5 photo(s)", false}, {"tab\there", false}, {"\x1b[31mred", false},
		{"bad\xffutf8", false}, {" padded", false}, {"trailing ", false}, {"rtl\u202eevil", false},
		{strings.Repeat("a", gallery.MaxNameBytes+1), false}, {strings.Repeat("a", gallery.MaxNameBytes), true},
	} {
		err := g.Enroll(tc.name, [][]float32{emb(1, 0, 0, 0)}, false)
		if (err == nil) != tc.ok || (err != nil && strings.Contains(err.Error(), "\n")) {
			t.Errorf("enroll %q: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if gallery.CheckName(tc.name) == nil != tc.ok {
			t.Errorf("CheckName(%q) disagrees with Enroll", tc.name)
		}
		if p := gallery.Printable(tc.name); strings.ContainsAny(p, "\n\t\x1b") {
			t.Errorf("Printable(%q) = %q", tc.name, p)
		}
	}
}

// A gallery whose symbolic link and real path are both written is one
// file, locked under its real name: concurrent writers through either
// never lose an entry, and the link stays a link.
func TestGallerySymlinkAndMissing(t *testing.T) {
	m := galleryModel(t)
	dir := t.TempDir()
	real, link := filepath.Join(dir, "real.gallery"), filepath.Join(dir, "link.gallery")
	if err := os.Symlink("real.gallery", link); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := real
			if i%2 == 1 {
				p = link
			}
			if _, err := gallery.Update(p, m, 0, func(g *gallery.Gallery) error {
				return g.Enroll(fmt.Sprint("p", i), [][]float32{emb(1, 0, 0, 0)}, false)
			}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	g, err := gallery.Read(link)
	if err != nil || len(g.People) != 8 {
		t.Fatalf("%v: %d entries, want 8", err, len(g.People))
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a regular file")
	}
	missing := filepath.Join(dir, "typo.gallery")
	if _, err := gallery.Open(missing, m); !errors.Is(err, gallery.ErrNoGallery) {
		t.Errorf("open a missing gallery: %v", err)
	}
	if err := gallery.Remove(missing, m, "p1"); !errors.Is(err, gallery.ErrNoGallery) {
		t.Errorf("remove from a missing gallery: %v", err)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "typo*")); len(entries) != 0 {
		t.Errorf("a missing gallery left %v behind", entries)
	}
}

// FuzzReadGallery fuzzes gallery and question-index headers behind a valid
// checksum: any header is read or refused in one error, never a panic.
func FuzzReadGallery(f *testing.F) {
	m := galleryModel(f)
	dir := f.TempDir()
	for i, note := range []string{"", "How do I learn Go?"} {
		g := gallery.New(m, 20)
		g.EnrollAll([]*gallery.Person{{Name: "q1", Note: note, Embeddings: [][]float32{emb(1, 2, 3, 4), emb(0, 1, 0, 1)}}}, false)
		p := filepath.Join(dir, fmt.Sprint(i, ".gallery"))
		if err := g.Save(p); err != nil {
			f.Fatal(err)
		}
		cf, err := container.Read(p, "SIAMGAL\x00", gallery.Version)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(cf.Header, cf.Rest()/4)
	}
	f.Add([]byte(`{"dim":4,"max_images":-1,"people":[{"name":"a","images":3}]}`), 12)
	f.Add([]byte(`{"dim":-4,"people":[{"name":"a","images":1}]}`), 4)
	f.Add([]byte(`{"dim":1000000000,"people":[{"name":"a","images":1}]}`), 0)
	f.Fuzz(func(t *testing.T, hdr []byte, n int) {
		n = min(max(n, 0), 1<<14)
		p := filepath.Join(t.TempDir(), "f.gallery")
		if err := container.Write(p, "SIAMGAL\x00", gallery.Version, hdr, [][]float32{make([]float32, n)}); err != nil {
			t.Fatal(err)
		}
		g, err := gallery.Read(p)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		for _, p := range g.People {
			if len(p.Embeddings) != p.Images || p.Images < 1 || p.Images > g.Limit() {
				t.Fatalf("entry %q read with %d of %d images (limit %d)", p.Name, len(p.Embeddings), p.Images, g.Limit())
			}
		}
	})
}

// TestHolder finds the other entry holding the very same embedding (one
// image enrolled twice), never the entry itself or a near one.
func TestHolder(t *testing.T) {
	g := gallery.NewFor("m", 2, 5)
	if err := g.Enroll("a", [][]float32{emb(1, 0), emb(0, 1)}, false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		emb    []float32
		except string
		want   string
	}{
		{emb(0, 1), "b", "a"},
		{emb(0, 1), "a", ""},
		{emb(0, 1.0001), "b", ""},
	} {
		got := ""
		if p := g.Holder(tc.emb, tc.except); p != nil {
			got = p.Name
		}
		if got != tc.want {
			t.Errorf("Holder(%v, except %q) = %q, want %q", tc.emb, tc.except, got, tc.want)
		}
	}
}
