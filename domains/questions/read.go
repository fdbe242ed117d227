package questions

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pair is a labelled pair of texts.
type Pair struct {
	A, B  string
	Same  bool
	Where string // file:line, for messages
}

// Question is one entry of a question base.
type Question struct {
	ID, Text string
	Where    string
}

// ReadOptions tune the readers.
type ReadOptions struct {
	// SkipBad skips a malformed row (logging it with its line number)
	// instead of failing on it.
	SkipBad bool
	// Log receives warnings (skipped rows, truncated texts); nil: slog's.
	Log *slog.Logger
	// STSSame and STSDiff are the STS score bounds: ≥ STSSame is a
	// duplicate, ≤ STSDiff different, rows between are left out
	// (defaults 4 and 1).
	STSSame, STSDiff float64
}

func (o ReadOptions) log() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.Default()
}

// checkText validates one text: valid UTF-8 and not blank. A text longer
// than MaxTextBytes is truncated with a warning.
func checkText(o ReadOptions, where, field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s: %s is not valid UTF-8", where, field)
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%s: %s is empty", where, field)
	}
	if len(s) > MaxTextBytes {
		cut := MaxTextBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		o.log().Warn("text truncated", "where", where, "field", field, "bytes", len(s), "kept", cut)
		s = s[:cut]
	}
	return s, nil
}

// MaxTextBytes is the longest text kept; longer ones are truncated with a
// warning.
const MaxTextBytes = 16 << 10

// rows reads CSV (or, with comma '\t', TSV) records with their line
// numbers, stripping a UTF-8 BOM. A malformed row is an error naming its
// line, or, with o.SkipBad, a warning. fn returns an error for a row it
// rejects; that too is fatal or skipped.
func rows(r io.Reader, name string, comma rune, o ReadOptions, fn func(rec []string, where string) error) error {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	skipped := 0
	if comma == '\t' {
		// TSV as SemEval writes it: no quoting, one record a line.
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 1<<16), 64<<20)
		for line := 1; sc.Scan(); line++ {
			where := fmt.Sprintf("%s:%d", name, line)
			if err := fn(strings.Split(sc.Text(), "\t"), where); err != nil {
				if !o.SkipBad {
					return err
				}
				skipped++
				o.log().Warn("row skipped", "error", err)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if skipped > 0 {
			o.log().Warn("rows skipped", "file", name, "count", skipped)
		}
		return nil
	}
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var where string
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				where = fmt.Sprintf("%s:%d", name, pe.StartLine)
				err = fmt.Errorf("%s: malformed row: %v", where, pe.Err)
			} else {
				return fmt.Errorf("%s: %w", name, err)
			}
		} else {
			line, _ := cr.FieldPos(0)
			where = fmt.Sprintf("%s:%d", name, line)
			err = fn(rec, where)
		}
		if err != nil {
			if !o.SkipBad {
				return err
			}
			skipped++
			o.log().Warn("row skipped", "error", err)
		}
	}
	if skipped > 0 {
		o.log().Warn("rows skipped", "file", name, "count", skipped)
	}
	return nil
}

// ReadQuora reads Quora Question Pairs CSV: a header naming question1,
// question2 and is_duplicate (any other columns, such as id, qid1, qid2 or
// a leading pandas index, are ignored); quoted fields may hold commas and
// newlines.
func ReadQuora(r io.Reader, name string, o ReadOptions) ([]Pair, error) {
	var out []Pair
	col := map[string]int{}
	err := rows(r, name, ',', o, func(rec []string, where string) error {
		if len(col) == 0 {
			for i, h := range rec {
				col[strings.TrimSpace(h)] = i
			}
			for _, need := range []string{"question1", "question2", "is_duplicate"} {
				if _, ok := col[need]; !ok {
					return fmt.Errorf("%s: header lacks %s (has %q)", where, need, rec)
				}
			}
			return nil
		}
		q1, q2, dup := col["question1"], col["question2"], col["is_duplicate"]
		if len(rec) <= max(q1, q2, dup) {
			return fmt.Errorf("%s: malformed row: %d fields, header has %d", where, len(rec), len(col))
		}
		a, err := checkText(o, where, "question1", rec[q1])
		if err != nil {
			return err
		}
		b, err := checkText(o, where, "question2", rec[q2])
		if err != nil {
			return err
		}
		var same bool
		switch strings.TrimSpace(rec[dup]) {
		case "1":
			same = true
		case "0":
		default:
			return fmt.Errorf("%s: is_duplicate is %q, want 0 or 1", where, rec[dup])
		}
		out = append(out, Pair{A: a, B: b, Same: same, Where: where})
		return nil
	})
	if err == nil && len(col) == 0 {
		err = fmt.Errorf("%s: empty file", name)
	}
	return out, err
}

