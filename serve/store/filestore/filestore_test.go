package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siamesenet/siamese/serve/store"
	"github.com/siamesenet/siamese/serve/store/filestore"
)

func event(subject string) store.Event {
	now := time.Now().UTC()
	return store.Event{Time: now, Day: store.Day(now, time.UTC), Gallery: "staff", Subject: subject, Score: 0.9, ModelID: "m"}
}

// A log line cut short by a kill is skipped; the next event starts on a
// line of its own and is read back, and once-per-day still holds.
func TestCutLogLine(t *testing.T) {
	dir := t.TempDir()
	st, _ := filestore.Open(dir)
	ctx := context.Background()
	if _, ok, err := st.CheckIn(ctx, event("ann"), true); err != nil || !ok {
		t.Fatal(ok, err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, filestore.AttendanceFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":2,"time":"2026-`) // killed mid-write
	f.Close()
	st2, _ := filestore.Open(dir) // a restarted service
	if _, ok, err := st2.CheckIn(ctx, event("ann"), true); err != nil || ok {
		t.Fatalf("ann again the same day after a restart: recorded %v, %v", ok, err)
	}
	if _, ok, err := st2.CheckIn(ctx, event("bob"), true); err != nil || !ok {
		t.Fatal(ok, err)
	}
	evs, err := st2.Attendance(ctx, event("").Day)
	if err != nil || len(evs) != 2 || evs[1].Subject != "bob" || evs[1].ID != 2 {
		t.Fatalf("%v %v", evs, err)
	}
}

// FuzzAttendanceLog: whatever bytes the log holds, reading it neither
// panics nor fails, and a check-in after it is read back.
func FuzzAttendanceLog(f *testing.F) {
	f.Add([]byte(`{"id":1,"day":"2026-12-01","gallery":"staff","subject":"ann"}` + "\n"))
	f.Add([]byte("{\"id\":9223372036854775807}\n{\"id\":\n\x00\xff"))
	f.Add([]byte(strings.Repeat("[", 5000)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, filestore.AttendanceFile), raw, 0o644)
		st, _ := filestore.Open(dir)
		ctx := context.Background()
		e := event("zed")
		if _, err := st.Attendance(ctx, e.Day); err != nil {
			t.Fatal(err)
		}
		got, _, err := st.CheckIn(ctx, e, false)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := st.Attendance(ctx, e.Day)
		if err != nil || len(evs) == 0 || evs[len(evs)-1].ID != got.ID || evs[len(evs)-1].Subject != "zed" {
			t.Fatalf("the new event is not read back: %v %v", evs, err)
		}
	})
}

// Many first enrolments into a new gallery at once: none is lost (the
// gallery is created under its lock, not written over).
func TestConcurrentFirstEnrolments(t *testing.T) {
	st, _ := filestore.Open(t.TempDir())
	ctx := context.Background()
	g := store.Gallery{Name: "new", ModelID: "m", Dim: 2, MaxImages: 1}
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			if _, err := st.Gallery(ctx, g, true); err != nil {
				errs <- err
				return
			}
			errs <- st.Put(ctx, store.Subject{Gallery: "new", Name: string(rune('a' + i)), Embeddings: [][]float32{{1, 2}}}, false, "t")
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	subs, err := st.Subjects(ctx, "new")
	if err != nil || len(subs) != 16 {
		t.Fatalf("%d of 16 subjects, %v", len(subs), err)
	}
}
