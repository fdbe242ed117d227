package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// naive is the plain triple loop, in float64.
func naive(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, len(c))
	for i := range c {
		out[i] = float64(c[i])
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var av, bv float32
				if ta {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tb {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*ldc+j] = float64(alpha)*s + float64(beta)*float64(c[i*ldc+j])
		}
	}
	return out
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func TestSgemmMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {6, 16, 1}, {12, 32, 1}, {7, 17, 3}, {13, 40, 300}, {25, 65, 7}, {64, 128, 9}, {150, 33, 260}, {5, 2100, 20}, {200, 300, 100}, {145, 70, 513}}
	saved := backend
	defer func() { backend = saved }()
	defer Use(Use(Best()))
	// Every micro-kernel this CPU runs, forced in turn, then OpenBLAS
	// where it is built in.
	var impls []string
	for p := Generic; p <= Best(); p++ {
		impls = append(impls, p.String())
	}
	t.Logf("kernels on this CPU: %v", impls)
	for _, impl := range append(impls, "openblas") {
		if impl == "openblas" && saved == nil {
			continue
		}
		backend = nil
		if impl == "openblas" {
			backend = saved
		} else {
			for p := Generic; p <= Best(); p++ {
				if p.String() == impl {
					Use(p)
				}
			}
		}
		asm := impl
		for _, s := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
						m, n, k := s[0], s[1], s[2]
						lda, ldb, ldc := k+1, n+2, n+3
						if ta {
							lda = m + 1
						}
						if tb {
							ldb = k + 2
						}
						rowsA, rowsB := m, k
						if ta {
							rowsA = k
						}
						if tb {
							rowsB = n
						}
						a, b, c := randSlice(rng, rowsA*lda), randSlice(rng, rowsB*ldb), randSlice(rng, m*ldc)
						want := naive(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						if ab[1] == 0 {
							// beta 0: C is output only, its old values (NaN
							// here) must not be read; the padding past n
							// must stay as it is.
							for i := range c {
								if i%ldc < n {
									c[i] = float32(math.NaN())
								}
							}
						}
						Sgemm(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						for i := 0; i < m; i++ {
							for j := 0; j < ldc; j++ {
								got, w := float64(c[i*ldc+j]), want[i*ldc+j]
								if j >= n {
									if got != w {
										t.Fatalf("%s %v: padding C[%d,%d] changed to %v", asm, s, i, j, got)
									}
									continue
								}
								if math.Abs(got-w) > 1e-4*math.Sqrt(float64(k))*math.Max(1, math.Abs(w)) {
									t.Fatalf("%s %v ta=%v tb=%v alpha,beta=%v: C[%d,%d] = %v, want %v", asm, s, ta, tb, ab, i, j, got, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []int{64, 256, 1024} {
		rng := rand.New(rand.NewPCG(1, 1))
		a, bb, c := randSlice(rng, s*s), randSlice(rng, s*s), make([]float32, s*s)
		for p := AVX2; p <= Best(); p++ {
			b.Run(fmt.Sprintf("%s-%d", p, s), func(b *testing.B) {
				defer Use(Use(p))
				for i := 0; i < b.N; i++ {
					Sgemm(false, false, s, s, s, 1, a, s, bb, s, 0, c, s)
				}
				b.ReportMetric(2*float64(s*s*s)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		b.Run(fmt.Sprintf("gonum-%d", s), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, s, s, s, 1, a, s, bb, s, 0, c, s)
			}
			b.ReportMetric(2*float64(s*s*s)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// indexPacker packs a stored row-major B element by element: the simplest
// Packer, to check that a packed product equals the stored one.
type indexPacker struct {
	b   []float32
	ldb int
}

func (p indexPacker) Pack(p0, j0, kb, nb, nr int, dst []float32) {
	for s := 0; s < nb; s += nr {
		panel := dst[(s/nr)*kb*nr : (s/nr+1)*kb*nr]
		for q := range kb {
			for j := range nr {
				v := float32(0)
				if s+j < nb {
					v = p.b[(p0+q)*p.ldb+j0+s+j]
				}
				panel[q*nr+j] = v
			}
		}
	}
}

func TestSgemmPackedMatchesSgemm(t *testing.T) {
	if !Packs() {
		t.Skip("a BLAS backend is built in: SgemmPacked is not used")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	defer Use(Use(Best()))
	for p := Generic; p <= Best(); p++ {
		Use(p)
		// Shapes past every block size (kc 256, nc 2048) and the parallel
		// threshold, with edge tiles.
		for _, s := range [][3]int{{1, 1, 1}, {7, 17, 3}, {32, 9216, 100}, {13, 2100, 300}, {145, 70, 513}} {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				lda := k + 1
				rowsA := m
				if ta {
					lda, rowsA = m+1, k
				}
				a, b := randSlice(rng, rowsA*lda), randSlice(rng, k*(n+2))
				c0 := randSlice(rng, m*n)
				want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
				Sgemm(ta, false, m, n, k, 0.5, a, lda, b, n+2, 0.25, want, n)
				SgemmPacked(ta, m, n, k, 0.5, a, lda, indexPacker{b, n + 2}, 0.25, got, n)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s %v ta=%v: C[%d] = %v, stored B gives %v", p, s, ta, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// A packed once gives what packing it in every product gives, value for
// value, with B stored either way or from a Packer, on every path, and the
// same PackedA repacked for another shape.
func TestPackedAMatchesSgemm(t *testing.T) {
	if !Packs() {
		t.Skip("a BLAS backend is built in: PackedA is not used")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	defer Use(Use(Best()))
	for p := Generic; p <= Best(); p++ {
		Use(p)
		var pa PackedA
		for _, s := range [][3]int{{1, 1, 1}, {7, 17, 3}, {256, 25, 2304}, {13, 2100, 300}, {145, 70, 513}, {32, 4900, 27}} {
			m, n, k := s[0], s[1], s[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					lda, rowsA := k+1, m
					if ta {
						lda, rowsA = m+1, k
					}
					ldb, rowsB := n+2, k
					if tb {
						ldb, rowsB = k+2, n
					}
					a, b := randSlice(rng, rowsA*lda), randSlice(rng, rowsB*ldb)
					c0 := randSlice(rng, m*n)
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					Sgemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, n)
					pa.Pack(ta, m, k, 0.5, a, lda)
					pa.Mul(tb, n, b, ldb, 0.25, got, n)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s %v ta=%v tb=%v: C[%d] = %v, Sgemm gives %v", p, s, ta, tb, i, got[i], want[i])
						}
					}
					if tb {
						continue
					}
					copy(got, c0)
					pa.MulPacked(n, indexPacker{b, ldb}, 0.25, got, n)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s %v ta=%v packer: C[%d] = %v, Sgemm gives %v", p, s, ta, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