// ReadSTS reads SemEval STS TSV (score, sentence 1, sentence 2): a score
// ≥ o.STSSame is a duplicate, ≤ o.STSDiff different; rows between and
// rows without a gold score are left out.
func ReadSTS(r io.Reader, name string, o ReadOptions) ([]Pair, error) {
	hi, lo := o.STSSame, o.STSDiff
	if hi == 0 && lo == 0 {
		hi, lo = 4, 1
	}
	var out []Pair
	err := rows(r, name, '\t', o, func(rec []string, where string) error {
		if len(rec) < 3 {
			return fmt.Errorf("%s: malformed row: %d fields, want score, sentence 1, sentence 2", where, len(rec))
		}
		if strings.TrimSpace(rec[0]) == "" {
			return nil // not scored in the gold standard
		}
		score, err := strconv.ParseFloat(strings.TrimSpace(rec[0]), 64)
		if err != nil {
			return fmt.Errorf("%s: score %q is not a number", where, rec[0])
		}
		if score > lo && score < hi {
			return nil
		}
		a, err := checkText(o, where, "sentence 1", rec[1])
		if err != nil {
			return err
		}
		b, err := checkText(o, where, "sentence 2", rec[2])
		if err != nil {
			return err
		}
		out = append(out, Pair{A: a, B: b, Same: score >= hi, Where: where})
		return nil
	})
	return out, err
}

// ReadBase reads a question base: CSV with a header "id,text" (extra
// columns ignored), or else one question per line (its line number is its
// id).
func ReadBase(r io.Reader, name string, o ReadOptions) ([]Question, error) {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	first, _ := br.Peek(256)
	head := strings.ToLower(strings.SplitN(string(first), "\n", 2)[0])
	var out []Question
	if strings.HasPrefix(strings.TrimSpace(head), "id,") {
		col := map[string]int{}
		err := rows(br, name, ',', o, func(rec []string, where string) error {
			if len(col) == 0 {
				for i, h := range rec {
					col[strings.ToLower(strings.TrimSpace(h))] = i
				}
				if _, ok := col["text"]; !ok {
					return fmt.Errorf("%s: header lacks text (has %q)", where, rec)
				}
				return nil
			}
			if len(rec) <= max(col["id"], col["text"]) {
				return fmt.Errorf("%s: malformed row: %d fields, header has %d", where, len(rec), len(col))
			}
			t, err := checkText(o, where, "text", rec[col["text"]])
			if err != nil {
				return err
			}
			id := strings.TrimSpace(rec[col["id"]])
			if id == "" {
				return fmt.Errorf("%s: empty id", where)
			}
			out = append(out, Question{ID: id, Text: t, Where: where})
			return nil
		})
		return out, err
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	for line := 1; sc.Scan(); line++ {
		where := fmt.Sprintf("%s:%d", name, line)
		t, err := checkText(o, where, "question", sc.Text())
		if err != nil {
			if !o.SkipBad {
				return nil, err
			}
			o.log().Warn("row skipped", "error", err)
			continue
		}
		out = append(out, Question{ID: strconv.Itoa(line), Text: t, Where: where})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}
