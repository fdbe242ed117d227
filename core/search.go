package core

import (
	"container/heap"
	"runtime"
	"sort"
	"sync"
)

// Ranker is implemented by heads that rank many cached embeddings fast:
// RankKeys writes one key per row of db (rows of len(q) values) such that
// the head's Score is an increasing function of the key, and ScoreOfKey
// turns a key back into that score.
type Ranker interface {
	RankKeys(q, db, keys []float32)
	ScoreOfKey(key float32) float32
}

// Hit is one search result: a row of the searched matrix and its score.
type Hit struct {
	Index int     `json:"index"`
	Score float32 `json:"score"`
}

// Search returns the k rows of db (row-major, len(q) values a row) that the
// head scores highest against q, best first, without the graph. Rows are
// split across cores; heads that implement Ranker are ranked by their fast
// key, others by Score.
func Search(h Head, q, db []float32, k int) []Hit {
	dim := len(q)
	if dim == 0 || k <= 0 {
		return nil
	}
	n := len(db) / dim
	k = min(k, n)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/1024))
	heaps := make([]hitHeap, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			heaps[w] = topK(h, q, db, lo, hi, k)
		}(w)
	}
	wg.Wait()
	var all hitHeap
	for _, hh := range heaps {
		all = append(all, hh...)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Score != all[j].Score {
			return all[i].Score > all[j].Score
		}
		return all[i].Index < all[j].Index
	})
	all = all[:min(k, len(all))]
	if r, ok := h.(Ranker); ok {
		for i := range all {
			all[i].Score = r.ScoreOfKey(all[i].Score)
		}
	}
	return all
}

// topK keeps the k best keys of rows [lo, hi) in a min-heap.
func topK(h Head, q, db []float32, lo, hi, k int) hitHeap {
	dim := len(q)
	r, fast := h.(Ranker)
	const chunk = 4096
	keys := make([]float32, chunk)
	hh := make(hitHeap, 0, k+1)
	for c := lo; c < hi; c += chunk {
		e := min(c+chunk, hi)
		ks := keys[:e-c]
		if fast {
			r.RankKeys(q, db[c*dim:e*dim], ks)
		} else {
			for i := range ks {
				ks[i] = h.Score(q, db[(c+i)*dim:(c+i+1)*dim])
			}
		}
		for i, key := range ks {
			if len(hh) < k {
				heap.Push(&hh, Hit{Index: c + i, Score: key})
			} else if key > hh[0].Score {
				hh[0] = Hit{Index: c + i, Score: key}
				heap.Fix(&hh, 0)
			}
		}
	}
	return hh
}

type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].Score < h[j].Score }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
