package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/domains/tracking"
	"github.com/siamesenet/siamese/internal/atomicfile"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/urfave/cli/v2"
)

func trackCommand() *cli.Command {
	return &cli.Command{
		Name:      "track",
		Usage:     "follow an object through a video from a box in its first frame (SiamFC); train and evaluate trackers",
		ArgsUsage: " ",
		Flags: append(trackerFlags(false),
			&cli.StringFlag{Name: "frames", Usage: "folder or zip of frames (in img/, imgs/, color/ or the folder itself; name order), or of sequences with --seq"},
			&cli.StringFlag{Name: "seq", Usage: "the sequence to track inside a folder or zip of several (OTB or VOT layout)"},
			&cli.StringFlag{Name: "init", Usage: "box in the first frame: x,y,w,h (OTB convention: 1-based pixels)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the boxes here, one x,y,w,h line per frame (default: stdout)"},
			&cli.StringFlag{Name: "gif", Usage: "also write the frames with the boxes drawn as an animated GIF"},
			jsonFlag(),
		),
		Action: runTrack,
		Subcommands: []*cli.Command{
			withDomain(trainCommand(), tracking.Name),
			{
				Name:  "tune",
				Usage: "choose the tracker's settings on the validation sequences (never the test) and store them in the model",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: true, Usage: "model file (rewritten in place, atomically)"},
					&cli.StringFlag{Name: "data", Usage: "folder of sequences the model was trained from (default: $SIAMESE_DATA/tracking)"},
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the tuned model here instead of over --model"},
					jsonFlag(),
				},
				Action: runTrackTune,
			},
			{
				Name:  "eval",
				Usage: "track sequences with ground truth: success AUC, precision at 20 px and frames per second, beside two baselines",
				Flags: append(trackerFlags(true),
					&cli.StringFlag{Name: "seq", Usage: "a sequence (OTB or VOT layout, folder or zip) or a folder of them (default: $SIAMESE_DATA/tracking)"},
					&cli.StringSliceFlag{Name: "name", Usage: "evaluate only these sequences (default: " + tracking.DefaultTest + " when present, else all)"},
					&cli.StringFlag{Name: "plots", Usage: "write NAME-success.png and NAME-precision.png into this folder"},
					&cli.BoolFlag{Name: "no-baselines", Usage: "skip the still-box and NCC baselines"},
					jsonFlag(),
				),
				Action: runTrackEval,
			},
		},
	}
}

// trackerFlags are the tracker's settings; the model flag is required
// unless the command also has subcommands (urfave/cli checks a parent's
// required flags before its subcommands run).
func trackerFlags(modelRequired bool) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Aliases: []string{"m"}, Required: modelRequired, Usage: "model file"},
		&cli.IntFlag{Name: "scales", Value: 3, Usage: "search scales per frame (odd, 1 to 9)", Action: oddScales},
		floatFlag("window", 0.176, 0, 1, "", "influence of the cosine window on the response, in [0, 1]"),
		&cli.BoolFlag{Name: "no-focus", Usage: "do not weight the exemplar by the target's box shape"},
	}
}

// trackerParams are the model's tracker settings (tuned, or the
// defaults) with those the command line sets.
func trackerParams(c *cli.Context, m *core.Model) (tracking.Params, error) {
	p, err := tracking.ParamsOf(m)
	if err != nil {
		return p, err
	}
	if c.IsSet("scales") {
		p.Scales = c.Int("scales")
	}
	if c.IsSet("window") {
		p.WindowInfluence = c.Float64("window")
	}
	if c.IsSet("no-focus") {
		p.NoFocus = c.Bool("no-focus")
	}
	return p, nil
}

// trackingModel loads --model and checks that it tracks.
func trackingModel(c *cli.Context) (*core.Model, error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, err
	}
	if _, err := tracking.GeometryOf(m); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// sequences is the folder a flag names, else $SIAMESE_DATA/tracking.
func sequences(c *cli.Context, flag string) (string, error) {
	if p := c.String(flag); p != "" {
		return p, nil
	}
	if p := datadir.Domain(tracking.Policy.DataFolder); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("no sequences: give --%s or set SIAMESE_DATA", flag)
}

