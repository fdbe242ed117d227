package npmpkg_test

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/siamesenet/siamese/internal/npmpkg"
)

func TestTarballName(t *testing.T) {
	for spec, want := range map[string]string{
		"@vladmandic/face-api@1.7.15": "vladmandic-face-api-1.7.15.tgz",
		"is-number@7.0.0":             "is-number-7.0.0.tgz",
	} {
		if got, err := npmpkg.TarballName(spec); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", spec, got, err, want)
		}
	}
	for _, bad := range []string{"face-api", "@x/y@", "a b@1"} {
		if _, err := npmpkg.TarballName(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Several unpackers at once all get the whole package; a path leaving it
// is not written.
func TestUnpackConcurrent(t *testing.T) {
	dir := t.TempDir()
	tgz := filepath.Join(dir, "p-1.0.0.tgz")
	f, _ := os.Create(tgz)
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"package/a.txt": "alpha", "package/model/b.bin": "beta", "../evil": "x"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	f.Close()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkg, err := npmpkg.Unpack(tgz)
			if err == nil {
				var b []byte
				if b, err = os.ReadFile(filepath.Join(pkg, "model", "b.bin")); err == nil && string(b) != "beta" {
					t.Errorf("b.bin holds %q", b)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
		t.Error("a path outside the package was written")
	}
}
