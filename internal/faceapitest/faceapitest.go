// Package faceapitest fetches face-api.js for tests (the npm package
// @vladmandic/face-api, through `npm pack`, cached) and runs reference
// scripts under Node.js against the package's own code.
package faceapitest

import (
	"archive/zip"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/draw"
	_ "image/jpeg" // LFW's photos
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/siamesenet/siamese/internal/npmpkg"
	"github.com/siamesenet/siamese/internal/tfjs"
)

// Spec is the package and version the project imports.
const Spec = "@vladmandic/face-api@1.7.15"

// Tarball returns the package's tarball, skipping the test when npm or its
// registry is not there.
func Tarball(t testing.TB) string {
	t.Helper()
	tgz, err := npmpkg.Fetch(context.Background(), Spec)
	if errors.Is(err, npmpkg.ErrUnavailable) {
		t.Skipf("face-api.js not fetched: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tgz
}

// Node runs a reference script (a path relative to the test's package)
// with the unpacked package's folder as its first argument, then args,
// skipping the test when Node.js is not installed.
func Node(t testing.TB, script string, args ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: no reference from face-api.js itself")
	}
	pkg, err := npmpkg.Unpack(Tarball(t))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, append([]string{script, pkg}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
}

// WriteFloats writes v as little-endian float32s to a file in a temporary
// folder and returns its path.
func WriteFloats(t testing.TB, name string, v []float32) string {
	t.Helper()
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Scene is a 400×300 picture (a smooth background) with faces drawn into
// the rectangles at, bilinear.
func Scene(faces []image.Image, at []image.Rectangle) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(x*255/400), uint8(y*255/300), uint8(128+100*math.Sin(float64(x+y)/30)), 255
		}
	}
	for k, f := range faces {
		xdraw.BiLinear.Scale(img, at[k], f, f.Bounds(), draw.Src, nil)
	}
	return img
}

// WriteRGB writes img's pixels as HEIGHT×WIDTH×3 float32 values (0–255,
// RGB last) for a reference script and returns the file's path.
func WriteRGB(t testing.TB, name string, img *image.RGBA) string {
	t.Helper()
	b := img.Bounds()
	pix := make([]float32, 0, 3*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			i := img.PixOffset(x, y)
			pix = append(pix, float32(img.Pix[i]), float32(img.Pix[i+1]), float32(img.Pix[i+2]))
		}
	}
	return WriteFloats(t, name, pix)
}

// LFWFaces reads LFW images (paths inside lfw.zip) from $SIAMESE_DATA, or
// returns nil when it is unset or has no LFW. A relative SIAMESE_DATA is
// taken from the module root, two folders above an internal package.
func LFWFaces(t testing.TB, names ...string) []image.Image {
	t.Helper()
	d := os.Getenv("SIAMESE_DATA")
	if d == "" {
		return nil
	}
	if !filepath.IsAbs(d) {
		d = filepath.Join("..", "..", d)
	}
	z, err := zip.OpenReader(filepath.Join(d, "lfw", "lfw.zip"))
	if err != nil {
		t.Logf("no LFW image: %v", err)
		return nil
	}
	defer z.Close()
	var out []image.Image
	for _, name := range names {
		f, err := z.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out
}

// Weights loads one of the package's models (its manifest name, e.g.
// "ssd_mobilenetv1_model"), skipping the test when the package cannot be
// fetched.
func Weights(t testing.TB, model string) tfjs.Weights {
	t.Helper()
	src, err := tfjs.Open(Tarball(t), model)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tfjs.Load(src, model)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
