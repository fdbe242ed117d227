package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Shortcut closes a residual block: ReLU(y + s(x)) for the block's
// convolution branch y [N,F,h,w] and its input x [N,C,H,W].
//
// Without down, s is the identity (C = F, h = H, w = W). With down, s is a
// 2×2 stride-2 average pool with zero channels appended up to F (C ≤ F),
// and a branch that comes out smaller than the pooled shortcut is padded
// with zero rows at the bottom and zero columns at the right — the
// down-sampling block of dlib's face ResNet as face-api.js writes it.
func Shortcut(y, x *G.Node, down bool) (*G.Node, error) {
	ys, xs := y.Shape(), x.Shape()
	if len(ys) != 4 || len(xs) != 4 || ys[0] != xs[0] {
		return nil, fmt.Errorf("shortcut: branch %v and input %v do not fit", ys, xs)
	}
	op := &shortcutOp{y: ys.Clone(), x: xs.Clone(), down: down, dt: y.Dtype()}
	op.oh, op.ow = xs[2], xs[3]
	if down {
		if xs[2] < 2 || xs[3] < 2 {
			return nil, fmt.Errorf("shortcut: input %v is too small to pool", xs)
		}
		op.oh, op.ow = (xs[2]-2)/2+1, (xs[3]-2)/2+1
	}
	switch {
	case !down && (ys[1] != xs[1] || ys[2] != xs[2] || ys[3] != xs[3]):
		return nil, fmt.Errorf("shortcut: branch %v and input %v differ", ys, xs)
	case down && (ys[1] < xs[1] || ys[2] > op.oh || ys[3] > op.ow):
		return nil, fmt.Errorf("shortcut: branch %v does not fit the pooled input %v", ys, xs)
	}
	return G.ApplyOp(op, y, x)
}

type shortcutOp struct {
	pureOp
	y, x   tensor.Shape
	down   bool
	oh, ow int
	dt     tensor.Dtype
	out    *tensor.Dense
}

func (op *shortcutOp) outShape() tensor.Shape {
	return tensor.Shape{op.y[0], op.y[1], op.oh, op.ow}
}
func (op *shortcutOp) Arity() int { return 2 }
func (op *shortcutOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(t, t, t)
}
func (op *shortcutOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *shortcutOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *shortcutOp) Hashcode() uint32                               { return hashOf(op) }
func (op *shortcutOp) String() string {
	return fmt.Sprintf("Shortcut{%v,%v,down=%v}", op.y, op.x, op.down)
}

func (op *shortcutOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.outShape()...)
	switch op.dt {
	case tensor.Float32:
		shortcutForward(op, f32(inputs[0]), f32(inputs[1]), f32(op.out))
	case tensor.Float64:
		shortcutForward(op, f64(inputs[0]), f64(inputs[1]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("shortcut: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

// planes calls fn for every (image, output channel) plane, split across
// cores.
func (op *shortcutOp) planes(fn func(n, f int)) {
	nf := op.y[0] * op.y[1]
	parallel(nf, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(i/op.y[1], i%op.y[1])
		}
	})
}

func shortcutForward[T Float](op *shortcutOp, y, x, out []T) {
	F, hy, wy := op.y[1], op.y[2], op.y[3]
	C, H, W := op.x[1], op.x[2], op.x[3]
	op.planes(func(n, f int) {
		o := out[(n*F+f)*op.oh*op.ow:][:op.oh*op.ow]
		yp := y[(n*F+f)*hy*wy:][:hy*wy]
		clear(o)
		for i := 0; i < hy; i++ {
			copy(o[i*op.ow:i*op.ow+wy], yp[i*wy:(i+1)*wy])
		}
		if f < C {
			xp := x[(n*C+f)*H*W:][:H*W]
			for i := 0; i < op.oh; i++ {
				row := o[i*op.ow : (i+1)*op.ow]
				if !op.down {
					for j, v := range xp[i*W : (i+1)*W] {
						row[j] += v
					}
					continue
				}
				r0, r1 := xp[2*i*W:], xp[(2*i+1)*W:]
				for j := range row {
					row[j] += (r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]) / 4
				}
			}
		}
		for i, v := range o {
			o[i] = max(v, 0)
		}
	})
}

func (op *shortcutOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *shortcutOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	m, err := G.ApplyOp(&reluGradOp{dt: op.dt, shape: output.Shape().Clone()}, output, grad)
	if err != nil {
		return nil, err
	}
	// Where a gradient is m itself (a branch as large as the output, an
	// identity shortcut), it is m, not a copy of it: two batch-sized
	// buffers and copies fewer per identity block.
	dy, dx := m, m
	if !op.y.Eq(op.outShape()) {
		if dy, err = G.ApplyOp(&shortcutGradOp{sc: op, wrt: 0}, m); err != nil {
			return nil, err
		}
	}
	if op.down {
		if dx, err = G.ApplyOp(&shortcutGradOp{sc: op, wrt: 1}, m); err != nil {
			return nil, err
		}
	}
	return G.Nodes{dy, dx}, nil
}

// shortcutGradOp takes the ReLU-masked output gradient back to the branch
// (wrt 0: cropped) or to the input of a down-sampling shortcut (wrt 1:
// spread over each pooling window). Where either is the gradient itself,
// SymDiff uses it with no op.
type shortcutGradOp struct {
	pureOp
	sc  *shortcutOp
	wrt int
	out *tensor.Dense
}

func (op *shortcutGradOp) shape() tensor.Shape {
	if op.wrt == 0 {
		return op.sc.y.Clone()
	}
	return op.sc.x.Clone()
}
func (op *shortcutGradOp) Arity() int { return 1 }
func (op *shortcutGradOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: op.sc.dt}
	return hm.NewFnType(t, t)
}
func (op *shortcutGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op *shortcutGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *shortcutGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *shortcutGradOp) String() string {
	return fmt.Sprintf("ShortcutGrad{%v,wrt=%d}", op.sc, op.wrt)
}

