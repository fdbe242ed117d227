package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 128, 257} {
		a, b, w := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], w[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		var sq, l1 float64
		for i := range a {
			d := float64(a[i]) - float64(b[i])
			sq += d * d
			l1 += float64(w[i]) * math.Abs(d)
		}
		if got := SqDist(a, b); math.Abs(float64(got)-sq) > 1e-4*math.Max(1, sq) {
			t.Errorf("n=%d: SqDist %v, want %v", n, got, sq)
		}
		if got := WeightedL1(a, b, w); math.Abs(float64(got)-l1) > 1e-4*math.Max(1, math.Abs(l1)) {
			t.Errorf("n=%d: WeightedL1 %v, want %v", n, got, l1)
		}
	}
}
