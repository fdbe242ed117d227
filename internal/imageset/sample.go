package imageset

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/siamesenet/siamese/core"
)

// StepRand is the random source of one training step: batches are a pure
// function of (seed, step), so a resumed run sees the same batches.
func StepRand(seed uint64, step int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15^uint64(step)))
}

// PairSampler draws balanced batches from some classes of a set.
type PairSampler struct {
	Set     *Set
	Classes []int // indices into Set.Classes
	// SameGroup is the share of negative pairs drawn from two classes of
	// one group (e.g. the same alphabet), where the batch has such classes.
	SameGroup float64
	// Augment, if set, distorts items when a request asks for augmentation.
	Augment Augmenter
	// PerClass is the number of items drawn from each class of a batch;
	// 0 means 1 + ⌈Pairs/Items⌉.
	PerClass int
}

// Augmenter makes a randomly distorted copy of an item [C,H,W].
type Augmenter interface {
	Apply(x []float32, c, h, w int, rng *rand.Rand) []float32
}

// Batch draws the batch of one step: Items distinct items from classes
// taken K at a time (PerClass, or 1 + ⌈Pairs/Items⌉ so that there are
// enough positive pairs); half the pairs are positive, half negative. When
// Pairs is Items·(Items−1)/2, the batch holds every pair of its items once
// instead (for losses over a whole batch, such as the cosine head's).
func (p *PairSampler) Batch(req core.PairRequest, step int) (*core.Batch, error) {
	if len(p.Classes) < 2 {
		return nil, fmt.Errorf("pair sampler needs at least 2 classes, has %d", len(p.Classes))
	}
	rng := StepRand(req.Seed, step)
	k := p.PerClass
	if k < 1 {
		k = 1 + (req.Pairs+req.Items-1)/req.Items
	}
	nc := min(max(req.Items/k, 2), len(p.Classes))
	byGroup := map[string][]int{}
	for _, c := range p.Classes {
		g := p.Set.Classes[c].Group
		byGroup[g] = append(byGroup[g], c)
	}
	chosen := map[int]bool{}
	var classes []int
	add := func(c int) {
		if !chosen[c] && len(classes) < nc {
			chosen[c] = true
			classes = append(classes, c)
		}
	}
	for len(classes) < nc {
		c := p.Classes[rng.IntN(len(p.Classes))]
		add(c)
		if p.SameGroup > 0 {
			g := byGroup[p.Set.Classes[c].Group]
			add(g[rng.IntN(len(g))])
		}
	}
	bt := &core.Batch{}
	var owner []int // class position of each item
	c0, h, w := 1, p.Set.Pre.Height, p.Set.Pre.Width
	if p.Set.Pre.Channels > 0 {
		c0 = p.Set.Pre.Channels
	}
	for ci, c := range classes {
		items := p.Set.Classes[c].Items
		perm := rng.Perm(len(items))
		for j := 0; j < k && len(bt.Items) < req.Items; j++ {
			x := items[perm[j%len(perm)]]
			if req.Augment && p.Augment != nil {
				x = p.Augment.Apply(x, c0, h, w, rng)
			}
			bt.Items = append(bt.Items, core.Item{Dense: x})
			owner = append(owner, ci)
		}
	}
	var pos, sameGroupNeg [][2]int
	for a := range owner {
		for b := a + 1; b < len(owner); b++ {
			switch {
			case owner[a] == owner[b]:
				pos = append(pos, [2]int{a, b})
			case p.Set.Classes[classes[owner[a]]].Group == p.Set.Classes[classes[owner[b]]].Group:
				sameGroupNeg = append(sameGroupNeg, [2]int{a, b})
			}
		}
	}
	if len(pos) == 0 {
		return nil, fmt.Errorf("batch of %d items has no positive pair", len(bt.Items))
	}
	if n := len(bt.Items); n == req.Items && req.Pairs == n*(n-1)/2 {
		for a := range owner {
			for b := a + 1; b < n; b++ {
				y := float32(0)
				if owner[a] == owner[b] {
					y = 1
				}
				bt.A, bt.B, bt.Y = append(bt.A, a), append(bt.B, b), append(bt.Y, y)
			}
		}
		return bt, nil
	}
	rng.Shuffle(len(pos), func(i, j int) { pos[i], pos[j] = pos[j], pos[i] })
	npos := req.Pairs / 2
	for i := 0; i < npos; i++ {
		pr := pos[i%len(pos)]
		bt.A, bt.B, bt.Y = append(bt.A, pr[0]), append(bt.B, pr[1]), append(bt.Y, 1)
	}
	for len(bt.A) < req.Pairs {
		var pr [2]int
		if len(sameGroupNeg) > 0 && rng.Float64() < p.SameGroup {
			pr = sameGroupNeg[rng.IntN(len(sameGroupNeg))]
		} else {
			for {
				a, b := rng.IntN(len(owner)), rng.IntN(len(owner))
				if owner[a] != owner[b] {
					pr = [2]int{a, b}
					break
				}
			}
		}
		bt.A, bt.B, bt.Y = append(bt.A, pr[0]), append(bt.B, pr[1]), append(bt.Y, 0)
	}
	return bt, nil
}

