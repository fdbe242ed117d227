package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/core/train"
	"github.com/siamesenet/siamese/internal/atomicfile"
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

// policyOf is the policy of a domain known before opening it: a built-in's
// registered one, else the plugin's.
func policyOf(c *cli.Context, name string, forcePlugin bool) (core.Policy, *plugins.Plugin, error) {
	if !forcePlugin && slices.Contains(core.Domains(), name) {
		pol, _ := core.DomainPolicy(name)
		return pol, nil, nil
	}
	path, pin, err := plugins.Find(name, plugins.Dirs(c.String("plugin-dir")))
	if err != nil {
		if forcePlugin {
			return core.Policy{}, nil, err
		}
		return core.Policy{}, nil, fmt.Errorf("unknown domain %q: not built in (%s) and %w", name, strings.Join(core.Domains(), ", "), err)
	}
	p, err := plugins.Start(path, plugins.Options{Pin: pin, Log: slog.Default(), Timeout: c.Duration("plugin-timeout")})
	if err != nil {
		return core.Policy{}, nil, err
	}
	pol, err := p.Policy(c.Context)
	if err != nil {
		p.Close()
		return core.Policy{}, nil, err
	}
	return pol, p, nil
}

// openDomain opens the domain named by --domain (or fallback): a built-in
// domain, or else a plugin from the plugin folders; "plugin:NAME" always
// takes the plugin. Its data folder is --data, else the one its policy
// names under $SIAMESE_DATA.
func openDomain(c *cli.Context, fallback string, input []int, saved map[string]string) (core.Domain, error) {
	return openDomainFor(c, nil, fallback, input, saved)
}

// openModelDomain opens the domain of a model (its saved options, its
// input shape), preparing the data for the model's preprocessing.
func openModelDomain(c *cli.Context, m *core.Model) (core.Domain, error) {
	return openDomainFor(c, m, m.Info.Domain, m.Tower.Input().Shape, m.Info.DomainOptions)
}

