// Package vec has the float32 vector kernels behind search over cached
// embeddings: squared Euclidean distance and weighted L1 distance, of one
// pair or of a query against many rows, and the element-wise passes of the
// convolution (col2im's sums, bias and ReLU). On amd64 they are Go assembly,
// chosen at run time by the CPU's features: AVX-512 where the machine has
// it, else AVX2 with FMA, else portable Go.
package vec

// Path is a set of kernels.
type Path int

// The kernel paths, slowest first.
const (
	Generic Path = iota // portable Go
	AVX2                // AVX2 with FMA
	AVX512              // AVX-512F
)

func (p Path) String() string {
	return [...]string{"generic", "avx2", "avx512"}[p]
}

// Best is the fastest path this CPU runs.
func Best() Path {
	switch {
	case hasAVX512:
		return AVX512
	case hasAVX2:
		return AVX2
	}
	return Generic
}

// path is the one in use; tests force the others.
var path = Best()

// Current is the path in use.
func Current() Path { return path }

// Use makes p the path in use (no faster than Best) and returns the one
// it replaces; tests and benchmarks use it to compare paths.
func Use(p Path) Path {
	old := path
	path = min(p, Best())
	return old
}

// SqDist returns Σ(a−b)². len(b) must be at least len(a).
func SqDist(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s float32
	i := 0
	if path >= AVX2 && n >= 8 {
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
	if path >= AVX2 && n >= 8 {
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

// SqDistRows writes Σ(q−r)² into out[i] for each row r of db: row i is
// db[i·len(q) : (i+1)·len(q)], for the len(out) rows db must hold.
func SqDistRows(q, db, out []float32) {
	d, n := len(q), len(out)
	if n == 0 {
		return
	}
	db = db[:n*d]
	if path == AVX512 && d >= 16 && d%16 == 0 {
		sqDistRowsAVX512(&q[0], &db[0], &out[0], d, n)
		return
	}
	for i := range out {
		out[i] = SqDist(q, db[i*d:(i+1)*d])
	}
}

// WeightedL1Rows writes Σ w·|q−r| into out[i] for each row r of db, laid
// out as in SqDistRows. w must be at least as long as q.
func WeightedL1Rows(q, db, w, out []float32) {
	d, n := len(q), len(out)
	if n == 0 {
		return
	}
	db, w = db[:n*d], w[:d]
	if path == AVX512 && d >= 16 && d%16 == 0 {
		wL1RowsAVX512(&q[0], &db[0], &w[0], &out[0], d, n)
		return
	}
	for i := range out {
		out[i] = WeightedL1(q, db[i*d:(i+1)*d], w)
	}
}

// Add adds src into dst element by element (dst += src); src must be at
// least as long as dst. The convolution's col2im is made of these.
func Add(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	if path >= AVX2 && n >= 8 {
		m := n &^ 7
		addAVX2(&dst[0], &src[0], m)
		i = m
	}
	for ; i < n; i++ {
		dst[i] += src[i]
	}
}

// Bias adds b to every element of dst, then, when relu, replaces each
// by max(·, 0), keeping NaN: a convolution's bias and ReLU in one pass.
func Bias(dst []float32, b float32, relu bool) {
	n := len(dst)
	i := 0
	if path >= AVX2 && n >= 8 {
		m := n &^ 7
		biasAVX2(&dst[0], b, m, relu)
		i = m
	}
	for ; i < n; i++ {
		v := dst[i] + b
		if relu && v < 0 { // NaN is not below 0: it stays
			v = 0
		}
		dst[i] = v
	}
}

// MaxPool2 writes one output row of a 2×2, stride-2 max-pool: out[i] is
// the largest of r0[2i], r0[2i+1], r1[2i] and r1[2i+1]. r0 and r1 must
// hold at least 2·len(out) values. (Where a window holds a NaN the result
// is not specified.)
func MaxPool2(r0, r1, out []float32) {
	n := len(out)
	r0, r1 = r0[:2*n], r1[:2*n]
	i := 0
	if path >= AVX2 && n >= 8 {
		m := n &^ 7
		maxPool2AVX2(&r0[0], &r1[0], &out[0], m)
		i = m
	}
	for ; i < n; i++ {
		out[i] = max(max(r0[2*i], r0[2*i+1]), max(r1[2*i], r1[2*i+1]))
	}
}

// Gather writes x[rows[q]+idx[t]] into dst[q·len(idx)+t] for every q and
// t: a panel of len(rows) rows, each the values at the offsets idx from its
// row's start. The implicit im2col packs with it where the runs of
// adjacent offsets are short (a kernel row in the transposed column
// matrix). Offsets must be non-negative and land inside x; dst must hold
// len(rows)·len(idx) values.
func Gather(dst, x []float32, rows []int, idx []int32) {
	nr, kb := len(idx), len(rows)
	if nr == 0 || kb == 0 {
		return
	}
	dst = dst[:kb*nr]
	lo, hi := int32(0), int32(0)
	for _, o := range idx {
		lo, hi = min(lo, o), max(hi, o)
	}
	rlo, rhi := rows[0], rows[0]
	for _, r := range rows {
		rlo, rhi = min(rlo, r), max(rhi, r)
	}
	if lo < 0 || rlo < 0 || rhi+int(hi) >= len(x) {
		panic("vec: Gather offset outside x")
	}
	switch {
	case path == AVX512 && nr%16 == 0:
		gatherAVX512(&dst[0], &x[0], &rows[0], kb, &idx[0], nr)
		return
	case path >= AVX2 && nr%8 == 0:
		gatherAVX2(&dst[0], &x[0], &rows[0], kb, &idx[0], nr)
		return
	}
	for q, r := range rows {
		out, src := dst[q*nr:][:nr], x[r:]
		for t, o := range idx {
			out[t] = src[o]
		}
	}
}
