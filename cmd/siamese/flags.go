package main

import (
	"fmt"
	"math"
	"time"

	"github.com/urfave/cli/v2"
)

// The one rule for numeric flags: each declares its documented range, and
// a value outside it (NaN and infinities included) is a one-line error
// naming the flag before any work starts.

// intIn is the Action of an int flag that takes lo ≤ v ≤ hi.
func intIn(name string, lo, hi int) func(*cli.Context, int) error {
	return func(_ *cli.Context, v int) error {
		if v < lo || v > hi {
			return fmt.Errorf("--%s %d: want %d to %d", name, v, lo, hi)
		}
		return nil
	}
}

// floatIn is the Action of a float flag that takes lo ≤ v ≤ hi (open at
// an end where open says: "lo", "hi" or "both").
func floatIn(name string, lo, hi float64, open string) func(*cli.Context, float64) error {
	return func(_ *cli.Context, v float64) error {
		bad := math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi ||
			((open == "lo" || open == "both") && v == lo) || ((open == "hi" || open == "both") && v == hi)
		if bad {
			l, h := "[", "]"
			if open == "lo" || open == "both" {
				l = "("
			}
			if open == "hi" || open == "both" {
				h = ")"
			}
			return fmt.Errorf("--%s %v: want a number in %s%g, %g%s", name, v, l, lo, hi, h)
		}
		return nil
	}
}

// durationIn is the Action of a duration flag that takes lo ≤ v ≤ hi.
func durationIn(name string, lo, hi time.Duration) func(*cli.Context, time.Duration) error {
	return func(_ *cli.Context, v time.Duration) error {
		if v < lo || v > hi {
			return fmt.Errorf("--%s %s: want %s to %s", name, v, lo, hi)
		}
		return nil
	}
}

// Ranges shared by several commands.
const (
	maxSteps = 100_000_000
	maxItems = 100_000
	maxPairs = 10_000_000
)

// intFlag is an int flag with its range in the help text and checked.
func intFlag(name string, value, lo, hi int, usage string) *cli.IntFlag {
	return &cli.IntFlag{Name: name, Value: value, Usage: fmt.Sprintf("%s (%d to %d)", usage, lo, hi), Action: intIn(name, lo, hi)}
}

// floatFlag is a float flag with its range in the help text and checked.
func floatFlag(name string, value, lo, hi float64, open, usage string) *cli.Float64Flag {
	return &cli.Float64Flag{Name: name, Value: value, Usage: usage, Action: floatIn(name, lo, hi, open)}
}

// oddScales is the Action of track's --scales.
func oddScales(_ *cli.Context, v int) error {
	if v < 1 || v > 9 || v%2 == 0 {
		return fmt.Errorf("--scales %d: want an odd number from 1 to 9", v)
	}
	return nil
}
