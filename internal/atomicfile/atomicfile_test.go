package atomicfile_test

import (
	"bufio"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/siamesenet/siamese/internal/atomicfile"
)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := atomicfile.Write(path, 0o644, func(w *bufio.Writer) error { _, err := w.WriteString(s); return err }); err != nil {
		t.Fatal(err)
	}
}

func TestModeUmaskSymlinkAndStaleTemps(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	// A new file honours the umask; an existing one keeps its mode.
	p := filepath.Join(dir, "g.gallery")
	write(t, p, "one")
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("new file under umask 077: mode %v, want 0600", st.Mode().Perm())
	}
	os.Chmod(p, 0o640)
	write(t, p, "two")
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("rewritten file: mode %v, want 0640 kept", st.Mode().Perm())
	}

	// Through a symbolic link the real file is replaced; the link stays.
	link := filepath.Join(dir, "link.gallery")
	if err := os.Symlink("g.gallery", link); err != nil {
		t.Fatal(err)
	}
	write(t, link, "three")
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink == 0 {
		t.Error("the symbolic link was replaced by a regular file")
	}
	if b, _ := os.ReadFile(p); string(b) != "three" {
		t.Errorf("real file holds %q, want the write through the link", b)
	}
	if r, _ := atomicfile.Resolve(link); r != p {
		t.Errorf("Resolve(link) = %s, want %s", r, p)
	}

	// A killed writer's temporary file is removed by the next write; a
	// running writer's is kept.
	dead := filepath.Join(dir, ".g.gallery.tmp-2147483646-x1")
	live := filepath.Join(dir, ".g.gallery.tmp-1-x2")
	os.WriteFile(dead, []byte("partial"), 0o600)
	os.WriteFile(live, []byte("partial"), 0o600)
	write(t, p, "four")
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("a dead writer's temporary file was left behind")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a running writer's temporary file was removed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("folder holds %d entries, want the file, the link and the live temp", len(entries))
	}
}
