// Package gemm is the float32 matrix product used by the ops and by
// gorgonia's dense layers: GotoBLAS-style blocking and packing around a
// register-blocked micro-kernel in Go assembly, chosen at run time by the
// CPU's features: 12×32 with AVX-512, 6×16 with AVX2 and FMA, and portable
// Go elsewhere. It is 3–5× faster than gonum's pure-Go
// Sgemm on this project's machines; gonum remains the fallback for every
// other BLAS routine (see Implementation).
package gemm

import (
	"runtime"
	"sync"
)

const (
	kc = 256 // depth of a packed block
	mc = 144 // rows of a packed block of A (a multiple of every mr)
	nc = 2048

	maxMR, maxNR = 12, 32 // the largest micro-tile
)

// Path is a micro-kernel.
type Path int

// The micro-kernels, slowest first.
const (
	Generic Path = iota // portable Go, 6×16
	AVX2                // AVX2 with FMA, 6×16
	AVX512              // AVX-512F, 12×32
)

func (p Path) String() string { return [...]string{"go", "go-avx2", "go-avx512"}[p] }

// Best is the fastest micro-kernel this CPU runs.
func Best() Path {
	switch {
	case hasAVX512():
		return AVX512
	case hasAVX2FMA():
		return AVX2
	}
	return Generic
}

// The micro-kernel in use and its tile: mr rows by nr columns.
var (
	path   Path
	mr, nr int
)

func init() { Use(Best()) }

// Use makes p the micro-kernel (no faster than Best) and returns the one
// it replaces; tests and benchmarks compare paths with it. It must not
// run during a product.
func Use(p Path) Path {
	old := path
	path = min(p, Best())
	mr, nr = 6, 16
	if path == AVX512 {
		mr, nr = 12, 32
	}
	return old
}

// backend, when set (build tag openblas), replaces the Go kernels.
var (
	backend     func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	backendName string
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// op(A) m×k, op(B) k×n, C m×n with leading dimensions lda, ldb, ldc.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if backend != nil {
		backend(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	goSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Packer supplies op(B) of a product without B being stored: Pack writes
// op(B)[p0:p0+kb, j0:j0+nb] into dst as panels of nr columns, panel s
// holding for each p the values of columns s·nr … s·nr+nr−1 side by side
// (zero beyond nb). A convolution packs its input image this way (an
// implicit im2col), so the column matrix is never written. Pack must be
// safe for concurrent calls.
type Packer interface {
	Pack(p0, j0, kb, nb, nr int, dst []float32)
}

// Packs reports whether SgemmPacked runs without materialising B: true for
// the Go kernels, false under a BLAS backend (callers then store B and
// call Sgemm).
func Packs() bool { return backend == nil }

// SgemmPacked computes C = alpha·op(A)·B + beta·C where B (k×n) comes
// from a Packer. Under a BLAS backend it panics: check Packs first.
func SgemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, b Packer, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if backend != nil {
		panic("gemm: SgemmPacked under a BLAS backend")
	}
	product(transA, m, n, k, alpha, a, lda, source{packer: b}, beta, c, ldc)
}

// source is a product's B: stored (b, ldb, trans) or packed by a Packer.
type source struct {
	trans  bool
	b      []float32
	ldb    int
	packer Packer
}

func (s source) pack(p0, j0, kb, nb int, dst []float32) {
	if s.packer != nil {
		s.packer.Pack(p0, j0, kb, nb, nr, dst)
		return
	}
	packB(s.trans, s.b, s.ldb, p0, j0, kb, nb, dst)
}

// goSgemm is the pure-Go (and Go assembly) product.
func goSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	product(transA, m, n, k, alpha, a, lda, source{trans: transB, b: b, ldb: ldb}, beta, c, ldc)
}

func product(transA bool, m, n, k int, alpha float32, a []float32, lda int, b source, beta float32, c []float32, ldc int) {
	run(m, n, k, operand{trans: transA, a: a, lda: lda, alpha: alpha}, b, beta, c, ldc)
}

// operand is a product's A: stored (alpha·op(A)) or packed beforehand.
type operand struct {
	trans  bool
	a      []float32
	lda    int
	alpha  float32
	packed *PackedA
}

