// Package ops holds custom gorgonia ops that replace stock ones where those
// are slow or memory-hungry: a convolution (any stride, zero padding) with
// bias and optional ReLU fused, max- and average pools, and the residual
// shortcut of a ResNet. Each op works image by image
// with a reused im2col buffer, writes straight into NCHW, splits the batch
// across cores and keeps its output buffers from one run to the next.
package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/siamesenet/siamese/internal/gemm"
	"github.com/siamesenet/siamese/internal/vec"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGeom is the geometry of a convolution: stride s, pad zeros on every
// side.
type convGeom struct {
	n, c, h, w int // input
	f, k       int // filters, kernel side
	s, pad     int // stride, zero padding on each side
	oh, ow     int // output
}

// plain reports a valid, stride-1 convolution (the fast im2col path).
func (g convGeom) plain() bool { return g.s == 1 && g.pad == 0 }

func (g convGeom) ckk() int { return g.c * g.k * g.k }
func (g convGeom) p() int   { return g.oh * g.ow }

// Conv2D applies y = [ReLU](conv(x, w) + b) with x [N,C,H,W], w [F,C,K,K],
// b [1,F,1,1] (valid, stride 1).
func Conv2D(x, w, b *G.Node, relu bool) (*G.Node, error) {
	return Conv2DStrided(x, w, b, 1, 0, relu)
}

// Conv2DStrided is Conv2D with a stride and pad zeros on every side of the
// input: the output side is ⌊(H + 2·pad − K)/stride⌋ + 1. TensorFlow's
// "same" padding for an odd kernel at stride 1 is pad = K/2; "valid" is 0.
func Conv2DStrided(x, w, b *G.Node, stride, pad int, relu bool) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] || ws[2] != ws[3] {
		return nil, fmt.Errorf("conv2d: input %v and filter %v do not fit", xs, ws)
	}
	if stride < 1 || pad < 0 || pad >= ws[2] {
		return nil, fmt.Errorf("conv2d: stride %d and padding %d for kernel %d", stride, pad, ws[2])
	}
	g := convGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], f: ws[0], k: ws[2], s: stride, pad: pad}
	if g.h+2*pad >= g.k && g.w+2*pad >= g.k {
		g.oh, g.ow = (g.h+2*pad-g.k)/stride+1, (g.w+2*pad-g.k)/stride+1
	}
	if g.oh < 1 || g.ow < 1 {
		return nil, fmt.Errorf("conv2d: input %v is smaller than kernel %d", xs, g.k)
	}
	if bs := b.Shape(); bs.TotalSize() != g.f {
		return nil, fmt.Errorf("conv2d: bias %v for %d filters", bs, g.f)
	}
	return G.ApplyOp(&convOp{g: g, relu: relu, dt: x.Dtype()}, x, w, b)
}

type convOp struct {
	pureOp
	g    convGeom
	relu bool
	dt   tensor.Dtype
	out  *tensor.Dense
	tmp  scratch
	jobs convJobs
}

func (op *convOp) Arity() int { return 3 }
func (op *convOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(t, t, G.TensorType{Dims: 4, Of: op.dt}, t)
}
func (op *convOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.n, op.g.f, op.g.oh, op.g.ow}, nil
}
func (op *convOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *convOp) Hashcode() uint32      { return hashOf(op) }
func (op *convOp) String() string {
	return fmt.Sprintf("Conv2D{%+v,relu=%v}", op.g, op.relu)
}

// pureOp holds the answers every op of this package shares: it returns a
// value of its own (a buffer kept between runs), calls no C and overwrites
// no input.
type pureOp struct{}

func (pureOp) ReturnsPtr() bool     { return false }
func (pureOp) CallsExtern() bool    { return false }
func (pureOp) OverwritesInput() int { return -1 }

// buffer allocates an op's output on its first run; later runs reuse it.
func buffer(t **tensor.Dense, dt tensor.Dtype, shape ...int) {
	if *t == nil {
		*t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
}

func hashOf(s fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, s.String())
	return h.Sum32()
}

