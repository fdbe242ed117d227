package ops

import (
	"fmt"
	"hash"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/siamesenet/siamese/internal/vec"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2D is a k×k max-pool with stride k over x [N,C,H,W]; the output
// is [N,C,⌊H/k⌋,⌊W/k⌋].
func MaxPool2D(x *G.Node, k int) (*G.Node, error) { return MaxPool2DStrided(x, k, k) }

// MaxPool2DStrided is a k×k max-pool with the given stride and no padding
// (TensorFlow's "valid"): the output side is ⌊(H − k)/stride⌋ + 1.
func MaxPool2DStrided(x *G.Node, k, stride int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 || k < 1 || stride < 1 || s[2] < k || s[3] < k {
		return nil, fmt.Errorf("maxpool: input %v cannot be pooled by %d (stride %d)", s, k, stride)
	}
	return G.ApplyOp(&poolOp{n: s[0] * s[1], h: s[2], w: s[3], k: k, s: stride, shape: s.Clone(), dt: x.Dtype()}, x)
}

type poolOp struct {
	pureOp
	n, h, w, k int // n = N·C planes
	s          int // stride
	shape      tensor.Shape
	dt         tensor.Dtype
	out        *tensor.Dense
}

func (op *poolOp) oh() int { return (op.h-op.k)/op.s + 1 }
func (op *poolOp) ow() int { return (op.w-op.k)/op.s + 1 }

func (op *poolOp) outShape() tensor.Shape {
	return tensor.Shape{op.shape[0], op.shape[1], op.oh(), op.ow()}
}
func (op *poolOp) Arity() int { return 1 }
func (op *poolOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(t, t)
}
func (op *poolOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *poolOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *poolOp) Hashcode() uint32                               { return hashOf(op) }
func (op *poolOp) String() string                                 { return fmt.Sprintf("MaxPool{%v,%d,%d}", op.shape, op.k, op.s) }

func (op *poolOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.outShape()...)
	switch op.dt {
	case tensor.Float32:
		poolForward(op, f32(inputs[0]), f32(op.out))
	case tensor.Float64:
		poolForward(op, f64(inputs[0]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("maxpool: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func (op *poolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *poolOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&poolGradOp{pool: op}, inputs[0], grad)
	return G.Nodes{dx}, err
}

// argmax returns the index in x (one plane) of the maximum of window (oy, ox).
func argmax[T Float](op *poolOp, x []T, oy, ox int) int {
	best := (oy*op.s)*op.w + ox*op.s
	if op.k == 2 {
		b2 := best + op.w
		if x[best+1] > x[best] {
			best++
		}
		if x[b2+1] > x[b2] {
			b2++
		}
		if x[b2] > x[best] {
			best = b2
		}
		return best
	}
	for dy := 0; dy < op.k; dy++ {
		row := (oy*op.s+dy)*op.w + ox*op.s
		for dx := 0; dx < op.k; dx++ {
			if x[row+dx] > x[best] {
				best = row + dx
			}
		}
	}
	return best
}

func poolForward[T Float](op *poolOp, x, y []T) {
	oh, ow := op.oh(), op.ow()
	parallel(op.n, func(_, lo, hi int) {
		var cols [512]T // a window's column maxima (planes up to 512 wide)
		for pl := lo; pl < hi; pl++ {
			xp, yp := x[pl*op.h*op.w:(pl+1)*op.h*op.w], y[pl*oh*ow:(pl+1)*oh*ow]
			for oy := 0; oy < oh; oy++ {
				if op.k == 2 && op.s == 2 { // branch-free: the forward pass needs values, not indices
					r0, r1 := xp[2*oy*op.w:], xp[(2*oy+1)*op.w:]
					var zero T
					if unsafe.Sizeof(zero) == 4 { // the vector kernel
						vec.MaxPool2(as32(r0), as32(r1), as32(yp[oy*ow:(oy+1)*ow]))
						continue
					}
					for ox := 0; ox < ow; ox++ {
						yp[oy*ow+ox] = max(max(r0[2*ox], r0[2*ox+1]), max(r1[2*ox], r1[2*ox+1]))
					}
					continue
				}
				if op.w <= len(cols) {
					maxRows(op, xp, yp[oy*ow:(oy+1)*ow], oy, cols[:op.w])
					continue
				}
				for ox := 0; ox < ow; ox++ {
					yp[oy*ow+ox] = xp[argmax(op, xp, oy, ox)]
				}
			}
		}
	})
}

// maxRows writes output row oy of a plane's pool: the maximum of the
// window's rows, column by column, then of each window's columns. It
// finds the values the argmax path finds with about k²/(k+s)-fold fewer
// comparisons.
func maxRows[T Float](op *poolOp, xp, yr []T, oy int, cols []T) {
	copy(cols, xp[oy*op.s*op.w:][:op.w])
	for dy := 1; dy < op.k; dy++ {
		row := xp[(oy*op.s+dy)*op.w:][:op.w]
		for x, v := range row {
			cols[x] = max(cols[x], v)
		}
	}
	for ox := range yr {
		win := cols[ox*op.s : ox*op.s+op.k]
		m := win[0]
		for _, v := range win[1:] {
			m = max(m, v)
		}
		yr[ox] = m
	}
}

// poolGradOp routes the output gradient to the maximum of each window,
// found again from x.
type poolGradOp struct {
	pureOp
	pool *poolOp
	out  *tensor.Dense
}

func (op *poolGradOp) Arity() int { return 2 }
func (op *poolGradOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.pool.dt}
	return hm.NewFnType(t, t, t)
}
func (op *poolGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.pool.shape.Clone(), nil
}
func (op *poolGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *poolGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *poolGradOp) String() string        { return fmt.Sprintf("MaxPoolGrad{%v}", op.pool) }

func (op *poolGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.pool.dt, op.pool.shape...)
	switch op.pool.dt {
	case tensor.Float32:
		poolBackward(op.pool, f32(inputs[0]), f32(inputs[1]), f32(op.out))
	case tensor.Float64:
		poolBackward(op.pool, f64(inputs[0]), f64(inputs[1]), op.out.Data().([]float64))
	}
	return op.out, nil
}

func poolBackward[T Float](op *poolOp, x, dy, dx []T) {
	oh, ow := op.oh(), op.ow()
	parallel(op.n, func(_, lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xp, gp, dp := x[pl*op.h*op.w:(pl+1)*op.h*op.w], dy[pl*oh*ow:(pl+1)*oh*ow], dx[pl*op.h*op.w:(pl+1)*op.h*op.w]
			if op.k == 2 && op.s == 2 {
				// Every window writes its four values, so only what no
				// window covers (a last odd row or column) is cleared: a
				// clear of the whole plane first was a second pass over
				// memory the size of the first layer's output.
				for oy := 0; oy < oh; oy++ {
					poolBackward22(xp[2*oy*op.w:], dp[2*oy*op.w:], gp[oy*ow:(oy+1)*ow], op.w)
					if 2*ow < op.w {
						dp[2*oy*op.w+op.w-1], dp[(2*oy+1)*op.w+op.w-1] = 0, 0
					}
				}
				clear(dp[2*oh*op.w:])
				continue
			}
			clear(dp)
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					dp[argmax(op, xp, oy, ox)] += gp[oy*ow+ox]
				}
			}
		}
	})
}

// poolBackward22 writes the gradient of one row of 2×2 stride-2 windows
// into the two input rows under it: g at each window's maximum, zero at
// its other three places.
func poolBackward22[T Float](x, dx, g []T, w int) {
	r0, r1 := x[:w], x[w:2*w]
	d0, d1 := dx[:w], dx[w:2*w]
	for ox, gv := range g {
		a0, a1, c0, c1 := r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1]
		d0[2*ox], d0[2*ox+1], d1[2*ox], d1[2*ox+1] = 0, 0, 0, 0
		top := 2*ox + b2i(a1 > a0)
		bot := w + 2*ox + b2i(c1 > c0)
		at := top + b2i(max(c0, c1) > max(a0, a1))*(bot-top)
		dx[at] = gv
	}
}

func b2i(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}
