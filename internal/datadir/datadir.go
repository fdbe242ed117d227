// Package datadir finds the real data sets named by $SIAMESE_DATA. A
// relative value (CI sets ../shared/data) is taken from the working folder
// or, failing that, from the module root, so it works from any package.
package datadir

import (
	"os"
	"path/filepath"
)

// Root returns the absolute data root, or "" when SIAMESE_DATA is unset.
func Root() string {
	v := os.Getenv("SIAMESE_DATA")
	if v == "" {
		return ""
	}
	if filepath.IsAbs(v) {
		return v
	}
	if abs, err := filepath.Abs(v); err == nil {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return v
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, v)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return v
		}
		dir = parent
	}
}

// Domain returns the data folder of a domain under Root, or "" when
// SIAMESE_DATA is unset or has no such folder.
func Domain(name string) string {
	r := Root()
	if r == "" {
		return ""
	}
	p := filepath.Join(r, name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Archive resolves a domain's data folder to the one archive in it that
// matches pattern (a filepath.Match pattern, e.g. "att_faces.zip"), as the
// shared data is laid out; otherwise the folder itself.
func Archive(dir, pattern string) string {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) == 1 {
			return m[0]
		}
	}
	return dir
}

// Beside returns the folder named name next to the data folder dir (the
// way a domain's further data sets sit beside its own), or "" when dir is
// empty or there is no such folder.
func Beside(dir, name string) string {
	if dir == "" {
		return ""
	}
	p := filepath.Join(filepath.Dir(filepath.Clean(dir)), name)
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		return ""
	}
	return p
}
