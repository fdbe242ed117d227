// Package faceapitest fetches face-api.js for tests (the npm package
// @vladmandic/face-api, through `npm pack`, cached) and runs reference
// scripts under Node.js against the package's own code.
package faceapitest

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/siamesenet/siamese/internal/npmpkg"
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