func openDomainFor(c *cli.Context, m *core.Model, fallback string, input []int, saved map[string]string) (core.Domain, error) {
	name := c.String("domain")
	if name == "" {
		name = fallback
	}
	if name == "" {
		return nil, errors.New("no domain: set --domain")
	}
	name, forcePlugin := strings.CutPrefix(name, "plugin:")
	pol, plugin, err := policyOf(c, name, forcePlugin)
	if err != nil {
		return nil, err
	}
	data := c.String("data")
	if data == "" {
		folder := pol.DataFolder
		if folder == "" {
			folder = name
		}
		data = datadir.Domain(folder)
	}
	if s := c.String("input"); s != "" {
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
	if m != nil {
		pre := m.Preprocess
		opts.Preprocess, opts.Assets = &pre, m.Assets
	}
	if plugin == nil {
		return core.OpenDomain(name, opts)
	}
	return plugin.Open(c.Context, opts)
}

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "train a model on a domain's pairs",
		Flags: append(domainFlags(),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "siamese.model", Usage: "model file to write"},
			&cli.StringFlag{Name: "tower", Usage: "tower name: " + strings.Join(core.Towers(), ", ") + " (default: the domain's)"},
			&cli.StringFlag{Name: "preset", Usage: "cnn preset: koch, koch-half or small"},
			&cli.StringFlag{Name: "tower-config", Usage: "tower config as JSON"},
			&cli.StringFlag{Name: "head", Usage: "head name: " + strings.Join(core.Heads(), ", ") + " (default: the domain's)"},
			&cli.StringFlag{Name: "head-config", Usage: "head config as JSON, e.g. {\"margin\":2}"},
			&cli.StringFlag{Name: "optimizer", Usage: "optimizer: " + strings.Join(train.Optimizers(), ", ") + " (default adam)"},
			floatFlag("lr", 0, 0, 10, "lo", "learning rate in (0, 10] (default: the domain's recipe, else 1e-3 adam, 1e-2 sgd)"),
			floatFlag("momentum", 0, 0, 1, "hi", "sgd momentum in [0, 1) (default 0.9)"),
			floatFlag("weight-decay", 0, 0, 1, "", "L2 weight decay in [0, 1] (default: the domain's recipe)"),
			&cli.StringFlag{Name: "schedule", Usage: "learning-rate schedule: " + strings.Join(train.Schedules(), ", ") + " (default: the domain's recipe, else constant)"},
			intFlag("decay-every", 0, 0, maxSteps, "step schedule: steps between decays"),
			floatFlag("decay-rate", 0.5, 0, 1, "lo", "step schedule: factor per decay, in (0, 1]"),
			intFlag("warmup", 0, 0, maxSteps, "linear warm-up steps"),
			intFlag("items", 0, 2, maxItems, "distinct items per batch, each embedded once (default: the domain's recipe, else 64)"),
			intFlag("pairs", 0, 1, maxPairs, "pairs per batch, half positive; Items·(Items−1)/2 means every pair of the batch (default: the domain's recipe, else 2×items)"),
			intFlag("steps", 0, 1, maxSteps, "step budget (default: the domain's recipe; a --duration given alone replaces it)"),
			&cli.DurationFlag{Name: "duration", Usage: "wall-time budget, e.g. 10m (1s to 1000h)", Action: durationIn("duration", time.Second, 1000*time.Hour)},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed: the same seed gives the same weights"},
			&cli.BoolFlag{Name: "augment", Usage: "random distortions (default: the domain's recipe)"},
			&cli.StringFlag{Name: "val-task", Usage: "task for validation and threshold calibration (default: the domain's)"},
			intFlag("val-every", 0, 1, maxSteps, "validate every N steps (default: the domain's recipe, else 500)"),
			floatFlag("far", 0, 0, 1, "both", "calibrate the threshold at this false-accept rate, in (0, 1), on the validation pairs (default: the domain's, else at the EER)"),
			intFlag("patience", 0, 0, maxSteps, "stop after N validations without improvement (0: never)"),
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint file (default OUT.ckpt)"},
			intFlag("ckpt-every", 1000, 0, maxSteps, "checkpoint every N steps (0: only at the end and on Ctrl-C)"),
			&cli.StringFlag{Name: "resume", Usage: "continue the run saved in this checkpoint"},
			&cli.StringFlag{Name: "from", Usage: "fine-tune this model file (its tower, weights and preprocessing; --head replaces its head) instead of a new one"},
			intFlag("freeze", 0, 0, 1000, "with --from: keep the weights of the tower's first N layers (the stem is one, each block one more)"),
			jsonFlag(),
		),
		Action: runTrain,
	}
}

// trainConfig is the run the flags ask for over a domain's recipe: a flag
// the user set wins, else the recipe, else the trainer's default. A
// --duration given without --steps replaces the recipe's step budget
// rather than racing it.
func trainConfig(c *cli.Context, r core.Recipe) train.Config {
	cfg := train.FromRecipe(r)
	ints := map[string]*int{"items": &cfg.Items, "pairs": &cfg.Pairs, "steps": &cfg.Steps, "val-every": &cfg.ValEvery,
		"decay-every": &cfg.DecayEvery, "warmup": &cfg.Warmup, "patience": &cfg.Patience, "ckpt-every": &cfg.CkptEvery}
	for name, dst := range ints {
		if c.IsSet(name) {
			*dst = c.Int(name)
		}
	}
	floats := map[string]*float64{"lr": &cfg.LR, "momentum": &cfg.Momentum, "weight-decay": &cfg.WeightDecay}
	for name, dst := range floats {
		if c.IsSet(name) {
			*dst = c.Float64(name)
		}
	}
	for name, dst := range map[string]*string{"optimizer": &cfg.Optimizer, "schedule": &cfg.Schedule} {
		if c.IsSet(name) {
			*dst = c.String(name)
		}
	}
	if c.IsSet("augment") {
		cfg.Augment = c.Bool("augment")
	}
	if c.IsSet("duration") && !c.IsSet("steps") {
		cfg.Steps = 0
	}
	if cfg.ValEvery == 0 {
		cfg.ValEvery = 500
	}
	if !c.IsSet("ckpt-every") {
		cfg.CkptEvery = 1000
	}
	cfg.DecayRate, cfg.Duration, cfg.Seed = c.Float64("decay-rate"), c.Duration("duration"), c.Uint64("seed")
	return cfg
}

