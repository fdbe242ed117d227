// Package atomicfile writes files so that a reader sees either the old
// content or the new, never a mix: write to a temporary file in the same
// folder, fsync it, rename it over the target, fsync the folder. The
// target keeps its permissions (a new file gets perm less the umask); a
// symbolic link is followed, so the file it names is the one replaced; and
// temporary files left by a writer that was killed are removed by the next
// write.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxLinks bounds how many symbolic links Resolve follows.
const maxLinks = 40

// Resolve follows symbolic links from path to the file they name (which
// need not exist yet): the path to write and to lock.
func Resolve(path string) (string, error) {
	for i := 0; i < maxLinks; i++ {
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		to, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return "", fmt.Errorf("%s: too many symbolic links", path)
}

// tempPrefix starts the name of the temporary files of target.
func tempPrefix(target string) string { return "." + filepath.Base(target) + ".tmp-" }

// Write calls fill with a buffered writer on a temporary file and, if fill
// succeeds, atomically replaces the file path names (through symbolic
// links) with it. On any error that file is left as it was and the
// temporary file is removed. An existing file keeps its mode; a new one
// gets perm less the umask.
func Write(path string, perm os.FileMode, fill func(w *bufio.Writer) error) (err error) {
	target, err := Resolve(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	dir := filepath.Dir(target)
	removeStale(dir, tempPrefix(target))
	mode := os.FileMode(0)
	if st, err := os.Stat(target); err == nil {
		mode = st.Mode().Perm()
	}
	var f *os.File
	for range 100 {
		name := filepath.Join(dir, tempPrefix(target)+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm) // the kernel applies the umask
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = fill(w); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if mode != 0 {
		if err = f.Chmod(mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(tmp, target); err != nil {
		return fmt.Errorf("rename onto %s: %w", target, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// removeStale removes the temporary files of a target whose writer is no
// longer running (killed mid-write).
func removeStale(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		pid, _, ok := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(pid); ok && err == nil && n != os.Getpid() && !alive(n) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
