// Package vec has the float32 vector kernels behind search over cached
// embeddings: squared Euclidean distance and weighted L1 distance, in Go
// assembly with AVX2 and FMA on amd64 and in portable Go elsewhere.
package vec

// SqDist returns Σ(a−b)². len(b) must be at least len(a).
func SqDist(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s float32
	i := 0
	if useAsm && n >= 8 {
		m := n &^ 7
		s = sqDistAVX2(&a[0], &b[0], m)
		i = m
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// WeightedL1 returns Σ w·|a−b|. b and w must be at least as long as a.
func WeightedL1(a, b, w []float32) float32 {
	n := len(a)
	b, w = b[:n], w[:n]
	var s float32
	i := 0
	if useAsm && n >= 8 {
		m := n &^ 7
		s = wL1AVX2(&a[0], &b[0], &w[0], m)
		i = m
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		if d < 0 {
			d = -d
		}
		s += w[i] * d
	}
	return s
}