// valTask is the task that validates and calibrates: --val-task, else the
// domain's. A domain whose options leave its task out cannot calibrate:
// that is an error before training, not an uncalibrated model after it.
func valTask(c *cli.Context, desc core.Description) (string, error) {
	task := desc.Policy.ValTask
	if c.IsSet("val-task") {
		task = c.String("val-task")
	}
	if task == "" {
		slog.Warn("the domain declares no validation task: the threshold stays uncalibrated", "domain", desc.Name, "threshold", core.DefaultThreshold)
		return "", nil
	}
	if !desc.HasTask(task) {
		return "", fmt.Errorf("domain %s offers no task %q to validate and calibrate on (it offers %s); keep validation data in its options or name another with --val-task",
			desc.Name, task, strings.Join(desc.Tasks, ", "))
	}
	return task, nil
}

func runTrain(c *cli.Context) error {
	ctx := c.Context
	// Fail now, not after the whole budget, if the model cannot be written.
	if err := writable(c.String("out")); err != nil {
		return err
	}
	var tr *train.Trainer
	var dom core.Domain
	var err error
	if ck := c.String("resume"); ck != "" {
		if tr, err = train.Resume(ck); err != nil {
			return err
		}
		if err := resumable(c, ck, tr.Model.Info.Domain); err != nil {
			return err
		}
		if dom, err = openModelDomain(c, tr.Model); err != nil {
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
	} else if from := c.String("from"); from != "" {
		if tr, dom, err = fineTune(c, from); err != nil {
			return err
		}
	} else {
		if c.IsSet("freeze") {
			return errors.New("--freeze needs --from: it keeps layers of a model being fine-tuned")
		}
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
		if err != nil {
			return err
		}
		m.Rule = desc.Rule
		m.Info.Domain = desc.Name
		if m.Info.DomainOptions, err = domainOptions(c, nil); err != nil {
			return err
		}
		cfg := trainConfig(c, desc.Policy.Recipe)
		if cfg.Checkpoint = c.String("checkpoint"); cfg.Checkpoint == "" {
			cfg.Checkpoint = c.String("out") + ".ckpt"
		}
		if cfg.Steps == 0 && cfg.Duration == 0 {
			return errNoBudget
		}
		tr = &train.Trainer{Model: m, Domain: dom, Config: cfg}
	}
	m := tr.Model
	task, err := valTask(c, dom.Describe())
	if err != nil {
		return err
	}
	if err := writable(tr.Config.Checkpoint); err != nil {
		return err
	}
	if task != "" {
		tr.Validate = metrics.AccuracyOn(dom, task)
	}
	if v, ok := dom.(core.Validator); ok && !c.IsSet("val-task") {
		tr.Validate = v.Validate
	}
	tr.Log = slog.Default()
	progress, done := trainBar(c, c.Bool("json"))
	tr.OnProgress = progress
	res, err := tr.Run(ctx)
	done()
	if err != nil {
		return err
	}
	out := c.String("out")
	far := dom.Describe().Policy.FAR
	if c.IsSet("far") {
		far = c.Float64("far")
	}
	if cal, ok := dom.(core.Calibrator); ok && task != "" {
		if err := cal.Calibrate(ctx, m, task, far); err != nil {
			return err
		}
	} else if task != "" {
		if _, err := metrics.Calibrate(ctx, m, dom, task, far); err != nil {
			return err
		}
	}
	if err := m.Save(out); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c, map[string]any{"model": out, "result": res, "threshold": m.Threshold, "calibration": m.Info.Calibration})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "trained %d steps (%d pairs) in %.0f s, stopped by %s; loss %.4f\n", res.Steps, res.Pairs, res.Seconds, res.Stopped, res.Loss)
	if res.BestStep > 0 {
		fmt.Fprintf(w, "best validation %.3f at step %d\n", res.BestScore, res.BestStep)
	}
	fmt.Fprintf(w, "threshold %.4f; model written to %s\n", m.Threshold, out)
	return nil
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