func (op *shortcutGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.sc.dt, op.shape()...)
	switch op.sc.dt {
	case tensor.Float32:
		shortcutBackward(op.sc, op.wrt, f32(inputs[0]), f32(op.out))
	case tensor.Float64:
		shortcutBackward(op.sc, op.wrt, f64(inputs[0]), op.out.Data().([]float64))
	}
	return op.out, nil
}

func shortcutBackward[T Float](op *shortcutOp, wrt int, m, out []T) {
	F, hy, wy := op.y[1], op.y[2], op.y[3]
	C, H, W := op.x[1], op.x[2], op.x[3]
	if wrt == 0 {
		op.planes(func(n, f int) {
			mp := m[(n*F+f)*op.oh*op.ow:]
			o := out[(n*F+f)*hy*wy:][:hy*wy]
			for i := 0; i < hy; i++ {
				copy(o[i*wy:(i+1)*wy], mp[i*op.ow:i*op.ow+wy])
			}
		})
		return
	}
	op.planes(func(n, f int) {
		if f >= C {
			return
		}
		mp := m[(n*F+f)*op.oh*op.ow:][:op.oh*op.ow]
		o := out[(n*C+f)*H*W:][:H*W]
		clear(o)
		for i := 0; i < op.oh; i++ {
			r0, r1 := o[2*i*W:], o[(2*i+1)*W:]
			for j, g := range mp[i*op.ow : (i+1)*op.ow] {
				g /= 4
				r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1] = g, g, g, g
			}
		}
	})
}

// GlobalAvgPool averages each channel of x [N,C,H,W] over its H·W
// positions: the output is [N,C].
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("global average pool: want [N,C,H,W], got %v", s)
	}
	return G.ApplyOp(&gapOp{shape: s.Clone(), dt: x.Dtype()}, x)
}

type gapOp struct {
	pureOp
	shape tensor.Shape
	dt    tensor.Dtype
	grad  bool // the gradient: [N,C] back to [N,C,H,W]
	out   *tensor.Dense
}

func (op *gapOp) outShape() tensor.Shape {
	if op.grad {
		return op.shape.Clone()
	}
	return tensor.Shape{op.shape[0], op.shape[1]}
}
func (op *gapOp) Arity() int { return 1 }
func (op *gapOp) Type() hm.Type {
	in, out := G.TensorType{Dims: 4, Of: op.dt}, G.TensorType{Dims: 2, Of: op.dt}
	if op.grad {
		in, out = out, in
	}
	return hm.NewFnType(in, out)
}
func (op *gapOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *gapOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *gapOp) Hashcode() uint32                               { return hashOf(op) }
func (op *gapOp) String() string                                 { return fmt.Sprintf("GlobalAvgPool{%v,grad=%v}", op.shape, op.grad) }

func (op *gapOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.outShape()...)
	switch op.dt {
	case tensor.Float32:
		gap(op, f32(inputs[0]), f32(op.out))
	case tensor.Float64:
		gap(op, f64(inputs[0]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("global average pool: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func gap[T Float](op *gapOp, in, out []T) {
	hw := op.shape[2] * op.shape[3]
	scale := 1 / T(hw)
	for p := 0; p < op.shape[0]*op.shape[1]; p++ {
		if op.grad {
			g := in[p] * scale
			for i := range out[p*hw : (p+1)*hw] {
				out[p*hw+i] = g
			}
			continue
		}
		var s T
		for _, v := range in[p*hw : (p+1)*hw] {
			s += v
		}
		out[p] = s * scale
	}
}

func (op *gapOp) DiffWRT(int) []bool { return []bool{true} }

func (op *gapOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&gapOp{shape: op.shape, dt: op.dt, grad: true}, grad)
	return G.Nodes{dx}, err
}
