package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/siamesenet/siamese/core"
	"github.com/siamesenet/siamese/core/metrics"
	"github.com/siamesenet/siamese/internal/plots"
	"github.com/urfave/cli/v2"
)

func evalCommand() *cli.Command {
	return &cli.Command{
		Name:  "eval",
		Usage: "evaluate a model on a domain's task: N-way K-shot identification and pair verification",
		Flags: append(domainFlags(),
			modelFlag(),
			&cli.StringFlag{Name: "task", Usage: "evaluation task (default: the domain's first)"},
			thresholdFlag(),
			jsonFlag(),
			&cli.StringFlag{Name: "plots", Usage: "write roc.png and scores.png into this folder"},
			&cli.StringFlag{Name: "aggregate", Usage: "verify each query against each class's references together (mean or max) instead of one by one (default: the model's rule, if it has one)"},
		),
		Action: func(c *cli.Context) error {
			m, err := loadModel(c)
			if err != nil {
				return err
			}
			defer m.Close()
			dom, err := openModelDomain(c, m)
			if err != nil {
				return err
			}
			task := c.String("task")
			if task == "" {
				tasks := dom.Describe().Tasks
				if len(tasks) == 0 {
					return fmt.Errorf("domain %s offers no evaluation task", dom.Describe().Name)
				}
				task = tasks[0]
			}
			eps, err := dom.Episodes(c.Context, task)
			if err != nil {
				return err
			}
			id, v, err := metrics.Evaluate(c.Context, m, eps, countBar(c, len(eps), "episodes", c.Bool("json")))
			if err != nil {
				return err
			}
			rule, err := scoreRule(c, m)
			if err != nil {
				return err
			}
			if rule != nil {
				if v, err = metrics.VerifyEnrolled(c.Context, m, eps, *rule); err != nil {
					return err
				}
			}
			// A model that scores beyond its head (a questions model's
			// lexical fusion) is verified on the score it gives.
			if ps, ok := dom.(core.PairScorer); ok && len(m.Scoring) > 0 {
				scores, same, err := ps.TaskScores(c.Context, m, task)
				if err != nil {
					return err
				}
				if v, err = metrics.Verify(scores, same, m.Threshold); err != nil {
					return err
				}
			}
			if dir := c.String("plots"); dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				title := dom.Describe().Name + " " + task
				if err := plots.ROC(filepath.Join(dir, "roc.png"), title, v); err != nil {
					return fmt.Errorf("plot: %w", err)
				}
				if err := plots.Scores(filepath.Join(dir, "scores.png"), title, v.Scores, v.Same, v.Threshold); err != nil {
					return fmt.Errorf("plot: %w", err)
				}
			}
			farTh, tar := v.ThresholdAtFAR(1e-3)
			if c.Bool("json") {
				return printJSON(c, map[string]any{"task": task, "identification": id, "verification": v, "tar_at_far_1e-3": tar, "threshold_at_far_1e-3": farTh})
			}
			if id.Trials > 0 {
				fmt.Fprintf(c.App.Writer, "%s: %d-way %d-shot accuracy %.1f%% over %d trials (chance %.1f%%)\n", task, id.Ways, id.Shots, 100*id.Accuracy, id.Trials, 100*id.Chance)
			}
			if rule != nil {
				fmt.Fprintf(c.App.Writer, "%s: each query against the references of each class (%s)\n", task, rule)
			}
			fmt.Fprintf(c.App.Writer, "pairs: %d (%d same); ROC AUC %.4f; EER %.2f%% at threshold %.4f\n", v.Pairs, v.Positives, v.AUC, 100*v.EER, v.EERThresh)
			fmt.Fprintf(c.App.Writer, "at threshold %.4f: accuracy %.2f%%, FAR %.2f%%, FRR %.2f%%\n", v.Threshold, 100*v.Accuracy, 100*v.FAR, 100*v.FRR)
			fmt.Fprintf(c.App.Writer, "TAR at FAR 1e-3: %.2f%% (threshold %.4f)\n", 100*tar, farTh)
			return nil
		},
	}
}

// scoreRule is the model's rule for scoring against references, with
// --aggregate (if given) overriding its aggregate; nil when neither says.
func scoreRule(c *cli.Context, m *core.Model) (*core.ScoreRule, error) {
	var rule *core.ScoreRule
	if m.Rule != nil {
		r := *m.Rule
		rule = &r
	}
	if s := c.String("aggregate"); s != "" {
		a, err := core.ParseAggregate(s)
		if err != nil {
			return nil, err
		}
		if rule == nil {
			rule = &core.ScoreRule{}
		}
		rule.Aggregate = a
	}
	return rule, nil
}