// fixedOnResume are the flags that would change a run that a checkpoint
// continues; only the budget (and where results go) may change.
var fixedOnResume = []string{"tower", "preset", "tower-config", "head", "head-config", "optimizer", "lr", "momentum", "weight-decay",
	"schedule", "decay-every", "decay-rate", "warmup", "items", "pairs", "seed", "augment", "input", "opt", "val-every", "patience", "ckpt-every", "checkpoint"}

// resumable refuses a resume that asks for another run than the
// checkpoint's: another domain, or settings that the checkpoint fixes.
func resumable(c *cli.Context, ckpt, domain string) error {
	if d, _ := strings.CutPrefix(c.String("domain"), "plugin:"); d != "" && d != domain {
		return fmt.Errorf("--resume %s: the checkpoint is a run on the %s domain, not %s; it continues there (use 'siamese train --resume')", ckpt, domain, d)
	}
	for _, f := range fixedOnResume {
		if c.IsSet(f) {
			return fmt.Errorf("--resume %s: --%s cannot change in a run that continues (only --steps and --duration can); start a new run to change it", ckpt, f)
		}
	}
	return nil
}

// fineTune is the run of --from: the model file's tower and weights (and
// its head, unless --head names another), its preprocessing and assets,
// on --domain's data prepared for it, the first --freeze layers kept.
func fineTune(c *cli.Context, from string) (*train.Trainer, core.Domain, error) {
	for _, f := range []string{"tower", "preset", "tower-config"} {
		if c.IsSet(f) {
			return nil, nil, fmt.Errorf("--%s with --from: the tower is the model's", f)
		}
	}
	m, err := core.Load(from)
	if err != nil {
		return nil, nil, err
	}
	if h := c.String("head"); h != "" {
		spec := core.Spec{Tower: m.Spec.Tower, TowerConfig: m.Spec.TowerConfig, Head: h, HeadConfig: json.RawMessage(c.String("head-config"))}
		n, err := core.New(spec, m.Preprocess, c.Uint64("seed"))
		if err != nil {
			return nil, nil, err
		}
		for i, p := range m.Tower.Params() {
			copy(n.Tower.Params()[i].Data, p.Data)
		}
		n.Assets, n.Info.Domain = m.Assets, m.Info.Domain
		m = n
	}
	dom, err := openDomainFor(c, m, m.Info.Domain, m.Tower.Input().Shape, nil)
	if err != nil {
		return nil, nil, err
	}
	desc := dom.Describe()
	recipe := desc.Policy.Recipe
	if desc.Policy.FineTune != nil {
		recipe = *desc.Policy.FineTune
	}
	freeze := recipe.Freeze
	if c.IsSet("freeze") {
		freeze = c.Int("freeze")
	}
	if err := core.FreezeLayers(m.Tower, freeze); err != nil && freeze > 0 {
		return nil, nil, fmt.Errorf("--freeze: %w", err)
	}
	m.Rule = desc.Rule
	m.Info = core.TrainInfo{Domain: desc.Name}
	if m.Info.DomainOptions, err = domainOptions(c, nil); err != nil {
		return nil, nil, err
	}
	cfg := trainConfig(c, recipe)
	if cfg.Checkpoint = c.String("checkpoint"); cfg.Checkpoint == "" {
		cfg.Checkpoint = c.String("out") + ".ckpt"
	}
	if cfg.Steps == 0 && cfg.Duration == 0 {
		return nil, nil, errNoBudget
	}
	return &train.Trainer{Model: m, Domain: dom, Config: cfg}, dom, nil
}

// writable checks that a file can be written at path: its folder exists
// and takes a new file.
func writable(path string) error {
	real, err := atomicfile.Resolve(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	dir := filepath.Dir(real)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("cannot write %s: the folder %s does not exist", path, dir)
	}
	f, err := os.CreateTemp(dir, ".siamese-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}
