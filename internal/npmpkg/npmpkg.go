// Package npmpkg fetches a published npm package's tarball with `npm pack`
// into a cache, and unpacks it, so that tests and examples can use
// published weights (and, for checks, the package's own JavaScript) with
// nothing but the npm registry.
package npmpkg

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// ErrUnavailable is returned when npm is not installed or the registry does
// not answer: callers that can do without the package skip.
var ErrUnavailable = errors.New("npm registry unavailable")

// CacheDir is where packages are kept: $SIAMESE_CACHE/npm, else the user's
// cache folder's siamese/npm.
func CacheDir() (string, error) {
	if d := os.Getenv("SIAMESE_CACHE"); d != "" {
		return filepath.Join(d, "npm"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("npm cache: %w", err)
	}
	return filepath.Join(d, "siamese", "npm"), nil
}

// TarballName is the file `npm pack` writes for spec ("@scope/name@1.2.3"
// gives "scope-name-1.2.3.tgz").
func TarballName(spec string) (string, error) {
	s := strings.TrimPrefix(spec, "@")
	i := strings.LastIndex(s, "@")
	if i <= 0 || i == len(s)-1 || strings.ContainsAny(s, " \\") {
		return "", fmt.Errorf("npm package %q: want name@version", spec)
	}
	return strings.ReplaceAll(s[:i], "/", "-") + "-" + s[i+1:] + ".tgz", nil
}

// Fetch returns the path of spec's tarball in the cache, running `npm pack`
// (bounded by two minutes) when it is not there yet.
func Fetch(ctx context.Context, spec string) (string, error) {
	name, err := TarballName(spec)
	if err != nil {
		return "", err
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("%w: npm is not installed", ErrUnavailable)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("npm cache: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".pack-")
	if err != nil {
		return "", fmt.Errorf("npm cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", spec, "--silent", "--pack-destination", tmp)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w: npm pack %s: %v: %s", ErrUnavailable, spec, err, lastLine(out))
	}
	if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
		return "", fmt.Errorf("npm pack %s: %w", spec, err)
	}
	return dst, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// Unpack extracts a package tarball into <tarball without .tgz>/ once
// and returns its package/ subfolder. Only regular files inside it are
// written. The extraction goes to a temporary folder renamed into place,
// so processes unpacking at once never see a half-written package.
func Unpack(tgz string) (string, error) {
	root := strings.TrimSuffix(tgz, ".tgz")
	pkg := filepath.Join(root, "package")
	if _, err := os.Stat(pkg); err == nil {
		return pkg, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), ".unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := extract(tgz, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, root); err != nil {
		if _, serr := os.Stat(pkg); serr == nil { // another process was first
			return pkg, nil
		}
		return "", err
	}
	return pkg, nil
}

func extract(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.IsAbs(name) || strings.HasPrefix(name, "..") {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", tgz, name, err)
		}
	}
}
