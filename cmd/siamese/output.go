package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/siamesenet/siamese/core/train"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// jsonFlag is the --json flag of every command.
func jsonFlag() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"} }

// printJSON writes v as indented JSON to the command's writer. A figure
// that JSON cannot hold (NaN, ±Inf: an uncalibrated or degenerate
// threshold, say) is written as null.
func printJSON(c *cli.Context, v any) error {
	return writeJSON(c.App.Writer, v)
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	var unsupported *json.UnsupportedValueError
	if errors.As(err, &unsupported) {
		b, err = json.MarshalIndent(finite(reflect.ValueOf(v)), "", "  ")
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// finite is v as JSON would see it, with every NaN and infinity made nil:
// structs become ordered objects by their json tags, maps and slices are
// copied, and values that marshal themselves keep their own form.
func finite(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
		return nil
	}
	if m, ok := v.Interface().(json.Marshaler); ok {
		if b, err := m.MarshalJSON(); err == nil {
			return json.RawMessage(b)
		}
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return v.Interface()
	case reflect.Pointer, reflect.Interface:
		return finite(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && (v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8) {
			return v.Interface()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finite(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[fmt.Sprint(it.Key().Interface())] = finite(it.Value())
		}
		return out
	case reflect.Struct:
		var out object
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			fv := v.Field(i)
			if f.Anonymous && name == "" && fv.Kind() == reflect.Struct {
				if inner, ok := finite(fv).(object); ok {
					out = append(out, inner...)
				}
				continue
			}
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			out = append(out, member{name, finite(fv)})
		}
		return out
	}
	return v.Interface()
}

type member struct {
	name  string
	value any
}

// object is a JSON object that keeps its members' order.
type object []member

// MarshalJSON implements json.Marshaler.
func (o object) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			sb.WriteByte(',')
		}
		k, _ := json.Marshal(m.name)
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		sb.Write(k)
		sb.WriteByte(':')
		sb.Write(v)
	}
	sb.WriteByte('}')
	return []byte(sb.String()), nil
}

// interactive reports whether progress bars should be drawn on w.
func interactive(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// trainBar draws a progress bar on the command's error writer for a
// training run; it returns the progress callback and a function that
// finishes the bar.
func trainBar(c *cli.Context, quiet bool) (func(train.Progress), func()) {
	w := c.App.ErrWriter
	if quiet || !interactive(w) {
		last := time.Now()
		return func(p train.Progress) {
			if time.Since(last) >= 10*time.Second || p.Val != nil {
				last = time.Now()
				fmt.Fprintf(w, "step %d  loss %.4f  %.0f pairs/s  %s elapsed%s\n", p.Step, p.Loss, p.PairsPerSec, p.Elapsed.Round(time.Second), valText(p))
			}
		}, func() {}
	}
	bar := progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return func(p train.Progress) {
			bar.Describe(fmt.Sprintf("step %d loss %.4f %.0f pairs/s ETA %s%s", p.Step, p.Loss, p.PairsPerSec, p.ETA.Round(time.Second), valText(p)))
			bar.Set(int(1000 * p.Fraction))
		}, func() {
			bar.Finish()
		}
}

func valText(p train.Progress) string {
	if p.Val == nil {
		return ""
	}
	return fmt.Sprintf(" val %.3f", *p.Val)
}

// countBar is a progress bar over n units of work (nil when off).
func countBar(c *cli.Context, n int, what string, quiet bool) func(done, total int) {
	if quiet || !interactive(c.App.ErrWriter) {
		return nil
	}
	bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(c.App.ErrWriter), progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish(), progressbar.OptionShowCount())
	return func(done, total int) {
		bar.Set(done)
		if done == total {
			bar.Finish()
		}
	}
}
