package imageset

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/siamesenet/siamese/core"
)

// Domain is a core.Domain over in-memory image sets: the common part of
// every image domain. A domain package fills in its description, its
// splits (pair samplers) and its evaluation tasks.
type Domain struct {
	Desc   core.Description
	Splits map[string]Batcher
	// Tasks make the episodes of each evaluation task on first use.
	Tasks map[string]func(ctx context.Context) ([]core.Episode, error)

	mu    sync.Mutex
	cache map[string][]core.Episode
}

// Describe implements core.Domain.
func (d *Domain) Describe() core.Description {
	desc := d.Desc
	desc.Splits, desc.Tasks = nil, nil
	for s := range d.Splits {
		desc.Splits = append(desc.Splits, s)
	}
	for t := range d.Tasks {
		desc.Tasks = append(desc.Tasks, t)
	}
	sort.Strings(desc.Splits)
	sort.Strings(desc.Tasks)
	return desc
}

// Pairs implements core.Domain.
func (d *Domain) Pairs(ctx context.Context, req core.PairRequest) (core.Stream, error) {
	s, ok := d.Splits[req.Split]
	if !ok {
		return nil, fmt.Errorf("domain %s has no split %q (has %v)", d.Desc.Name, req.Split, d.Describe().Splits)
	}
	if req.Items < 2 || req.Pairs < 2 {
		return nil, fmt.Errorf("a batch needs at least 2 items and 2 pairs")
	}
	return Stream(ctx, s, req), nil
}

// Episodes implements core.Domain.
func (d *Domain) Episodes(ctx context.Context, task string) ([]core.Episode, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if eps, ok := d.cache[task]; ok {
		return eps, nil
	}
	f, ok := d.Tasks[task]
	if !ok {
		return nil, fmt.Errorf("domain %s has no task %q (has %v)", d.Desc.Name, task, d.Describe().Tasks)
	}
	eps, err := f(ctx)
	if err != nil {
		return nil, err
	}
	if d.cache == nil {
		d.cache = map[string][]core.Episode{}
	}
	d.cache[task] = eps
	return eps, nil
}

// Decode implements core.Domain.
func (d *Domain) Decode(raw []byte) (core.Item, error) {
	img, err := Decode(raw)
	if err != nil {
		return core.Item{}, err
	}
	x, err := Prepare(img, d.Desc.Preprocess)
	if err != nil {
		return core.Item{}, err
	}
	return core.Item{Dense: x}, nil
}

// AllClasses lists 0..n-1.
func AllClasses(s *Set) []int {
	out := make([]int, len(s.Classes))
	for i := range out {
		out[i] = i
	}
	return out
}