func (op *convOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.g.n, op.g.f, op.g.oh, op.g.ow)
	switch op.dt {
	case tensor.Float32:
		convForward(&op.jobs.f32, &op.tmp, op.g, op.relu, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(op.out))
	case tensor.Float64:
		convForward(&op.jobs.f64, &op.tmp, op.g, op.relu, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("conv2d: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func (op *convOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w, b := inputs[0], inputs[1], inputs[2]
	if op.relu { // mask the gradient once for the three gradient ops
		var err error
		if grad, err = G.ApplyOp(&reluGradOp{dt: op.dt, shape: output.Shape().Clone()}, output, grad); err != nil {
			return nil, err
		}
	}
	dx, err := G.ApplyOp(&convGradOp{conv: op, wrt: 0, shape: x.Shape()}, x, w, output, grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&convGradOp{conv: op, wrt: 1, shape: w.Shape()}, x, w, output, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(&convGradOp{conv: op, wrt: 2, shape: b.Shape()}, x, w, output, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// convGradOp computes the gradient of a convOp with respect to one of its
// inputs (0: x, 1: w, 2: b) from x, w, the forward output and the gradient
// of the pre-activation (already masked by ReLU).
type convGradOp struct {
	pureOp
	conv  *convOp
	wrt   int
	shape tensor.Shape
	out   *tensor.Dense
	tmp   scratch
	jobs  convJobs
}

func (op *convGradOp) Arity() int { return 4 }
func (op *convGradOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.conv.dt}
	return hm.NewFnType(t, t, t, t, G.TensorType{Dims: op.shape.Dims(), Of: op.conv.dt})
}
func (op *convGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *convGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *convGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *convGradOp) String() string {
	return fmt.Sprintf("Conv2DGrad{%v,wrt=%d}", op.conv, op.wrt)
}

func (op *convGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.conv.dt, op.shape...)
	g := op.conv.g
	switch op.conv.dt {
	case tensor.Float32:
		convBackward(&op.jobs.f32, &op.tmp, g, op.wrt, f32(inputs[0]), f32(inputs[1]), f32(inputs[3]), f32(op.out))
	case tensor.Float64:
		convBackward(&op.jobs.f64, &op.tmp, g, op.wrt, f64(inputs[0]), f64(inputs[1]), f64(inputs[3]), op.out.Data().([]float64))
	}
	return op.out, nil
}

// f32 is a value's float32 data. A tensor's is read through Float32s,
// without Data's boxing of the slice in an interface: that boxing was an
// allocation per call, a fifth of a training step's garbage.
func f32(v G.Value) []float32 {
	if t, ok := v.(interface{ Float32s() []float32 }); ok {
		return t.Float32s()
	}
	return v.Data().([]float32)
}
func f64(v G.Value) []float64 { return v.Data().([]float64) }

// parallel runs fn(lo, hi) over a static split of [0, n) across cores, so
// that every run makes the same split (deterministic sums).
// The first part runs on the caller; the others go to workers that live
// for the process (a goroutine and its closure per part were garbage at
// every op of every step), or run on the caller when none is idle.
func parallel(n int, fn func(worker, lo, hi int)) int {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 0 {
		return workers
	}
	var wg *sync.WaitGroup
	if workers > 1 {
		startWorkers()
		wg = waitGroups.Get().(*sync.WaitGroup)
		defer waitGroups.Put(wg)
	}
	for wk := 1; wk < workers; wk++ {
		p := part{fn, wk, wk * n / workers, (wk + 1) * n / workers, wg}
		wg.Add(1)
		select {
		case parts <- p:
		default:
			p.run()
		}
	}
	fn(0, 0, n/workers)
	if wg != nil {
		wg.Wait()
	}
	return workers
}

// part is one worker's share of a parallel call, sent by value.
type part struct {
	fn         func(worker, lo, hi int)
	wk, lo, hi int
	wg         *sync.WaitGroup
}

func (p part) run() {
	defer p.wg.Done()
	p.fn(p.wk, p.lo, p.hi)
}

var (
	parts       = make(chan part)
	workersOnce sync.Once
	waitGroups  = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

func startWorkers() {
	workersOnce.Do(func() {
		for range runtime.GOMAXPROCS(0) {
			go func() {
				for p := range parts {
					p.run()
				}
			}()
		}
	})
}

// im2col writes the K×K patches of one image x [C,H,W] as the columns of
// col [C·K·K, OH·OW].
func im2col[T Float](g convGeom, x, col []T) {
	if !g.plain() {
		im2colStrided(g, x, col)
		return
	}
	p := g.p()
	for c := 0; c < g.c; c++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := col[((c*g.k+ky)*g.k+kx)*p:]
				for oy := 0; oy < g.oh; oy++ {
					src := x[(c*g.h+oy+ky)*g.w+kx:]
					copy(row[oy*g.ow:(oy+1)*g.ow], src[:g.ow])
				}
			}
		}
	}
}

// col2im adds the columns of col back into dx [C,H,W].
func col2im[T Float](g convGeom, col, dx []T) {
	if !g.plain() {
		col2imStrided(g, col, dx)
		return
	}
	p := g.p()
	for c := 0; c < g.c; c++ {
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				row := col[((c*g.k+ky)*g.k+kx)*p:]
				for oy := 0; oy < g.oh; oy++ {
					addInto(dx[(c*g.h+oy+ky)*g.w+kx:][:g.ow], row[oy*g.ow:(oy+1)*g.ow])
				}
			}
		}
	}
}

