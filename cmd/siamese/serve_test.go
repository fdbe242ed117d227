package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeCommand runs 'siamese serve' as a user would: a key made by
// 'serve keys add', the config dump, enrol and identify over HTTP with a
// glyph model, the attendance report, and SIGTERM while a request is in
// flight: the request finishes, the process ends cleanly.
func TestServeCommand(t *testing.T) {
	bin, _ := binaries(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "g.model")
	if _, err := run(t, "train", "--domain", "glyphs", "--steps", "20", "--items", "32", "--pairs", "48", "-o", model); err != nil {
		t.Fatal(err)
	}
	gal := filepath.Join(dir, "staff.gallery")
	out, err := run(t, "serve", "keys", "add", "--scope", "admin", "-g", gal, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var key struct{ Key, Scope string }
	if err := json.Unmarshal([]byte(out), &key); err != nil || !strings.HasPrefix(key.Key, "sk_") || key.Scope != "admin" {
		t.Fatalf("keys add: %v %s", err, out)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "keys.json")); bytes.Contains(raw, []byte(key.Key)) {
		t.Fatal("the key itself is stored; only its hash should be")
	}
	if _, err := run(t, "serve", "keys", "add", "--scope", "root", "-g", gal); err == nil || !strings.Contains(err.Error(), "want admin, kiosk or read") {
		t.Fatalf("keys add --scope root: %v", err)
	}

	cmd := exec.Command(bin, "serve", "-m", model, "-g", gal, "--listen", "127.0.0.1:0", "--json")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var cfg map[string]any
	if err := json.NewDecoder(stdout).Decode(&cfg); err != nil || cfg["default_gallery"] != "staff" || cfg["attendance"] != false {
		t.Fatalf("--json config: %v %v", err, cfg)
	}
	logs := bufio.NewScanner(stderr)
	var addr string
	for addr == "" && logs.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(logs.Bytes(), &l) == nil && l.Msg == "serving" {
			addr = l.Addr
		}
	}
	if addr == "" {
		t.Fatal("no 'serving' log line")
	}
	var rest bytes.Buffer
	logsDone := make(chan struct{})
	go func() {
		for logs.Scan() {
			rest.Write(append(logs.Bytes(), '\n'))
		}
		close(logsDone)
	}()
	base := "http://" + addr
	post := func(path string, fields map[string]string, glyphs ...int) (int, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range fields {
			w.WriteField(k, v)
		}
		for _, g := range glyphs {
			fw, _ := w.CreateFormFile("file", fmt.Sprintf("g%d.png", g))
			encodeTestGlyph(fw, g)
		}
		w.Close()
		req, _ := http.NewRequest("POST", base+path, &buf)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+key.Key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := post("/v1/galleries/staff/subjects", map[string]string{"name": "three"}, 3, 3); code != 201 {
		t.Fatalf("enrol: %d %s", code, body)
	}
	if code, body := post("/v1/galleries/staff/identify", nil, 3); code != 200 || !strings.Contains(body, `"name":"three"`) {
		t.Fatalf("identify: %d %s", code, body)
	}
	if code, body := post("/v1/attendance/check-in", nil, 3); code != 404 || !strings.Contains(body, "attendance is for face models") {
		t.Fatalf("check-in with a glyph model: %d %s", code, body)
	}

	// A request in flight when SIGTERM comes: half its body sent, then
	// the signal, then the rest; it is answered, then the process ends.
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("name", "five")
	fw, _ := w.CreateFormFile("file", "g5.png")
	encodeTestGlyph(fw, 5)
	w.Close()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/galleries/staff/subjects HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", addr, key.Key, w.FormDataContentType(), body.Len())
	half := body.Len() / 2
	conn.Write(body.Bytes()[:half])
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	conn.Write(body.Bytes()[half:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	if res.StatusCode != 201 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("in-flight enrol: %d %s", res.StatusCode, b)
	}
	done := make(chan error, 1)
	// Every log line is read before Wait, which closes the pipe (a line
	// still in it, such as "stopped", would be lost).
	go func() { <-logsDone; done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, rest.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not end after SIGTERM")
	}
	if !strings.Contains(rest.String(), `"msg":"stopped"`) || !strings.Contains(rest.String(), `"request_id"`) {
		t.Errorf("logs: %s", rest.String())
	}

	// The gallery file is the CLI's: both enrolments are in it.
	out, err = run(t, "attendance", "report", "-g", gal)
	if err != nil || !strings.HasPrefix(out, "id,time,date,gallery,subject,known,score,camera,model_id\n") {
		t.Fatalf("attendance report: %v %q", err, out)
	}
	if rows, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(rows) != 1 {
		t.Fatalf("no check-ins were made, the report has %d rows: %v", len(rows), err)
	}
	out, err = run(t, "face", "gallery", "list", "-g", gal)
	if err != nil || !strings.Contains(out, "three") || !strings.Contains(out, "five") {
		t.Fatalf("gallery list after serve: %v %s", err, out)
	}
	if _, err := run(t, "attendance", "report", "-g", gal, "--date", "2026-13-01"); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Fatalf("--date 2026-13-01: %v", err)
	}
}
