package main

import (
	"context"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// numericFlags are commands and their numeric flags, each given a value
// below that fails fast after the flags are checked (no model, no data).
var numericFlags = []struct {
	cmd  []string
	flag string
}{
	{[]string{"train"}, "lr"}, {[]string{"train"}, "momentum"}, {[]string{"train"}, "weight-decay"},
	{[]string{"train"}, "decay-every"}, {[]string{"train"}, "decay-rate"}, {[]string{"train"}, "warmup"},
	{[]string{"train"}, "items"}, {[]string{"train"}, "pairs"}, {[]string{"train"}, "steps"},
	{[]string{"train"}, "val-every"}, {[]string{"train"}, "far"}, {[]string{"train"}, "patience"},
	{[]string{"train"}, "ckpt-every"}, {[]string{"train"}, "duration"},
	{[]string{"track"}, "scales"}, {[]string{"track"}, "window"},
	{[]string{"questions", "search", "-m", "none.model"}, "k"}, {[]string{"compare", "-m", "none.model"}, "threshold"},
}

// runQuiet runs the CLI in process, its output dropped.
func runQuiet(args ...string) error {
	app := newApp()
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	return app.RunContext(context.Background(), append([]string{"siamese"}, args...))
}

// Values outside a flag's documented range are one-line errors naming the
// flag, before any work.
func TestNumericFlagRanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd  []string
		flag string
		bad  []string
	}{
		{[]string{"train"}, "lr", []string{"0", "-1", "NaN", "Inf", "11"}},
		{[]string{"train"}, "momentum", []string{"1", "-0.1", "NaN"}},
		{[]string{"train"}, "items", []string{"0", "1", "-3", "100001"}},
		{[]string{"train"}, "pairs", []string{"0", "-1"}},
		{[]string{"train"}, "steps", []string{"0", "-5", "1000000000"}},
		{[]string{"train"}, "far", []string{"0", "1", "2", "NaN"}},
		{[]string{"train"}, "duration", []string{"-1s", "0s"}},
		{[]string{"track"}, "scales", []string{"0", "2", "1001", "-1"}},
		{[]string{"track"}, "window", []string{"NaN", "5", "-1"}},
		{[]string{"questions", "search", "-m", "none.model"}, "k", []string{"0", "-3"}},
		{[]string{"compare", "-m", "none.model"}, "threshold", []string{"NaN"}},
	} {
		for _, v := range tc.bad {
			args := append(append([]string(nil), tc.cmd...), "--"+tc.flag, v)
			err := runQuiet(args...)
			if err == nil || !strings.Contains(err.Error(), "--"+tc.flag) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: %v; want one line naming --%s", args, err, tc.flag)
			}
		}
	}
	// In range, the flag passes and the command fails later for its own
	// reason (no model, no domain).
	for _, args := range [][]string{{"train", "--lr", "0.01"}, {"track", "--scales", "5", "--window", "0"}, {"questions", "search", "-m", "none.model", "-k", "3"}} {
		if err := runQuiet(args...); err == nil || strings.Contains(err.Error(), "--"+strings.TrimLeft(args[len(args)-2], "-")+" ") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// Any value of any numeric flag is accepted or refused in one line; none
// panics.
func FuzzNumericFlags(f *testing.F) {
	for i := range numericFlags {
		for _, v := range []string{"0", "-1", "1", "0.5", "NaN", "Inf", "-Inf", "1e308", "9223372036854775808", "0x10", "1h", ""} {
			f.Add(i, v)
		}
	}
	f.Fuzz(func(t *testing.T, i int, v string) {
		nf := numericFlags[(i%len(numericFlags)+len(numericFlags))%len(numericFlags)]
		args := append(append([]string(nil), nf.cmd...), "--"+nf.flag+"="+v)
		err := runQuiet(args...)
		if err == nil {
			t.Fatalf("%v: no error (the command has no model or data to run)", args)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("%v: error of several lines: %q", args, err)
		}
		if x, perr := strconv.ParseFloat(v, 64); perr == nil && (math.IsNaN(x) || math.IsInf(x, 0)) && nf.flag != "threshold" && !strings.Contains(err.Error(), nf.flag) {
			t.Fatalf("%v: a non-finite value not refused by the flag's check: %v", args, err)
		}
	})
}