// addInto adds src into dst, float32 with the vector kernel.
func addInto[T Float](dst, src []T) {
	var zero T
	if unsafe.Sizeof(zero) == 4 {
		vec.Add(as32(dst), as32(src))
		return
	}
	for i := range dst {
		dst[i] += src[i]
	}
}

// span returns the output positions o in [lo, hi) whose input position
// o·s + k − pad lies inside [0, n).
func span(n, out, s, k, pad int) (lo, hi int) {
	if d := pad - k; d > 0 {
		lo = (d + s - 1) / s
	}
	if last := n - 1 + pad - k; last >= 0 {
		hi = min(out, last/s+1)
	}
	return lo, max(hi, lo)
}

// im2colStrided is im2col for any stride and padding: positions that fall
// in the padding read zero.
func im2colStrided[T Float](g convGeom, x, col []T) {
	p := g.p()
	for c := 0; c < g.c; c++ {
		plane := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := 0; ky < g.k; ky++ {
			ylo, yhi := span(g.h, g.oh, g.s, ky, g.pad)
			for kx := 0; kx < g.k; kx++ {
				xlo, xhi := span(g.w, g.ow, g.s, kx, g.pad)
				row := col[((c*g.k+ky)*g.k+kx)*p:][:p]
				for oy := 0; oy < g.oh; oy++ {
					dst := row[oy*g.ow : (oy+1)*g.ow]
					if oy < ylo || oy >= yhi {
						clear(dst)
						continue
					}
					src := plane[(oy*g.s+ky-g.pad)*g.w:]
					clear(dst[:xlo])
					clear(dst[xhi:])
					if g.s == 1 {
						copy(dst[xlo:xhi], src[xlo+kx-g.pad:])
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						dst[ox] = src[ox*g.s+kx-g.pad]
					}
				}
			}
		}
	}
}

// col2imStrided is col2im for any stride and padding.
func col2imStrided[T Float](g convGeom, col, dx []T) {
	p := g.p()
	for c := 0; c < g.c; c++ {
		plane := dx[c*g.h*g.w : (c+1)*g.h*g.w]
		for ky := 0; ky < g.k; ky++ {
			ylo, yhi := span(g.h, g.oh, g.s, ky, g.pad)
			for kx := 0; kx < g.k; kx++ {
				xlo, xhi := span(g.w, g.ow, g.s, kx, g.pad)
				row := col[((c*g.k+ky)*g.k+kx)*p:][:p]
				for oy := ylo; oy < yhi; oy++ {
					src := row[oy*g.ow : (oy+1)*g.ow]
					dst := plane[(oy*g.s+ky-g.pad)*g.w:]
					for ox := xlo; ox < xhi; ox++ {
						dst[ox*g.s+kx-g.pad] += src[ox]
					}
				}
			}
		}
	}
}

