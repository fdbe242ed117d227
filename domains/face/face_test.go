package face_test

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/coretest"
	"github.com/siamesenet/siamese/domains/face"
	_ "github.com/siamesenet/siamese/heads/contrastive"
	"github.com/siamesenet/siamese/internal/datadir"
	_ "github.com/siamesenet/siamese/towers/cnn"
)

// writePGM writes an ORL-style binary PGM.
func writePGM(t *testing.T, path string, img *image.Gray) {
	t.Helper()
	b := img.Bounds()
	data := append([]byte(fmt.Sprintf("P5 %d %d 255\n", b.Dx(), b.Dy())), img.Pix...)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// orlTree writes n identities × 10 PGMs in the ORL layout (sN/M.pgm).
func orlTree(t *testing.T, n int) string {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	for s := 1; s <= n; s++ {
		for m := 1; m <= 10; m++ {
			img := image.NewGray(image.Rect(0, 0, 46, 56))
			for i := range img.Pix {
				img.Pix[i] = uint8((s*37+i%46*3+rng.IntN(20))%256) | 0
			}
			img.SetGray(0, 0, color.Gray{uint8(m)})
			writePGM(t, filepath.Join(dir, fmt.Sprintf("s%d/%d.pgm", s, m)), img)
		}
	}
	return dir
}

func TestConformanceOnORLLayout(t *testing.T) {
	d, err := face.Open(core.DomainOptions{DataDir: orlTree(t, 14), Extra: map[string]string{"test": "5", "val": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Test) != 5 || len(d.Val) != 3 || len(d.Train) != 6 {
		t.Fatalf("split %d/%d/%d, want 5/3/6", len(d.Test), len(d.Val), len(d.Train))
	}
	seen := map[int]bool{}
	for _, c := range append(append(append([]int(nil), d.Test...), d.Val...), d.Train...) {
		if seen[c] {
			t.Fatal("an identity is in two splits")
		}
		seen[c] = true
	}
	coretest.TestDomain(t, d)
}

func TestBadInput(t *testing.T) {
	dir := orlTree(t, 14)
	os.WriteFile(filepath.Join(dir, "s3", "4.pgm"), []byte("P5 46 56 255\n\x00\x01"), 0o644)
	_, err := face.Open(core.DomainOptions{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "4.pgm") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("corrupt PGM: %v", err)
	}
	if _, err := face.Open(core.DomainOptions{DataDir: orlTree(t, 5)}); err == nil || !strings.Contains(err.Error(), "identities") {
		t.Errorf("too few identities: %v", err)
	}
	if _, err := face.Open(core.DomainOptions{DataDir: filepath.Join(dir, "nope")}); err == nil {
		t.Error("missing folder: no error")
	}
}

func TestORL(t *testing.T) {
	root := datadir.Domain("att_faces")
	if root == "" {
		t.Skip("SIAMESE_DATA is not set (or has no att_faces/): skipping the ORL test")
	}
	d, err := face.Open(core.DomainOptions{DataDir: root})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Set.Classes) != 40 || d.Set.Images() != 400 {
		t.Errorf("ORL: %d identities, %d images; want 40 and 400", len(d.Set.Classes), d.Set.Images())
	}
	coretest.TestDomain(t, d)
}