func runTrackTune(c *cli.Context) error {
	m, err := trackingModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	dir, err := sequences(c, "data")
	if err != nil {
		return err
	}
	videos, err := tracking.ValidationVideos(core.DomainOptions{DataDir: dir, Extra: m.Info.DomainOptions})
	if err != nil {
		return err
	}
	var names []string
	frames := 0
	for _, v := range videos {
		names = append(names, v.Name)
		frames += len(v.Frames)
	}
	if !c.Bool("json") {
		fmt.Fprintf(c.App.ErrWriter, "tuning on %d validation sequences (%s; %d frames)\n", len(videos), strings.Join(names, ", "), frames)
	}
	start, err := tracking.ParamsOf(m)
	if err != nil {
		return err
	}
	n := 0
	tuned, err := tracking.Tune(c.Context, m, videos, start, func(t tracking.Trial) {
		n++
		if !c.Bool("json") {
			fmt.Fprintf(c.App.ErrWriter, "  trial %2d: mean AUC %.3f  (%s)\n", n, t.Mean, t.Params)
		}
	})
	if err != nil {
		return err
	}
	if err := tracking.SetParams(m, tuned.Params); err != nil {
		return err
	}
	out := c.String("model")
	if c.IsSet("out") {
		out = c.String("out")
	}
	if err := m.Save(out); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"model": out, "params": tuned.Params, "validation_auc": tuned.AUC, "mean": tuned.Mean, "trials": len(tuned.Trials)})
	}
	fmt.Fprintf(c.App.Writer, "chosen on validation (mean success AUC %.3f over %d trials): %s\n", tuned.Mean, len(tuned.Trials), tuned.Params)
	for _, nm := range names {
		fmt.Fprintf(c.App.Writer, "  %-20s %.3f\n", nm, tuned.AUC[nm])
	}
	fmt.Fprintf(c.App.Writer, "saved in %s\n", out)
	return nil
}

// parseBox reads "x,y,w,h" (1-based, as OTB writes it).
func parseBox(s string) (tracking.Box, error) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(f) != 4 {
		return tracking.Box{}, fmt.Errorf("--init %q: want x,y,w,h", s)
	}
	var v [4]float64
	for i, p := range f {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return tracking.Box{}, fmt.Errorf("--init %q: %q is not a number", s, p)
		}
		v[i] = x
	}
	return tracking.Box{X: v[0] - 1, Y: v[1] - 1, W: v[2], H: v[3]}, nil
}

func runTrack(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; subcommands: train, eval)", c.Args().First())
	}
	for _, f := range []string{"model", "frames", "init"} {
		if c.String(f) == "" {
			return fmt.Errorf("track needs --model, --frames and --init (missing --%s)", f)
		}
	}
	init, err := parseBox(c.String("init"))
	if err != nil {
		return err
	}
	m, err := loadModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	seq, closeFrames, err := openFrames(c.String("frames"), c.String("seq"))
	if err != nil {
		return err
	}
	defer closeFrames()
	frames, err := tracking.Images(seq)
	if err != nil {
		return err
	}
	if err := tracking.CheckInit(init, frames[0].W, frames[0].H); err != nil {
		return fmt.Errorf("--init: %w", err)
	}
	start := time.Now()
	params, err := trackerParams(c, m)
	if err != nil {
		return err
	}
	boxes, err := tracking.Track(c.Context, m, params, frames, init)
	if err != nil {
		return err
	}
	fps := float64(len(frames)) / time.Since(start).Seconds()
	if g := c.String("gif"); g != "" {
		err := atomicfile.Write(g, 0o644, func(w *bufio.Writer) error { return tracking.WriteGIF(w, frames, boxes, nil) })
		if err != nil {
			return fmt.Errorf("write %s: %w", g, err)
		}
	}
	if c.Bool("json") {
		type jbox struct{ X, Y, W, H float64 }
		out := make([]jbox, len(boxes))
		for i, b := range boxes {
			out[i] = jbox{b.X + 1, b.Y + 1, b.W, b.H}
		}
		return printJSON(c, map[string]any{"frames": len(frames), "fps": fps, "boxes": out})
	}
	write := func(w *bufio.Writer) error {
		for _, b := range boxes {
			fmt.Fprintf(w, "%.2f,%.2f,%.2f,%.2f\n", b.X+1, b.Y+1, b.W, b.H)
		}
		return nil
	}
	if o := c.String("out"); o != "" {
		if err := atomicfile.Write(o, 0o644, write); err != nil {
			return fmt.Errorf("write %s: %w", o, err)
		}
		fmt.Fprintf(c.App.ErrWriter, "%d frames tracked at %.0f frames per second; boxes in %s\n", len(frames), fps, o)
		return nil
	}
	w := bufio.NewWriter(c.App.Writer)
	if err := write(w); err != nil {
		return err
	}
	return w.Flush()
}