// convJob holds one conv pass's arguments for its parallel parts. An op
// keeps its jobs, and each job its part functions (method values made
// once), so a pass hands its parts to the workers without making a
// closure: closures were most of a training step's remaining garbage.
type convJob[T Float] struct {
	tmp               *scratch
	g                 convGeom
	relu              bool
	x, w, b, gy, out  []T
	parts             [][]T
	fwd, backX, backW func(wk, lo, hi int)
	in, osz, p, ckk   int

	// The implicit im2col of float32 stride-1 passes: one packer per
	// worker, sharing the offsets of the geometry geo (the padded image's
	// when the convolution pads: each image is then copied once into a
	// zero-bordered buffer and packed from there).
	implicit   bool
	packers    []imagePacker
	geo        convGeom
	kOff, nOff []int
	kOff32     []int32
	nOff32     []int32

	// The filters packed once for the micro-kernel (W for the forward
	// pass, Wᵀ for the input's gradient), shared by every image of the
	// batch: float32 under the Go product.
	prepacked bool
	pw        gemm.PackedA
}

// convJobs are an op's jobs, one per dtype.
type convJobs struct {
	f32 convJob[float32]
	f64 convJob[float64]
}

func (j *convJob[T]) set(tmp *scratch, g convGeom, x, w, out []T) {
	if j.fwd == nil {
		j.fwd, j.backX, j.backW = j.forwardPart, j.backXPart, j.backWPart
	}
	if n := runtime.GOMAXPROCS(0); len(j.parts) < n {
		j.parts = make([][]T, n)
	}
	j.tmp, j.g, j.x, j.w, j.out = tmp, g, x, w, out
	j.in, j.osz, j.p, j.ckk = g.c*g.h*g.w, g.f*g.p(), g.p(), g.ckk()
}

// useImplicit chooses the implicit im2col for a pass: float32 and the Go
// product (a BLAS backend needs B stored); strided only with the vector
// gather (gatherRuns > 0): at stride 2 every column is a run of one value,
// and gathered value by value that cost more than the explicit path (the
// face ResNet embedded 10% slower), while the vector gather takes 5–7%
// off its CPU time (embedding and training, AMD EPYC, AVX2). A padded
// convolution packs from a padded copy of each image (geometry
// padded(g)), which costs c·(h+2·pad)·(w+2·pad) copies against the
// explicit im2col's c·k²·oh·ow.
func (j *convJob[T]) useImplicit(g convGeom) {
	var zero T
	j.implicit = unsafe.Sizeof(zero) == 4 && (g.s == 1 || gatherRuns > 0) && gemm.Packs() && !explicitIm2col
	if !j.implicit {
		return
	}
	if pg := padded(g); j.kOff == nil || j.geo != pg {
		j.kOff, j.nOff, j.kOff32, j.nOff32 = offsets(pg)
		j.geo = pg
	}
	if n := runtime.GOMAXPROCS(0); len(j.packers) < n {
		j.packers = make([]imagePacker, n)
	}
}

// packFilters packs op(W) once for the pass's products when it can.
func (j *convJob[T]) packFilters(trans bool, m, k int) {
	var zero T
	j.prepacked = unsafe.Sizeof(zero) == 4 && gemm.Packs()
	if j.prepacked {
		j.pw.Pack(trans, m, k, 1, as32(j.w), j.ckk)
	}
}

// explicitIm2col turns the implicit im2col off (tests compare the paths).
var explicitIm2col bool

// padded is g on its zero-padded input: the same output, no padding.
func padded(g convGeom) convGeom {
	g.h, g.w = g.h+2*g.pad, g.w+2*g.pad
	g.pad = 0
	return g
}

// image returns image n of the pass for the implicit packer of worker wk:
// the input itself, or, when the convolution pads, its copy inside a zero
// border in the worker's buffer.
func (j *convJob[T]) image(wk, n int) []float32 {
	x := as32(j.x[n*j.in : (n+1)*j.in])
	g := j.g
	if g.pad == 0 {
		return x
	}
	pg := j.geo
	buf := get[float32](j.tmp, 3*wk+1, pg.c*pg.h*pg.w)
	for c := range g.c {
		plane := buf[c*pg.h*pg.w : (c+1)*pg.h*pg.w]
		clear(plane[:g.pad*pg.w])
		clear(plane[(g.pad+g.h)*pg.w:])
		for y := range g.h {
			row := plane[(g.pad+y)*pg.w : (g.pad+y+1)*pg.w]
			clear(row[:g.pad])
			copy(row[g.pad:], x[(c*g.h+y)*g.w:(c*g.h+y+1)*g.w])
			clear(row[g.pad+g.w:])
		}
	}
	return buf
}

