package serve_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/siamesenet/siamese/internal/pgtest"
	"github.com/siamesenet/siamese/serve"
	"github.com/siamesenet/siamese/serve/store"
	"github.com/siamesenet/siamese/serve/store/pgstore"
)

// TestMain lets the test binary be a replica of its own (a child process
// the kill test can SIGKILL).
func TestMain(m *testing.M) {
	if db := os.Getenv("SIAMESE_TEST_REPLICA_DB"); db != "" {
		os.Exit(replicaMain(db))
	}
	os.Exit(m.Run())
}

// replicaMain serves the test model on a store in db, printing its
// address, until killed.
func replicaMain(db string) int {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, db)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	m, err := newModel()
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	srv, err := serve.New(serve.Config{Model: m, Store: st, Decoder: vectors{}, DefaultGallery: "staff", Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("listening", ln.Addr().String())
	http.Serve(ln, srv.Handler())
	return 0
}

func pgStore(t testing.TB, url string) store.Store {
	st, err := pgstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestAPIOnPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	testAPI(t, pgStore(t, pg.URL()))
}

func TestSchemaMigratesOnceAndAuditIsAppendOnly(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 { // replicas starting together migrate once
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := pgstore.Open(ctx, pg.URL())
			if err == nil {
				st.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, v int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &v); err != nil || n != pgstore.SchemaVersion || v != pgstore.SchemaVersion {
		t.Fatalf("schema_migrations: %d rows, version %d, %v", n, v, err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO audit (actor, action) VALUES ('t', 'x')`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit SET actor = 'someone else'`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: want the append-only error, got %v", q, err)
		}
	}
}

// eventually polls cond every 20 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, d)
	return 0
}

func identifies(c client, body, name string) bool {
	code, out := c.multipart("POST", "/v1/galleries/staff/identify", nil, files(body)...)
	if code != 200 {
		return false
	}
	first := list(c.t, out, "items")[0]
	return first["name"] == name
}

func TestReplicasShareOneDatabase(t *testing.T) {
	pg := pgtest.Start(t)
	a := newHarness(t, pgStore(t, pg.URL()), serve.Config{})
	b := newHarness(t, pgStore(t, pg.URL()), serve.Config{})
	enrol := func(h *harness, name string, n int) {
		t.Helper()
		if code, out := h.admin.multipart("POST", "/v1/galleries/staff/subjects", map[string]string{"name": name}, files(vec(n, 0))...); code != 201 {
			t.Fatalf("enrol %s: %d %v", name, code, out)
		}
	}
	enrol(a, "ann", 1)
	d := eventually(t, time.Second, "ann enrolled through A identified by B", func() bool { return identifies(b.kiosk, vec(1, 0.01), "ann") })
	t.Logf("enrolled on A, identified on B after %v", d)
	enrol(b, "bob", 2)
	if code, out, _ := b.admin.do("DELETE", "/v1/galleries/staff/subjects/ann", nil, ""); code != 200 {
		t.Fatalf("delete on B: %d %v", code, out)
	}
	d = eventually(t, time.Second, "ann deleted through B gone from A", func() bool { return !identifies(a.kiosk, vec(1, 0.01), "ann") })
	t.Logf("deleted on B, gone from A after %v", d)

	// PostgreSQL restarts: both replicas reconnect, serve, and follow
	// each other again, with no restart of their own.
	pg.Restart()
	eventually(t, 10*time.Second, "A serves after the database restarted", func() bool { return identifies(a.kiosk, vec(2, 0.01), "bob") })
	eventually(t, 10*time.Second, "B ready after the database restarted", func() bool {
		code, _, _ := b.anon.do("GET", "/readyz", nil, "")
		return code == 200
	})
	enrol(a, "cat", 3)
	d = eventually(t, 5*time.Second, "cat enrolled through A after the restart identified by B", func() bool { return identifies(b.kiosk, vec(3, 0.01), "cat") })
	t.Logf("after the restart: enrolled on A, identified on B after %v", d)
	// While the database is down, /readyz says so.
	pg.Stop()
	eventually(t, 5*time.Second, "A not ready with the database down", func() bool {
		code, _, _ := a.anon.do("GET", "/readyz", nil, "")
		return code == 503
	})
	pg.Start()
}

// TestKilledReplicaLeavesWholeSubjects kills a replica with SIGKILL while
// clients enrol through it: every subject in the database is whole (all
// its embeddings, and its audit line), and every enrolment answered 201
// is there.
func TestKilledReplicaLeavesWholeSubjects(t *testing.T) {
	pg := pgtest.Start(t)
	st := pgStore(t, pg.URL())
	h := newHarness(t, st, serve.Config{}) // makes the gallery and the keys
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SIAMESE_TEST_REPLICA_DB="+pg.URL())
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		if !ok {
			cmd.Process.Kill()
			t.Fatalf("replica: %q", line)
		}
		c := client{t, "http://" + addr, h.admin.key}
		var mu sync.Mutex
		acked := map[string]bool{}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					code, err := tryEnrol(c, name, 5)
					if err != nil {
						return // the replica is gone
					}
					if code == 201 {
						mu.Lock()
						acked[name] = true
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(150+100*round) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		close(stop)
		wg.Wait()
		subs, err := st.Subjects(context.Background(), "staff")
		if err != nil {
			t.Fatal(err)
		}
		present := map[string]bool{}
		for _, s := range subs {
			present[s.Name] = true
			if len(s.Embeddings) != 5 {
				t.Errorf("%s: %d embeddings stored, want 5 (a half-enrolled subject)", s.Name, len(s.Embeddings))
			}
		}
		for name := range acked {
			if !present[name] {
				t.Errorf("%s: answered 201, not in the database", name)
			}
		}
		audit, err := st.Audit(context.Background(), 100000)
		if err != nil {
			t.Fatal(err)
		}
		enrolled := 0
		for _, a := range audit {
			if a.Action == "enroll" {
				enrolled++
			}
		}
		if enrolled != len(subs) {
			t.Errorf("%d enrol lines in the audit log for %d subjects", enrolled, len(subs))
		}
		t.Logf("round %d: %d acknowledged, %d in the database, every one whole", round, len(acked), len(subs))
	}
}

// tryEnrol enrols a subject from n vectors, returning a transport error
// (the replica killed) instead of failing the test.
func tryEnrol(c client, name string, n int) (int, error) {
	var bodies []string
	for i := range n {
		bodies = append(bodies, vec(len(name)+i, 0.01*float64(i)))
	}
	req, ctype := multipartBody(map[string]string{"name": name}, files(bodies...)...)
	r, err := http.NewRequest("POST", c.base+"/v1/galleries/staff/subjects", req)
	if err != nil {
		return 0, err
	}
	r.Header.Set("Content-Type", ctype)
	r.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