// openFrames opens the frames to track: a folder or zip of frames, or,
// with a sequence name, that sequence inside a folder or zip of several.
func openFrames(p, name string) (*tracking.Sequence, func(), error) {
	if name == "" {
		seq, src, err := tracking.OpenFrames(p)
		if err != nil {
			return nil, nil, err
		}
		return seq, func() { src.Close() }, nil
	}
	seqs, closeAll, err := tracking.OpenAll(p)
	if err != nil {
		return nil, nil, err
	}
	seq, err := tracking.Find(seqs, name)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("--seq: %w", err)
	}
	return seq, closeAll, nil
}

// seqResult is one sequence's evaluation.
type seqResult struct {
	Sequence string         `json:"sequence"`
	Frames   int            `json:"frames"`
	Runs     []tracking.Run `json:"runs"`
}

func runTrackEval(c *cli.Context) error {
	m, err := trackingModel(c)
	if err != nil {
		return err
	}
	defer m.Close()
	p, err := sequences(c, "seq")
	if err != nil {
		return err
	}
	seqs, closeAll, err := tracking.OpenAll(p)
	if err != nil {
		return err
	}
	defer closeAll()
	names := c.StringSlice("name")
	if len(names) == 0 {
		if _, err := tracking.Find(seqs, tracking.DefaultTest); err == nil && len(seqs) > 1 {
			names = []string{tracking.DefaultTest}
		}
	}
	if len(names) > 0 {
		var pick []*tracking.Sequence
		for _, n := range names {
			s, err := tracking.Find(seqs, n)
			if err != nil {
				return err
			}
			pick = append(pick, s)
		}
		seqs = pick
	}
	params, err := trackerParams(c, m)
	if err != nil {
		return err
	}
	var results []seqResult
	for _, s := range seqs {
		frames, err := tracking.Images(s)
		if err != nil {
			return err
		}
		run, err := tracking.RunTracker(c.Context, m, params, frames, s.Boxes)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		runs := []tracking.Run{run}
		if !c.Bool("no-baselines") {
			base, err := tracking.RunBaselines(s)
			if err != nil {
				return err
			}
			runs = append(runs, base...)
		}
		if dir := c.String("plots"); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			pre := filepath.Join(dir, s.Name)
			if err := tracking.SavePlots(pre+"-success.png", pre+"-precision.png", s.Name, runs); err != nil {
				return err
			}
		}
		results = append(results, seqResult{Sequence: s.Name, Frames: len(frames), Runs: runs})
	}
	if c.Bool("json") {
		return printJSON(c, results)
	}
	for _, r := range results {
		fmt.Fprintf(c.App.Writer, "%s (%d frames)\n", r.Sequence, r.Frames)
		fmt.Fprintf(c.App.Writer, "  %-24s %11s %13s %6s\n", "tracker", "success AUC", "precision@20", "fps")
		for _, run := range r.Runs {
			fps := "–"
			if run.FPS > 0 {
				fps = fmt.Sprintf("%.0f", run.FPS)
			}
			fmt.Fprintf(c.App.Writer, "  %-24s %11.3f %13.3f %6s\n", run.Name, run.Scores.SuccessAUC, run.Scores.PrecisionAt, fps)
		}
	}
	return nil
}
