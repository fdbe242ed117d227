package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// paths are the kernel paths this machine runs, each forced in turn.
func paths(t testing.TB) []Path {
	var ps []Path
	for p := Generic; p <= Best(); p++ {
		ps = append(ps, p)
	}
	t.Logf("paths on this CPU: %v", ps)
	return ps
}

func refSq(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

func refL1(a, b, w []float32) float64 {
	var s float64
	for i := range a {
		s += float64(w[i]) * math.Abs(float64(a[i])-float64(b[i]))
	}
	return s
}

func close(got float32, want float64) bool {
	return math.Abs(float64(got)-want) <= 1e-4*math.Max(1, math.Abs(want))
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func TestKernelsMatchReference(t *testing.T) {
	for _, p := range paths(t) {
		t.Run(p.String(), func(t *testing.T) {
			defer Use(Use(p))
			rng := rand.New(rand.NewPCG(1, 1))
			for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 128, 257} {
				a, b, w := randVec(rng, n), randVec(rng, n), randVec(rng, n)
				if got, want := SqDist(a, b), refSq(a, b); !close(got, want) {
					t.Errorf("n=%d: SqDist %v, want %v", n, got, want)
				}
				if got, want := WeightedL1(a, b, w), refL1(a, b, w); !close(got, want) {
					t.Errorf("n=%d: WeightedL1 %v, want %v", n, got, want)
				}
			}
		})
	}
}

func TestRowKernelsMatchReference(t *testing.T) {
	for _, p := range paths(t) {
		t.Run(p.String(), func(t *testing.T) {
			defer Use(Use(p))
			rng := rand.New(rand.NewPCG(2, 2))
			for _, tc := range []struct{ d, n int }{{16, 1}, {16, 5}, {32, 3}, {48, 7}, {64, 33}, {64, 0}, {8, 4}, {20, 3}, {3, 2}, {128, 9}} {
				q, w := randVec(rng, tc.d), randVec(rng, tc.d)
				db := randVec(rng, tc.d*tc.n+5) // spare values past the last row are not read
				sq, l1 := make([]float32, tc.n), make([]float32, tc.n)
				SqDistRows(q, db, sq)
				WeightedL1Rows(q, db, w, l1)
				for i := range tc.n {
					r := db[i*tc.d : (i+1)*tc.d]
					if want := refSq(q, r); !close(sq[i], want) {
						t.Errorf("d=%d row %d: SqDistRows %v, want %v", tc.d, i, sq[i], want)
					}
					if want := refL1(q, r, w); !close(l1[i], want) {
						t.Errorf("d=%d row %d: WeightedL1Rows %v, want %v", tc.d, i, l1[i], want)
					}
				}
			}
		})
	}
}

// TestUseCapsAtBest checks that a path the CPU lacks is never used.
func TestUseCapsAtBest(t *testing.T) {
	defer Use(Use(AVX512))
	if path > Best() {
		t.Fatalf("path %v is faster than the CPU's best %v", path, Best())
	}
}

// BenchmarkSqDistRows scans 4096 rows of 64 values on every path.
func BenchmarkSqDistRows(b *testing.B) {
	for _, p := range paths(b) {
		b.Run(fmt.Sprint(p), func(b *testing.B) {
			defer Use(Use(p))
			rng := rand.New(rand.NewPCG(3, 3))
			q, db, out := randVec(rng, 64), randVec(rng, 64*4096), make([]float32, 4096)
			b.SetBytes(int64(len(db) * 4))
			for b.Loop() {
				SqDistRows(q, db, out)
			}
		})
	}
}

// The element-wise kernels give exactly what a loop gives, on every path,
// for lengths around the vector width, NaN kept by ReLU.
func TestElementwiseMatchReference(t *testing.T) {
	for _, p := range paths(t) {
		t.Run(p.String(), func(t *testing.T) {
			defer Use(Use(p))
			rng := rand.New(rand.NewPCG(2, 2))
			for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 128, 257} {
				a, b := randVec(rng, n), randVec(rng, n)
				if n > 3 {
					a[3] = float32(math.NaN())
				}
				want := make([]float32, n)
				for i := range want {
					want[i] = a[i] + b[i]
				}
				got := append([]float32(nil), a...)
				Add(got, b)
				same(t, "Add", n, got, want)
				for _, relu := range []bool{false, true} {
					for i := range want {
						want[i] = a[i] + 0.25
						if relu && want[i] < 0 {
							want[i] = 0
						}
					}
					got = append(got[:0], a...)
					Bias(got, 0.25, relu)
					same(t, fmt.Sprintf("Bias relu=%v", relu), n, got, want)
				}
			}
		})
	}
}

func same(t *testing.T, what string, n int, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("n=%d: %s[%d] = %v, want %v", n, what, i, got[i], want[i])
		}
	}
}

// The 2×2 pool kernel gives each window's maximum on every path.
func TestMaxPool2MatchesReference(t *testing.T) {
	for _, p := range paths(t) {
		t.Run(p.String(), func(t *testing.T) {
			defer Use(Use(p))
			rng := rand.New(rand.NewPCG(3, 3))
			for _, n := range []int{0, 1, 7, 8, 9, 16, 23, 48} {
				r0, r1 := randVec(rng, 2*n+1), randVec(rng, 2*n+1)
				want, got := make([]float32, n), make([]float32, n)
				for i := range want {
					want[i] = max(r0[2*i], r0[2*i+1], r1[2*i], r1[2*i+1])
				}
				MaxPool2(r0, r1, got)
				same(t, "MaxPool2", n, got, want)
			}
		})
	}
}

// Gather gives what indexing gives, on every path, for panel widths that
// each path takes and some it leaves to the loop.
func TestGatherMatchesIndexing(t *testing.T) {
	for _, p := range paths(t) {
		t.Run(p.String(), func(t *testing.T) {
			defer Use(Use(p))
			rng := rand.New(rand.NewPCG(4, 4))
			x := randVec(rng, 5000)
			for _, nr := range []int{1, 7, 8, 16, 24, 32, 48, 64} {
				for _, kb := range []int{1, 3, 17} {
					rows := make([]int, kb)
					for q := range rows {
						rows[q] = rng.IntN(2000)
					}
					idx := make([]int32, nr)
					for i := range idx {
						idx[i] = int32(rng.IntN(2999))
					}
					want := make([]float32, kb*nr)
					for q := range kb {
						for i := range nr {
							want[q*nr+i] = x[rows[q]+int(idx[i])]
						}
					}
					got := make([]float32, kb*nr+1)
					got[kb*nr] = -7
					Gather(got, x, rows, idx)
					same(t, fmt.Sprintf("Gather nr=%d kb=%d", nr, kb), nr, got[:kb*nr], want)
					if got[kb*nr] != -7 {
						t.Fatalf("nr=%d kb=%d: Gather wrote past its panel", nr, kb)
					}
				}
			}
		})
	}
}

// An offset past x's end is refused before any read.
func TestGatherRefusesOutside(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Gather read past x without a panic")
		}
	}()
	idx := make([]int32, 16)
	idx[15] = 16
	Gather(make([]float32, 16), make([]float32, 20), []int{4}, idx)
}
