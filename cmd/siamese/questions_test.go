package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuestionsCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	var b strings.Builder
	b.WriteString("id,qid1,qid2,question1,question2,is_duplicate\n")
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, "%d,%d,%d,How do I learn topic%d?,Best way to learn topic%d?,%d\n", i, 2*i, 2*i+1, i%9, (i+i%2)%9, 1-i%2)
	}
	os.WriteFile(filepath.Join(data, "pairs.csv"), []byte(b.String()), 0o644)
	model := filepath.Join(dir, "q.model")
	if _, err := run(t, "questions", "train", "--data", data, "--opt", "test=", "--opt", "sts=none", "--steps", "20", "--val-every", "10", "-o", model); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.csv")
	os.WriteFile(base, []byte("id,text\nq1,How do I learn Go?\nq2,What is the best way to learn Go?\nq3,How do I cook rice?\n"), 0o644)
	idx := filepath.Join(dir, "base.idx")
	out, err := run(t, "questions", "index", "-m", model, "-o", idx, "--json", base)
	if err != nil || !strings.Contains(out, `"embedded": 3`) {
		t.Fatalf("index: %v\n%s", err, out)
	}
	// Adding a question embeds only the new one.
	os.WriteFile(base, []byte("id,text\nq1,How do I learn Go?\nq2,What is the best way to learn Go?\nq3,How do I cook rice?\nq4,Rice recipes?\n"), 0o644)
	out, err = run(t, "questions", "index", "-m", model, "-o", idx, "--json", base)
	if err != nil || !strings.Contains(out, `"embedded": 1`) || !strings.Contains(out, `"questions": 4`) {
		t.Fatalf("index again: %v\n%s", err, out)
	}
	out, err = run(t, "questions", "search", "-m", model, "-i", idx, "-k", "2", "--json", "how", "to", "learn", "Go")
	var hits []struct {
		ID   string
		Text string
	}
	if err != nil || json.Unmarshal([]byte(out), &hits) != nil || len(hits) != 2 || hits[0].Text == "" {
		t.Fatalf("search: %v\n%s", err, out)
	}
	if out, err := run(t, "questions", "dedupe", "-m", model, "--threshold", "0", "--json", base); err != nil || !strings.Contains(out, `"checked": 4`) {
		t.Errorf("dedupe base: %v\n%s", err, out)
	}
	if out, err := run(t, "questions", "dedupe", "-m", model, "--json", filepath.Join(data, "pairs.csv")); err != nil || !strings.Contains(out, `"checked": 60`) {
		t.Errorf("dedupe pairs: %v\n%s", err, out)
	}
	// --json holds an infinite threshold as null (eval died with
	// "json: unsupported value: +Inf").
	for _, args := range [][]string{
		{"questions", "dedupe", "-m", model, "--threshold", "Inf", "--json", base},
		{"questions", "eval", "-m", model, "--data", data, "--task", "val", "--threshold", "Inf", "--json"},
	} {
		out, err := run(t, args...)
		var v map[string]any
		if err != nil || json.Unmarshal([]byte(out), &v) != nil || !strings.Contains(out, "null") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	before, _ := os.ReadFile(idx)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	empty := write("empty.csv", "id,text\nq9,fine\nq10,\n")
	badUTF := write("utf.csv", "id,text\nq9,\"bad \xff\"\n")
	malformed := write("mal.csv", "id,text\nq9,fine\nq10,\"broken\"x\nq11,also fine\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"index", "-m", model, "-o", idx, empty}, "empty.csv:3: text is empty"},
		{[]string{"index", "-m", model, "-o", idx, badUTF}, "utf.csv:2: text is not valid UTF-8"},
		{[]string{"index", "-m", model, "-o", idx, malformed}, "mal.csv:3: malformed row"},
		{[]string{"search", "-m", model, "-i", idx, "?!"}, "empty text"},
	} {
		_, err := run(t, append([]string{"questions"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one line with %q", tc.args, err, tc.want)
		}
	}
	if after, _ := os.ReadFile(idx); string(after) != string(before) {
		t.Error("a failed index command changed the index")
	}
	out, err = run(t, "questions", "index", "-m", model, "-o", idx, "--skip-bad", "--json", malformed)
	if err != nil || !strings.Contains(out, `"embedded": 2`) {
		t.Errorf("--skip-bad: %v\n%s", err, out)
	}
	// --explain shows the two parts of each score.
	if out, err := run(t, "questions", "search", "-m", model, "-i", idx, "-k", "1", "--explain", "learn Go"); err != nil || !strings.Contains(out, "learned") || !strings.Contains(out, "lexical") {
		t.Errorf("search --explain: %v\n%s", err, out)
	}
	// An index of another model, a truncated index, a base with a
	// duplicate id, an empty base: one line each, the index unchanged.
	other := filepath.Join(dir, "other.model")
	if _, err := run(t, "questions", "train", "--data", data, "--opt", "test=", "--opt", "sts=none", "--steps", "5", "--seed", "9", "-o", other); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(idx)
	truncated := write("truncated.idx", string(raw[:len(raw)/2]))
	dup := write("dup.csv", "id,text\nq1,How do I learn Go?\nq2,Rice?\nq1,Again?\n")
	none := write("none.csv", "id,text\n")
	before, _ = os.ReadFile(idx)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "-m", other, "-i", idx, "learn Go"}, "made with model"},
		{[]string{"index", "-m", other, "-o", idx, base}, "made with model"},
		{[]string{"search", "-m", model, "-i", truncated, "learn Go"}, "truncated.idx"},
		{[]string{"index", "-m", model, "-o", idx, dup}, `id "q1" already used at`},
		{[]string{"index", "-m", model, "-o", idx, none}, "none.csv"},
	} {
		_, err := run(t, append([]string{"questions"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one line with %q", tc.args, err, tc.want)
		}
	}
	if after, _ := os.ReadFile(idx); string(after) != string(before) {
		t.Error("a failed index command changed the index")
	}
	long := write("long.txt", strings.Repeat("question ", 1<<17)+"\n")
	if out, err := run(t, "questions", "index", "-m", model, "-o", filepath.Join(dir, "long.idx"), "--json", long); err != nil || !strings.Contains(out, `"embedded": 1`) {
		t.Errorf("1 MB question: %v\n%s", err, out)
	}
}