func convForward[T Float](j *convJob[T], tmp *scratch, g convGeom, relu bool, x, w, b, y []T) {
	j.set(tmp, g, x, w, y)
	j.relu, j.b = relu, b
	j.useImplicit(g)
	j.packFilters(false, g.f, g.ckk())
	parallel(g.n, j.fwd)
}

func (j *convJob[T]) forwardPart(wk, lo, hi int) {
	g, in, out, p, ckk, y := j.g, j.in, j.osz, j.p, j.ckk, j.out
	var col []T
	if !j.implicit {
		col = get[T](j.tmp, wk, ckk*p)
	}
	for n := lo; n < hi; n++ {
		yn := y[n*out : (n+1)*out]
		if j.prepacked { // float32: the product, then bias and ReLU in one vector pass
			if j.implicit {
				pk := &j.packers[wk]
				pk.x, pk.rows, pk.cols, pk.cols32 = j.image(wk, n), j.kOff, j.nOff, j.nOff32
				j.pw.MulPacked(p, pk, 0, as32(yn), p)
			} else {
				im2col(g, j.x[n*in:(n+1)*in], col)
				j.pw.Mul(false, p, as32(col), p, 0, as32(yn), p)
			}
			y32, b32 := as32(yn), as32(j.b)
			for f := range g.f {
				vec.Bias(y32[f*p:(f+1)*p], b32[f], j.relu)
			}
			continue
		}
		for f := 0; f < g.f; f++ {
			row := yn[f*p : (f+1)*p]
			for i := range row {
				row[i] = j.b[f]
			}
		}
		im2col(g, j.x[n*in:(n+1)*in], col)
		matmul(false, false, g.f, p, ckk, 1, j.w, ckk, col, p, 1, yn, p)
		if j.relu {
			for i, v := range yn {
				yn[i] = max(v, 0)
			}
		}
	}
}

// backXPart: dx = col2im(Wᵀ·g).
func (j *convJob[T]) backXPart(wk, lo, hi int) {
	g, in, osz, p, ckk := j.g, j.in, j.osz, j.p, j.ckk
	col := get[T](j.tmp, 3*wk, ckk*p)
	for n := lo; n < hi; n++ {
		if j.prepacked {
			j.pw.Mul(false, p, as32(j.gy[n*osz:(n+1)*osz]), p, 0, as32(col), p)
		} else {
			matmul(true, false, ckk, p, g.f, 1, j.w, ckk, j.gy[n*osz:(n+1)*osz], p, 0, col, p)
		}
		dx := j.out[n*in : (n+1)*in]
		if g.s == 1 && g.pad > 0 {
			// Add into a zero-padded image with the unpadded col2im's row
			// loops, then keep its inside: the padded col2im tests every
			// position against the border.
			pg := padded(g)
			buf := get[T](j.tmp, 3*wk+1, pg.c*pg.h*pg.w)
			clear(buf)
			col2im(pg, col, buf)
			for c := range g.c {
				for y := range g.h {
					copy(dx[(c*g.h+y)*g.w:][:g.w], buf[(c*pg.h+y+g.pad)*pg.w+g.pad:])
				}
			}
			continue
		}
		col2im(g, col, dx)
	}
}