// pack returns the panels of op(A)[ic:ic+mb, pc:pc+kb], packed into buf or
// taken from the packed operand.
func (o operand) pack(ic, pc, mb, kb int, buf []float32) []float32 {
	if o.packed != nil {
		return o.packed.panels(ic, pc)
	}
	packA(o.trans, o.a, o.lda, ic, pc, mb, kb, o.alpha, buf)
	return buf
}

func run(m, n, k int, a operand, b source, beta float32, c []float32, ldc int) {
	empty := k == 0 || (a.packed == nil && a.alpha == 0)
	// With beta 0 the first block of depth stores its product rather than
	// adding it (set), so C is neither cleared nor read: clearing a
	// convolution's column matrix before the input's gradient wrote it was
	// 6% of a training step.
	set := beta == 0 && !empty
	if beta != 1 && !set {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if empty {
		return
	}
	workers := 1
	if flops := 2 * m * n * k; flops >= 4<<20 && n >= 2*nr {
		workers = min(runtime.GOMAXPROCS(0), (n+nr-1)/nr)
	}
	if workers == 1 {
		block(m, n, k, a, b, c, ldc, set, 0, n)
		return
	}
	// Split the columns in multiples of nr; each worker packs its own
	// panels. The calling goroutine takes the first part; the others go to
	// idle pool workers, or run here when none is idle.
	per := ((n+workers-1)/workers + nr - 1) / nr * nr
	startPool()
	wg := waitGroups.Get().(*sync.WaitGroup)
	defer waitGroups.Put(wg)
	for lo := per; lo < n; lo += per {
		t := task{m, n, k, a, b, c, ldc, set, lo, min(lo+per, n), wg}
		wg.Add(1)
		select {
		case tasks <- t:
		default:
			t.run()
		}
	}
	block(m, n, k, a, b, c, ldc, set, 0, min(per, n))
	wg.Wait()
}

// task is a part of a product's columns for a pool worker. Workers live
// for the process and tasks travel by value, so a product made in parallel
// allocates nothing (a goroutine and a closure per part did, at every
// product of every training step).
type task struct {
	m, n, k int
	a       operand
	b       source
	c       []float32
	ldc     int
	set     bool
	lo, hi  int
	done    *sync.WaitGroup
}

func (t task) run() {
	block(t.m, t.n, t.k, t.a, t.b, t.c, t.ldc, t.set, t.lo, t.hi)
	t.done.Done()
}

var (
	tasks      = make(chan task)
	poolOnce   sync.Once
	waitGroups = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

// startPool starts one worker per core the first time a product runs in
// parallel.
func startPool() {
	poolOnce.Do(func() {
		// Packing buffers for as many products as can run at once (a
		// caller and a worker per core), made now rather than the first
		// time that many overlap, which can be a thousand steps in.
		for range 2 * runtime.GOMAXPROCS(0) {
			spare.bufs = append(spare.bufs, newBuffers())
		}
		for i := 0; i < runtime.GOMAXPROCS(0); i++ {
			go func() {
				for t := range tasks {
					t.run()
				}
			}()
		}
	})
}

type buffers struct {
	a, b []float32
	tile [maxMR * maxNR]float32
}

// spare keeps the packing buffers between products. It is not a
// sync.Pool: a pool drops its contents at every collection, and 2.3 MB of
// buffers made again after each one is garbage a training loop can do
// without. It holds as many as ran at once.
var spare struct {
	sync.Mutex
	bufs []*buffers
}

func getBuffers() *buffers {
	spare.Lock()
	defer spare.Unlock()
	if n := len(spare.bufs); n > 0 {
		b := spare.bufs[n-1]
		spare.bufs = spare.bufs[:n-1]
		return b
	}
	return newBuffers()
}

func newBuffers() *buffers {
	return &buffers{a: make([]float32, mc*kc), b: make([]float32, kc*nc)}
}

// putBuffers keeps b for the next product. Nothing is dropped: the list
// holds as many sets as products ever ran at once (a few per core), and a
// set dropped when one more ran than usual was 2 MB of garbage to make again.
func putBuffers(b *buffers) {
	spare.Lock()
	defer spare.Unlock()
	spare.bufs = append(spare.bufs, b)
}

// block computes the columns [j0, j1) of C += alpha·op(A)·op(B), or of
// C = alpha·op(A)·op(B) when set.
func block(m, n, k int, a operand, b source, c []float32, ldc int, set bool, j0, j1 int) {
	buf := getBuffers()
	defer putBuffers(buf)
	for jc := j0; jc < j1; jc += nc {
		nb := min(nc, j1-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			first := set && pc == 0
			b.pack(pc, jc, kb, nb, buf.b)
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				pa := a.pack(ic, pc, mb, kb, buf.a)
				for jr := 0; jr < nb; jr += nr {
					bp := buf.b[(jr/nr)*kb*nr:]
					for ir := 0; ir < mb; ir += mr {
						ap := pa[(ir/mr)*kb*mr:]
						ci := (ic+ir)*ldc + jc + jr
						if ir+mr <= mb && jr+nr <= nb {
							kernel(kb, ap, bp, c[ci:], ldc, first)
							continue
						}
						// Edge tile: compute into a scratch tile, then add
						// (or, first, copy) the valid part.
						kernel(kb, ap, bp, buf.tile[:], nr, true)
						rows, cols := min(mr, mb-ir), min(nr, nb-jr)
						for i := 0; i < rows; i++ {
							dst := c[ci+i*ldc : ci+i*ldc+cols]
							if first {
								copy(dst, buf.tile[i*nr:])
								continue
							}
							for j := range dst {
								dst[j] += buf.tile[i*nr+j]
							}
						}
					}
				}
			}
		}
	}
}

// PackedA is alpha·op(A) packed once for many products with it: a
// convolution's filters are the same A for every image of a batch, and
// packing them again for each image cost a quarter of the face ResNet's
// time where an image has few output positions. The zero value is empty;
// Pack fills it, reusing its memory.
type PackedA struct {
	m, k, mr int
	data     []float32
	offs     []int // start of block (ic/mc, pc/kc), pc-major
}

// Pack packs alpha·op(A) (m×k, row-major with leading dimension lda, op
// transposing when trans) for the micro-kernel in use.
func (p *PackedA) Pack(trans bool, m, k int, alpha float32, a []float32, lda int) {
	p.m, p.k, p.mr = m, k, mr
	p.offs = p.offs[:0]
	size := 0
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		for ic := 0; ic < m; ic += mc {
			p.offs = append(p.offs, size)
			size += (min(mc, m-ic) + mr - 1) / mr * mr * kb
		}
	}
	if cap(p.data) < size {
		p.data = make([]float32, size)
	}
	p.data = p.data[:size]
	i := 0
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		for ic := 0; ic < m; ic += mc {
			packA(trans, a, lda, ic, pc, min(mc, m-ic), kb, alpha, p.data[p.offs[i]:])
			i++
		}
	}
}

