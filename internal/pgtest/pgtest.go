// Package pgtest starts a throwaway PostgreSQL server for a test: initdb
// into a temporary folder, listening on a free loopback port only, stopped
// and removed when the test ends. Run as root, the server runs as the
// "postgres" user (PostgreSQL refuses root). A test skips, saying why,
// when no PostgreSQL is installed (Debian: apt-get install postgresql-15).
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// Server is a running test server.
type Server struct {
	t      testing.TB
	bin    string // folder of initdb, pg_ctl, postgres
	dir    string
	data   string
	port   int
	runAs  *user.User // nil: the test's own user
	logTxt string
}

// URL is the server's connection URL for database "postgres".
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://siamese@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// binDir finds PostgreSQL's programs: on PATH, or Debian's
// /usr/lib/postgresql/N/bin (the newest).
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server programs (initdb) on PATH or in /usr/lib/postgresql/*/bin: install postgresql-15")
}

// Start starts a server for the test, or skips it when PostgreSQL is not
// installed. The server is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv("SIAMESE_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL is needed (SIAMESE_REQUIRE_SERVICES is set): %v", err)
		}
		t.Skip(err)
	}
	s := &Server{t: t, bin: bin}
	if os.Geteuid() == 0 {
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			t.Skipf("running as root and no 'postgres' user to run PostgreSQL as: %v", err)
		}
	}
	s.dir, err = os.MkdirTemp("", "siamese-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(s.dir) })
	s.data = filepath.Join(s.dir, "data")
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s.port = freePort(t)
	s.run("initdb", "-D", s.data, "-U", "siamese", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// run runs one of PostgreSQL's programs (as the postgres user under root).
func (s *Server) run(prog string, args ...string) {
	s.t.Helper()
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if s.runAs != nil {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %v: %v\n%s\n%s", prog, args, err, out, s.logTail())
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log.txt"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Start starts (or restarts after Stop) the server and waits until it
// takes connections.
func (s *Server) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off -c max_connections=200", s.port, s.dir)
	s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(s.dir, "log.txt"), "-o", opts, "-w", "-t", "60", "start")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("PostgreSQL did not start on port %d\n%s", s.port, s.logTail())
}

// Stop stops the server (fast shutdown: connections are closed).
func (s *Server) Stop() {
	path := filepath.Join(s.bin, "pg_ctl")
	args := []string{"-D", s.data, "-m", "fast", "-w", "stop"}
	var cmd *exec.Cmd
	if s.runAs != nil {
		cmd = exec.Command("runuser", append([]string{"-u", s.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Run() // already stopped is fine
}

// Restart stops and starts the server: clients lose their connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}