// Batcher makes the batch of one training step; a batch must be a pure
// function of (req.Seed, step) so that a resumed run sees the same data.
type Batcher interface {
	Batch(req core.PairRequest, step int) (*core.Batch, error)
}

// Stream returns a core.Stream of p's batches from req.Start on, computed
// one step ahead in a goroutine.
func Stream(ctx context.Context, p Batcher, req core.PairRequest) core.Stream {
	ctx, cancel := context.WithCancel(ctx)
	type res struct {
		b   *core.Batch
		err error
	}
	ch := make(chan res, 2)
	go func() {
		defer close(ch)
		for step := req.Start; ; step++ {
			b, err := p.Batch(req, step)
			select {
			case ch <- res{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return &stream{cancel: cancel, next: func(ctx context.Context) (*core.Batch, error) {
		select {
		case r, ok := <-ch:
			if !ok {
				return nil, context.Canceled
			}
			return r.b, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

type stream struct {
	cancel context.CancelFunc
	next   func(context.Context) (*core.Batch, error)
}

func (s *stream) Next(ctx context.Context) (*core.Batch, error) { return s.next(ctx) }
func (s *stream) Close() error                                  { s.cancel(); return nil }

// Episodes draws count N-way K-shot episodes from classes, each with q
// queries per class. withinGroup draws all N classes of an episode from one
// group (as Lake's within-alphabet runs do) where a group has N classes.
func (s *Set) Episodes(classes []int, n, k, q, count int, withinGroup bool, seed uint64) ([]core.Episode, error) {
	if n < 2 || k < 1 || q < 1 {
		return nil, fmt.Errorf("episodes need N ≥ 2, K ≥ 1 and queries ≥ 1, got %d, %d, %d", n, k, q)
	}
	var pool []int
	for _, c := range classes {
		if len(s.Classes[c].Items) >= k+q {
			pool = append(pool, c)
		}
	}
	if len(pool) < n {
		return nil, fmt.Errorf("%d-way %d-shot episodes need %d classes with %d images, the set has %d", n, k, n, k+q, len(pool))
	}
	byGroup := map[string][]int{}
	var groups []string
	for _, c := range pool {
		g := s.Classes[c].Group
		if len(byGroup[g]) == 0 {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], c)
	}
	var bigGroups []string
	for _, g := range groups {
		if len(byGroup[g]) >= n {
			bigGroups = append(bigGroups, g)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0xe915))
	eps := make([]core.Episode, 0, count)
	for e := 0; e < count; e++ {
		from := pool
		if withinGroup && len(bigGroups) > 0 {
			from = byGroup[bigGroups[rng.IntN(len(bigGroups))]]
		}
		perm := rng.Perm(len(from))[:n]
		var ep core.Episode
		for label, pi := range perm {
			items := s.Classes[from[pi]].Items
			ip := rng.Perm(len(items))
			for j := 0; j < k; j++ {
				ep.Support = append(ep.Support, core.Item{Dense: items[ip[j]]})
				ep.SupportLabel = append(ep.SupportLabel, label)
			}
			for j := k; j < k+q; j++ {
				ep.Query = append(ep.Query, core.Item{Dense: items[ip[j]]})
				ep.QueryLabel = append(ep.QueryLabel, label)
			}
		}
		eps = append(eps, ep)
	}
	return eps, nil
}
