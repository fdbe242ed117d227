// Package pgtest starts a throwaway PostgreSQL server for a test or a
// benchmark: initdb into a temporary folder, listening on a free loopback
// port only, stopped and removed at the end. Run as root, the server runs as the
// "postgres" user (PostgreSQL refuses root). A test skips, saying why,
// when no PostgreSQL is installed (Debian: apt-get install postgresql-15).
package pgtest

import (
	"context"
	"errors"
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

// Server is a running throwaway server.
type Server struct {
	bin   string // folder of initdb, pg_ctl, postgres
	dir   string
	data  string
	port  int
	runAs *user.User // nil: our own user
	fsync bool
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
// installed (fails it when SIAMESE_REQUIRE_SERVICES is set). The server is
// stopped and removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(false)
	if errors.Is(err, ErrUnavailable) {
		if os.Getenv("SIAMESE_REQUIRE_SERVICES") != "" {
			t.Fatalf("PostgreSQL is needed (SIAMESE_REQUIRE_SERVICES is set): %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// ErrUnavailable is returned by New where no PostgreSQL server can run.
var ErrUnavailable = errors.New("PostgreSQL unavailable")

// New initialises and starts a server in a temporary folder on a free
// loopback port, syncing its writes to disk or (fsync false, for tests)
// not; Close stops it and removes the folder.
func New(fsync bool) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s := &Server{bin: bin, fsync: fsync}
	if os.Geteuid() == 0 {
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("%w: running as root and no 'postgres' user to run PostgreSQL as: %v", ErrUnavailable, err)
		}
	}
	if s.dir, err = os.MkdirTemp("", "siamese-pg-"); err != nil {
		return nil, err
	}
	s.data = filepath.Join(s.dir, "data")
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			os.RemoveAll(s.dir)
			return nil, err
		}
	}
	if s.port, err = freePort(); err == nil {
		err = s.run("initdb", "-D", s.data, "-U", "siamese", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
	}
	if err == nil {
		err = s.start()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server and removes its folder.
func (s *Server) Close() {
	s.stop()
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, prog)
	if s.runAs != nil {
		return exec.Command("runuser", append([]string{"-u", s.runAs.Username, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// run runs one of PostgreSQL's programs (as the postgres user under root).
func (s *Server) run(prog string, args ...string) error {
	cmd := s.command(prog, args...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %v\n%s\n%s", prog, args, err, out, s.logTail())
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log.txt"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Server) start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c max_connections=200", s.port, s.dir)
	if !s.fsync {
		opts += " -c fsync=off"
	}
	if err := s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(s.dir, "log.txt"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("PostgreSQL did not start on port %d\n%s", s.port, s.logTail())
}

func (s *Server) stop() {
	s.command("pg_ctl", "-D", s.data, "-m", "fast", "-w", "stop").Run() // already stopped is fine
}

// Stop stops the server (fast shutdown: clients lose their connections).
func (s *Server) Stop() { s.stop() }

// Start starts the server again after Stop, and waits until it takes
// connections; it panics if it cannot (a test's server that ran before).
func (s *Server) Start() {
	if err := s.start(); err != nil {
		panic(err)
	}
}

// Restart stops and starts the server: clients lose their connections.
func (s *Server) Restart() {
	s.Stop()
	s.Start()
}