func (p *PackedA) panels(ic, pc int) []float32 {
	return p.data[p.offs[(pc/kc)*((p.m+mc-1)/mc)+ic/mc]:]
}

// Mul computes C = A·op(B) + beta·C with A packed (m×k as packed), op(B)
// k×n stored row-major.
func (p *PackedA) Mul(transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p.mul(n, source{trans: transB, b: b, ldb: ldb}, beta, c, ldc)
}

// MulPacked is Mul with B from a Packer.
func (p *PackedA) MulPacked(n int, b Packer, beta float32, c []float32, ldc int) {
	p.mul(n, source{packer: b}, beta, c, ldc)
}

func (p *PackedA) mul(n int, b source, beta float32, c []float32, ldc int) {
	if p.m == 0 || n == 0 {
		return
	}
	if backend != nil {
		panic("gemm: PackedA under a BLAS backend")
	}
	if p.mr != mr {
		panic("gemm: PackedA used with another micro-kernel than it was packed for")
	}
	run(p.m, n, p.k, operand{packed: p}, b, beta, c, ldc)
}

// packA packs alpha·op(A)[i0:i0+mb, p0:p0+kb] into panels of mr rows:
// panel r holds, for each p, the mr values of rows r·mr…r·mr+mr−1 (zero
// beyond mb).
func packA(trans bool, a []float32, lda, i0, p0, mb, kb int, alpha float32, dst []float32) {
	for r := 0; r < mb; r += mr {
		panel := dst[(r/mr)*kb*mr : (r/mr+1)*kb*mr]
		rows := min(mr, mb-r)
		if rows < mr {
			clear(panel)
		}
		if trans {
			for p := 0; p < kb; p++ {
				src := a[(p0+p)*lda+i0+r:][:rows]
				out := panel[p*mr:][:rows]
				for i, v := range src {
					out[i] = alpha * v
				}
			}
			continue
		}
		for i := 0; i < rows; i++ {
			src := a[(i0+r+i)*lda+p0:][:kb]
			for p, v := range src {
				panel[p*mr+i] = alpha * v
			}
		}
	}
}

