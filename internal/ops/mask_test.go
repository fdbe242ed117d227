package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestReLUMask32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	n := 10000
	y, dy, out := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range y {
		switch i % 3 {
		case 0:
			y[i] = 0
		case 1:
			y[i] = float32(math.Copysign(0, -1))
		default:
			y[i] = rng.Float32() + 1e-30
		}
		dy[i] = float32(rng.NormFloat64())
	}
	reluMask32(y, dy, out)
	for i := range y {
		want := dy[i]
		if y[i] <= 0 {
			want = 0
		}
		if out[i] != want {
			t.Fatalf("y=%v dy=%v: got %v, want %v", y[i], dy[i], out[i], want)
		}
	}
}
