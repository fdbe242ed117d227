package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/siamesenet/siamese/core"
	"golang.org/x/term"
)

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// interactive reports whether progress bars should be drawn.
func interactive() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// trainBar draws a progress bar on stderr for a training run; it returns
// the progress callback and a function that finishes the bar.
func trainBar(quiet bool) (func(core.Progress), func()) {
	if quiet || !interactive() {
		last := time.Now()
		return func(p core.Progress) {
			if time.Since(last) >= 10*time.Second || p.Val != nil {
				last = time.Now()
				fmt.Fprintf(os.Stderr, "step %d  loss %.4f  %.0f pairs/s  %s elapsed%s\n", p.Step, p.Loss, p.PairsPerSec, p.Elapsed.Round(time.Second), valText(p))
			}
		}, func() {}
	}
	bar := progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return func(p core.Progress) {
			bar.Describe(fmt.Sprintf("step %d loss %.4f %.0f pairs/s ETA %s%s", p.Step, p.Loss, p.PairsPerSec, p.ETA.Round(time.Second), valText(p)))
			bar.Set(int(1000 * p.Fraction))
		}, func() {
			bar.Finish()
		}
}

func valText(p core.Progress) string {
	if p.Val == nil {
		return ""
	}
	return fmt.Sprintf(" val %.3f", *p.Val)
}

// countBar is a progress bar over n units of work (nil-safe when off).
func countBar(n int, what string, quiet bool) func(done, total int) {
	if quiet || !interactive() {
		return nil
	}
	bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish(), progressbar.OptionShowCount())
	return func(done, total int) {
		bar.Set(done)
		if done == total {
			bar.Finish()
		}
	}
}