// packB packs op(B)[p0:p0+kb, j0:j0+nb] into panels of nr columns.
func packB(trans bool, b []float32, ldb, p0, j0, kb, nb int, dst []float32) {
	for s := 0; s < nb; s += nr {
		panel := dst[(s/nr)*kb*nr : (s/nr+1)*kb*nr]
		cols := min(nr, nb-s)
		if cols < nr {
			clear(panel)
		}
		if trans { // row j of B is column j of op(B): read it contiguously
			j := 0
			// Eight columns at a time: eight values side by side in the
			// panel for each p, not eight cache lines touched apart.
			for ; j+8 <= cols; j += 8 {
				s0 := b[(j0+s+j)*ldb+p0:][:kb]
				s1 := b[(j0+s+j+1)*ldb+p0:][:kb]
				s2 := b[(j0+s+j+2)*ldb+p0:][:kb]
				s3 := b[(j0+s+j+3)*ldb+p0:][:kb]
				s4 := b[(j0+s+j+4)*ldb+p0:][:kb]
				s5 := b[(j0+s+j+5)*ldb+p0:][:kb]
				s6 := b[(j0+s+j+6)*ldb+p0:][:kb]
				s7 := b[(j0+s+j+7)*ldb+p0:][:kb]
				for p := range kb {
					out := (*[8]float32)(panel[p*nr+j:])
					out[0], out[1], out[2], out[3] = s0[p], s1[p], s2[p], s3[p]
					out[4], out[5], out[6], out[7] = s4[p], s5[p], s6[p], s7[p]
				}
			}
			for ; j < cols; j++ {
				src := b[(j0+s+j)*ldb+p0:][:kb]
				for p, v := range src {
					panel[p*nr+j] = v
				}
			}
			continue
		}
		for p := 0; p < kb; p++ {
			copy(panel[p*nr:p*nr+cols], b[(p0+p)*ldb+j0+s:][:cols])
		}
	}
}

// kernel computes C[0:mr, 0:nr] += Σₚ a[p·mr+i]·b[p·nr+j], or C = the sum
// when set (C is then not read).
func kernel(kb int, a, b, c []float32, ldc int, set bool) {
	if path == Generic || kb == 0 {
		kernelGo(kb, a, b, c, ldc, set)
		return
	}
	_ = a[kb*mr-1]
	_ = b[kb*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	if path == AVX512 {
		kernelAVX512(kb, &a[0], &b[0], &c[0], ldc, set)
		return
	}
	kernelAVX2(kb, &a[0], &b[0], &c[0], ldc, set)
}

func kernelGo(kb int, a, b, c []float32, ldc int, set bool) {
	var acc [maxMR][maxNR]float32
	for p := 0; p < kb; p++ {
		bp := b[p*nr : p*nr+nr : p*nr+nr]
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		for i := 0; i < mr; i++ {
			ai := ap[i]
			row := &acc[i]
			for j := 0; j < nr; j++ {
				row[j] += ai * bp[j]
			}
		}
	}
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		if set {
			copy(row, acc[i][:nr])
			continue
		}
		for j := range row {
			row[j] += acc[i][j]
		}
	}
}

// Name says which kernel runs: "openblas", "go-avx512" or "go-avx2"
// (assembly), or "go" (portable).
func Name() string {
	if backendName != "" {
		return backendName
	}
	return path.String()
}