// backWPart: this worker's partial sum of dW = Σₙ gₙ·colₙᵀ.
func (j *convJob[T]) backWPart(wk, lo, hi int) {
	g, in, osz, p, ckk := j.g, j.in, j.osz, j.p, j.ckk
	var col []T
	if !j.implicit {
		col = get[T](j.tmp, 3*wk, ckk*p)
	}
	part := get[T](j.tmp, 3*wk+2, g.f*ckk)
	clear(part)
	for n := lo; n < hi; n++ {
		if j.implicit { // colᵀ packed from the image
			pk := &j.packers[wk]
			pk.x, pk.rows, pk.cols, pk.cols32 = j.image(wk, n), j.nOff, j.kOff, j.kOff32
			gemm.SgemmPacked(false, g.f, ckk, p, 1, as32(j.gy[n*osz:(n+1)*osz]), p, pk, 1, as32(part), ckk)
			continue
		}
		im2col(g, j.x[n*in:(n+1)*in], col)
		matmul(false, true, g.f, ckk, p, 1, j.gy[n*osz:(n+1)*osz], p, col, p, 1, part, ckk)
	}
	j.parts[wk] = part
}

func convBackward[T Float](j *convJob[T], tmp *scratch, g convGeom, wrt int, x, w, gy, out []T) {
	osz, p := g.f*g.p(), g.p()
	switch wrt {
	case 0:
		clear(out)
		j.set(tmp, g, x, w, out)
		j.gy = gy
		j.packFilters(true, g.ckk(), g.f)
		parallel(g.n, j.backX)
	case 1:
		j.set(tmp, g, x, w, out)
		j.gy = gy
		j.useImplicit(g)
		workers := parallel(g.n, j.backW)
		parts := j.parts
		copy(out, parts[0])
		for wk := 1; wk < workers; wk++ {
			for i, v := range parts[wk] {
				out[i] += v
			}
		}
	case 2: // db = Σₙ,ₚ g
		clear(out)
		for n := 0; n < g.n; n++ {
			for f := 0; f < g.f; f++ {
				var s T
				for _, v := range gy[n*osz+f*p : n*osz+(f+1)*p] {
					s += v
				}
				out[f] += s
			}
		}
	}
}

// reluGradOp masks a gradient by a ReLU output: g·[y > 0].
type reluGradOp struct {
	pureOp
	dt    tensor.Dtype
	shape tensor.Shape
	out   *tensor.Dense
}

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	t := G.TensorType{Dims: op.shape.Dims(), Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *reluGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *reluGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *reluGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *reluGradOp) String() string                                 { return fmt.Sprintf("ReLUGrad{%v}", op.shape) }

func (op *reluGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.shape...)
	return op.mask(inputs[0], inputs[1], op.out), nil
}

// mask writes g·[y > 0] into out and returns it.
func (op *reluGradOp) mask(y, g, out G.Value) G.Value {
	switch op.dt {
	case tensor.Float32:
		reluMask(f32(y), f32(g), f32(out))
	case tensor.Float64:
		reluMask(f64(y), f64(g), f64(out))
	}
	return out
}

// InPlaceInput implements core.InPlaceDoer: the gradient, masked where it
// lies.
func (op *reluGradOp) InPlaceInput() int { return 1 }

// DoInPlace implements core.InPlaceDoer.
func (op *reluGradOp) DoInPlace(inputs ...G.Value) (G.Value, error) {
	return op.mask(inputs[0], inputs[1], inputs[1]), nil
}

func reluMask[T Float](y, dy, out []T) {
	if y32, ok := any(y).([]float32); ok {
		reluMask32(y32, any(dy).([]float32), any(out).([]float32))
		return
	}
	parallel(len(y)/4096+1, func(_, lo, hi int) {
		lo, hi = lo*4096, min(hi*4096, len(y))
		for i := lo; i < hi; i++ {
			v := dy[i]
			if y[i] <= 0 {
				v = 0
			}
			out[i] = v
		}
	})
}

// reluMask32 is reluMask without branches: y is a ReLU output (≥ 0 or
// −0), so y > 0 exactly when its bits, sign cleared, are not zero.
func reluMask32(y, dy, out []float32) {
	parallel(len(y)/4096+1, func(_, lo, hi int) {
		lo, hi = lo*4096, min(hi*4096, len(y))
		ys, ds, os := y[lo:hi], dy[lo:hi], out[lo:hi]
		for i := range ys {
			yb := int32(math.Float32bits(ys[i]) &^ (1 << 31))
			m := uint32((yb | -yb) >> 31)
			os[i] = math.Float32frombits(math.Float32bits(ds[i]) & m)
		}
	})
}
