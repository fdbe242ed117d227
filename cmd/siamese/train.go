package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/internal/datadir"
	"github.com/siamesenet/siamese/plugins"
	"github.com/urfave/cli/v2"
)

func domainFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "domain", Usage: "domain name (" + strings.Join(core.Domains(), ", ") + ")"},
		&cli.StringFlag{Name: "data", Usage: "data folder of the domain (default: $SIAMESE_DATA/<domain>)"},
		&cli.StringFlag{Name: "input", Usage: "input shape C,H,W (default: the domain's or the model's)"},
		&cli.StringSliceFlag{Name: "opt", Usage: "domain option KEY=VALUE, repeatable (e.g. test=6, split_seed=2; a model remembers those it was trained with)"},
	}
}

// domainOptions reads --opt KEY=VALUE flags over the options a model was
// trained with (saved, may be nil).
func domainOptions(c *cli.Context, saved map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range saved {
		out[k] = v
	}
	for _, kv := range c.StringSlice("opt") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--opt %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func parseShape(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad shape %q: want positive integers like 1,28,28", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// dataFolders names the $SIAMESE_DATA folder of domains whose data folder
// is not named after them.
var dataFolders = map[string]string{"signature": "signatures", "questions": "quora_pairs", "tracking": "tracking", "face": "att_faces"}

// openDomain opens the domain named by --domain (or fallback): a built-in
// domain, or else a plugin from the plugin folders; "plugin:NAME" always
// takes the plugin.
func openDomain(c *cli.Context, fallback string, input []int, saved map[string]string) (core.Domain, error) {
	name := c.String("domain")
	if name == "" {
		name = fallback
	}
	if name == "" {
		return nil, errors.New("no domain: set --domain")
	}
	name, forcePlugin := strings.CutPrefix(name, "plugin:")
	data := c.String("data")
	if data == "" {
		data = datadir.Domain(name)
		if alias, ok := dataFolders[name]; ok && data == "" {
			data = datadir.Domain(alias)
		}
	}
	if s := c.String("input"); s != "" {
		var err error
		if input, err = parseShape(s); err != nil {
			return nil, err
		}
	}
	if data != "" {
		if _, err := os.Stat(data); err != nil {
			return nil, fmt.Errorf("domain %s: data folder: %w", name, err)
		}
	}
	extra, err := domainOptions(c, saved)
	if err != nil {
		return nil, err
	}
	opts := core.DomainOptions{DataDir: data, Input: input, Extra: extra}
	if !forcePlugin && slices.Contains(core.Domains(), name) {
		return core.OpenDomain(name, opts)
	}
	path, pin, err := plugins.Find(name, plugins.Dirs(c.String("plugin-dir")))
	if err != nil {
		if forcePlugin {
			return nil, err
		}
		return nil, fmt.Errorf("unknown domain %q: not built in (%s) and %w", name, strings.Join(core.Domains(), ", "), err)
	}
	p, err := plugins.Start(path, plugins.Options{Pin: pin, Log: slog.Default(), Timeout: c.Duration("plugin-timeout")})
	if err != nil {
		return nil, err
	}
	return p.Open(c.Context, opts)
}

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a model on a domain's pairs",
		Flags: append(domainFlags(),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "siamese.model", Usage: "model file to write"},
			&cli.StringFlag{Name: "tower", Usage: "tower name (default: the domain's)"},
			&cli.StringFlag{Name: "preset", Usage: "cnn preset: koch, koch-half or small"},
			&cli.StringFlag{Name: "tower-config", Usage: "tower config as JSON"},
			&cli.StringFlag{Name: "head", Usage: "head name: l1sigmoid or contrastive (default: the domain's)"},
			&cli.StringFlag{Name: "head-config", Usage: "head config as JSON, e.g. {\"margin\":2}"},
			&cli.StringFlag{Name: "optimizer", Value: "adam", Usage: "adam or sgd"},
			&cli.Float64Flag{Name: "lr", Usage: "learning rate (default 1e-3 adam, 1e-2 sgd)"},
			&cli.Float64Flag{Name: "momentum", Usage: "sgd momentum (default 0.9)"},
			&cli.Float64Flag{Name: "weight-decay", Usage: "L2 weight decay"},
			&cli.StringFlag{Name: "schedule", Value: "constant", Usage: "learning-rate schedule: constant, step or cosine"},
			&cli.IntFlag{Name: "decay-every", Usage: "step schedule: steps between decays"},
			&cli.Float64Flag{Name: "decay-rate", Value: 0.5, Usage: "step schedule: factor per decay"},
			&cli.IntFlag{Name: "warmup", Usage: "linear warm-up steps"},
			&cli.IntFlag{Name: "items", Value: 64, Usage: "distinct items per batch (each embedded once)"},
			&cli.IntFlag{Name: "pairs", Value: 128, Usage: "pairs per batch, half positive; Items·(Items−1)/2 means every pair of the batch"},
			&cli.IntFlag{Name: "steps", Usage: "step budget (a --duration given alone replaces its default)"},
			&cli.DurationFlag{Name: "duration", Usage: "wall-time budget, e.g. 10m"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed: the same seed gives the same weights"},
			&cli.BoolFlag{Name: "augment", Usage: "random affine distortions"},
			&cli.StringFlag{Name: "val-task", Usage: "task for validation and threshold calibration (default val20 where offered)"},
			&cli.IntFlag{Name: "val-every", Value: 500, Usage: "validate every N steps"},
			&cli.Float64Flag{Name: "far", Usage: "calibrate the threshold at this false-accept rate on the validation pairs (default: at the EER)"},
			&cli.IntFlag{Name: "patience", Usage: "stop after N validations without improvement (0: never)"},
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint file (default OUT.ckpt)"},
			&cli.IntFlag{Name: "ckpt-every", Value: 1000, Usage: "checkpoint every N steps"},
			&cli.StringFlag{Name: "resume", Usage: "continue the run saved in this checkpoint"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		),
		Action: runTrain,
	}
}

// stepBudget is --steps, except that a --duration given without --steps
// replaces a command's default step budget (face train's 800) rather than
// racing it.
func stepBudget(c *cli.Context) int {
	if c.IsSet("duration") && !c.IsSet("steps") {
		return 0
	}
	return c.Int("steps")
}

func runTrain(c *cli.Context) error {
	ctx := c.Context
	var tr *core.Trainer
	var dom core.Domain
	var err error
	if ck := c.String("resume"); ck != "" {
		if tr, err = core.Resume(ck); err != nil {
			return err
		}
		if dom, err = openDomain(c, tr.Model.Info.Domain, tr.Model.Tower.Input().Shape, tr.Model.Info.DomainOptions); err != nil {
			return err
		}
		tr.Domain = dom
		// The budget may be extended; everything else continues the run.
		if c.IsSet("steps") {
			tr.Config.Steps = c.Int("steps")
		}
		if c.IsSet("duration") {
			tr.Config.Duration = c.Duration("duration")
		}
	} else {
		input, err := parseShape(c.String("input"))
		if err != nil {
			return err
		}
		if dom, err = openDomain(c, "", input, nil); err != nil {
			return err
		}
		desc := dom.Describe()
		spec := desc.Spec
		if t := c.String("tower"); t != "" {
			spec.Tower, spec.TowerConfig = t, nil
		}
		if p := c.String("preset"); p != "" {
			spec.TowerConfig = mergeJSON(spec.TowerConfig, map[string]any{"preset": p})
		}
		if tc := c.String("tower-config"); tc != "" {
			var extra map[string]any
			if err := json.Unmarshal([]byte(tc), &extra); err != nil {
				return fmt.Errorf("--tower-config: %w", err)
			}
			spec.TowerConfig = mergeJSON(spec.TowerConfig, extra)
		}
		if h := c.String("head"); h != "" {
			spec.Head = h
		}
		if hc := c.String("head-config"); hc != "" {
			spec.HeadConfig = json.RawMessage(hc)
		}
		m, err := core.New(spec, desc.Preprocess, c.Uint64("seed"))
		if err == nil {
			m.Rule = desc.Rule
		}
		if err != nil {
			return err
		}
		m.Info.Domain = desc.Name
		if m.Info.DomainOptions, err = domainOptions(c, nil); err != nil {
			return err
		}
		ckpt := c.String("checkpoint")
		if ckpt == "" {
			ckpt = c.String("out") + ".ckpt"
		}
		tr = &core.Trainer{Model: m, Domain: dom, Config: core.TrainConfig{
			Optimizer: c.String("optimizer"), LR: c.Float64("lr"), Momentum: c.Float64("momentum"),
			WeightDecay: c.Float64("weight-decay"), Schedule: c.String("schedule"), DecayEvery: c.Int("decay-every"),
			DecayRate: c.Float64("decay-rate"), Warmup: c.Int("warmup"), Items: c.Int("items"), Pairs: c.Int("pairs"),
			Steps: stepBudget(c), Duration: c.Duration("duration"), Seed: c.Uint64("seed"), Augment: c.Bool("augment"),
			ValEvery: c.Int("val-every"), Patience: c.Int("patience"), Checkpoint: ckpt, CkptEvery: c.Int("ckpt-every"),
		}}
		if tr.Config.Steps == 0 && tr.Config.Duration == 0 {
			return errors.New("set a budget: --steps N or --duration D")
		}
	}
	m := tr.Model
	valTask := c.String("val-task")
	for _, t := range []string{"val20", "val-5shot"} {
		if valTask == "" && hasTask(dom, t) {
			valTask = t
		}
	}
	if valTask != "" {
		tr.Validate = core.AccuracyOn(dom, valTask)
	}
	tr.Log = slog.Default()
	progress, done := trainBar(c.Bool("json"))
	tr.OnProgress = progress
	res, err := tr.Run(ctx)
	done()
	if err != nil {
		return err
	}
	out := c.String("out")
	if valTask != "" {
		if _, err := core.Calibrate(ctx, m, dom, valTask, c.Float64("far")); err != nil {
			return err
		}
	}
	if err := m.Save(out); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(map[string]any{"model": out, "result": res, "threshold": m.Threshold})
	}
	fmt.Printf("trained %d steps (%d pairs) in %.0f s, stopped by %s; loss %.4f\n", res.Steps, res.Pairs, res.Seconds, res.Stopped, res.Loss)
	if res.BestStep > 0 {
		fmt.Printf("best validation %.3f at step %d\n", res.BestScore, res.BestStep)
	}
	fmt.Printf("threshold %.4f; model written to %s\n", m.Threshold, out)
	return nil
}

func hasTask(d core.Domain, task string) bool {
	for _, t := range d.Describe().Tasks {
		if t == task {
			return true
		}
	}
	return false
}

func mergeJSON(base json.RawMessage, extra map[string]any) json.RawMessage {
	m := map[string]any{}
	if len(base) > 0 {
		json.Unmarshal(base, &m)
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}
