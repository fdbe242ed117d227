package coretest

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/siamesenet/siamese/core"
)

// TestDomain runs the domain conformance suite: the description is
// complete, pair streams give well-formed balanced batches that are a pure
// function of (seed, step) so a resumed run sees the same data, episodes
// are well formed, and Decode rejects garbage with an error.
func TestDomain(t *testing.T, d core.Domain) {
	t.Helper()
	ctx := context.Background()
	desc := d.Describe()
	if desc.Name == "" || desc.Version == "" || len(desc.Splits) == 0 || len(desc.Tasks) == 0 || desc.Spec.Tower == "" || desc.Spec.Head == "" {
		t.Fatalf("incomplete description: %+v", desc)
	}
	if _, err := core.New(desc.Spec, desc.Preprocess, 1); err != nil {
		t.Fatalf("the domain's default spec does not build: %v", err)
	}
	per := core.Size(desc.Input.Shape)
	req := core.PairRequest{Split: desc.Splits[0], Seed: 4, Items: 16, Pairs: 20}
	s, err := d.Pairs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var batches []*core.Batch
	for i := 0; i < 3; i++ {
		bt, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, bt)
	}
	s.Close()
	for _, bt := range batches {
		if len(bt.Items) > req.Items || len(bt.Items) < 2 || len(bt.A) != req.Pairs || len(bt.B) != req.Pairs || len(bt.Y) != req.Pairs {
			t.Fatalf("batch of %d items and %d/%d/%d pairs for a request of %d and %d", len(bt.Items), len(bt.A), len(bt.B), len(bt.Y), req.Items, req.Pairs)
		}
		pos := 0
		for i := range bt.A {
			if bt.A[i] < 0 || bt.A[i] >= len(bt.Items) || bt.B[i] < 0 || bt.B[i] >= len(bt.Items) {
				t.Fatalf("pair %d indexes out of range", i)
			}
			switch bt.Y[i] {
			case 1:
				pos++
			case 0:
			default:
				t.Fatalf("label %v, want 0 or 1", bt.Y[i])
			}
		}
		if pos != req.Pairs/2 {
			t.Errorf("%d positives of %d pairs, want half", pos, req.Pairs)
		}
		for _, it := range bt.Items {
			if desc.Input.Kind == core.Dense && len(it.Dense) != per {
				t.Fatalf("item has %d values, the domain declares %v", len(it.Dense), desc.Input.Shape)
			}
		}
	}
	req.Start = 2
	s2, err := d.Pairs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := s2.Next(ctx)
	s2.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(bt, batches[2]) {
		t.Error("a stream started at step 2 does not give the third batch of a stream started at 0")
	}
	if _, err := d.Pairs(ctx, core.PairRequest{Split: "no-such-split", Items: 8, Pairs: 8}); err == nil {
		t.Error("unknown split: no error")
	}
	for _, task := range desc.Tasks {
		eps, err := d.Episodes(ctx, task)
		if err != nil {
			t.Fatalf("task %s: %v", task, err)
		}
		if len(eps) == 0 {
			t.Fatalf("task %s has no episodes", task)
		}
		for _, ep := range eps {
			if len(ep.Support) != len(ep.SupportLabel) || len(ep.Query) != len(ep.QueryLabel) || len(ep.Query) == 0 {
				t.Fatalf("task %s: malformed episode", task)
			}
		}
	}
	if _, err := d.Episodes(ctx, "no-such-task"); err == nil {
		t.Error("unknown task: no error")
	}
	if _, err := d.Decode([]byte("definitely not an input file \x00\xff")); err == nil && desc.InputKind != "text" {
		t.Error("Decode accepted garbage")
	}
	// The policy: a validation task the domain offers (a trained model is
	// calibrated on it), a usable enrolment, a recipe that can train.
	pol := desc.Policy
	if pol.ValTask == "" {
		t.Error("the policy names no validation task: trained models would stay uncalibrated")
	} else if !desc.HasTask(pol.ValTask) {
		t.Errorf("the policy's validation task %q is not among the tasks %v", pol.ValTask, desc.Tasks)
	}
	if e := pol.Enrolment; e != nil {
		if err := e.Check(); err != nil {
			t.Errorf("enrolment policy: %v", err)
		}
		if e.Noun == "" || e.Key == "" || e.Item == "" || e.Gallery == "" || e.List == "" || e.Accept == "" || e.Reject == "" || e.Accept == e.Reject {
			t.Errorf("enrolment policy incomplete: %+v", *e)
		}
	}
	if r := pol.Recipe; r.Items < 0 || r.Pairs < 0 || r.Steps < 0 || r.LR < 0 || r.ValEvery < 0 {
		t.Errorf("recipe with negative settings: %+v", r)
	}
	if r := pol.Recipe; r.Split != "" && !slices.Contains(desc.Splits, r.Split) {
		t.Errorf("recipe's split %q is not among the splits %v", r.Split, desc.Splits)
	}
}
