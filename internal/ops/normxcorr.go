package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// NormXCorr is XCorr normalised at every position into a cosine: the
// correlation of z[n] [C,Hz,Wz] over x[n] [C,Hx,Wx] divided by ‖z[n]‖ and
// by the norm of the search features under the window, √Σ w·x², each cell
// of the window weighted by w (len Hz·Wz; nil means ones). Both inputs
// get gradients. Responses lie in [−1, 1] whatever the features' scale, so
// bright or busy background does not outscore the target.
func NormXCorr(z, x *G.Node, w []float64) (*G.Node, error) {
	zs, xs := z.Shape(), x.Shape()
	if len(zs) != 4 || len(xs) != 4 || zs[0] != xs[0] || zs[1] != xs[1] || zs[2] > xs[2] || zs[3] > xs[3] {
		return nil, fmt.Errorf("normalised xcorr: exemplar %v does not fit search region %v", zs, xs)
	}
	g := xcorrGeom{n: zs[0], c: zs[1], hz: zs[2], wz: zs[3], hx: xs[2], wx: xs[3]}
	g.ho, g.wo = g.hx-g.hz+1, g.wx-g.wz+1
	if w == nil {
		w = make([]float64, g.hz*g.wz)
		for i := range w {
			w[i] = 1
		}
	}
	if len(w) != g.hz*g.wz {
		return nil, fmt.Errorf("normalised xcorr: %d window weights for a %d×%d exemplar", len(w), g.hz, g.wz)
	}
	return G.ApplyOp(&normXCorrOp{g: g, w: w, dt: z.Dtype()}, z, x)
}

// nxcEps keeps the norms away from zero.
const nxcEps = 1e-8

type normXCorrOp struct {
	pureOp
	g   xcorrGeom
	w   []float64
	dt  tensor.Dtype
	out *tensor.Dense
}

func (op *normXCorrOp) Arity() int { return 2 }
func (op *normXCorrOp) Type() hm.Type {
	m := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(m, m, m)
}
func (op *normXCorrOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.n, 1, op.g.ho, op.g.wo}, nil
}
func (op *normXCorrOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *normXCorrOp) Hashcode() uint32      { return hashOf(op) }
func (op *normXCorrOp) String() string        { return fmt.Sprintf("NormXCorr%+v%v", op.g, op.w) }

func (op *normXCorrOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.g.n, 1, op.g.ho, op.g.wo)
	switch op.dt {
	case tensor.Float32:
		nxc := newNXC[float32](op, f32(inputs[0]), f32(inputs[1]))
		nxc.forward(f32(op.out))
	case tensor.Float64:
		nxc := newNXC[float64](op, f64(inputs[0]), f64(inputs[1]))
		nxc.forward(op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("normalised xcorr: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

// nxc holds the parts of a normalised correlation: raw correlation s,
// window norms n (both [N,ho,wo]) and exemplar norms zn [N].
type nxc[T Float] struct {
	op   *normXCorrOp
	z, x []T
	s, n []T
	zn   []T
}

func newNXC[T Float](op *normXCorrOp, z, x []T) *nxc[T] {
	g := op.g
	k := &nxc[T]{op: op, z: z, x: x, s: make([]T, g.n*g.ho*g.wo), zn: make([]T, g.n)}
	xcorrForward(g, z, x, k.s)
	// Σ w·x² under each window: the correlation of w (every channel) over x².
	x2 := make([]T, len(x))
	for i, v := range x {
		x2[i] = v * v
	}
	wz := make([]T, len(z))
	for i := range wz {
		wz[i] = T(op.w[i%(g.hz*g.wz)])
	}
	k.n = make([]T, len(k.s))
	xcorrForward(g, wz, x2, k.n)
	for i, v := range k.n {
		k.n[i] = T(math.Sqrt(float64(v) + nxcEps))
	}
	per := g.c * g.hz * g.wz
	for n := 0; n < g.n; n++ {
		var s float64
		for _, v := range z[n*per : (n+1)*per] {
			s += float64(v) * float64(v)
		}
		k.zn[n] = T(math.Sqrt(s + nxcEps))
	}
	return k
}

func (k *nxc[T]) forward(r []T) {
	cells := k.op.g.ho * k.op.g.wo
	for i := range r {
		r[i] = k.s[i] / (k.zn[i/cells] * k.n[i])
	}
}

// backward returns the gradient with respect to z (wrt 0) or x (wrt 1) of
// the loss whose gradient with respect to the response is gr.
func (k *nxc[T]) backward(wrt int, gr, out []T) {
	g := k.op.g
	cells := g.ho * g.wo
	// r = s/(zn·n): ∂r/∂s = 1/(zn·n); ∂r/∂zn = −r/zn; ∂r/∂n = −r/n.
	gs := make([]T, len(gr))
	for i, v := range gr {
		gs[i] = v / (k.zn[i/cells] * k.n[i])
	}
	if wrt == 0 {
		xcorrBackward(g, 0, k.z, k.x, gs, out)
		// through zn = ‖z‖: ∂zn/∂z = z/zn
		per := g.c * g.hz * g.wz
		for n := 0; n < g.n; n++ {
			var acc T
			for i := n * cells; i < (n+1)*cells; i++ {
				acc += gr[i] * k.s[i] / (k.zn[n] * k.n[i])
			}
			acc /= k.zn[n] * k.zn[n]
			for j := n * per; j < (n+1)*per; j++ {
				out[j] -= acc * k.z[j]
			}
		}
		return
	}
	xcorrBackward(g, 1, k.z, k.x, gs, out)
	// through n = √Σ w·x²: ∂n/∂x_p = w·x_p/n, so add −x_p·Σ g·r/n²·w.
	gn := make([]T, len(gr))
	for i, v := range gr {
		r := k.s[i] / (k.zn[i/cells] * k.n[i])
		gn[i] = v * r / (k.n[i] * k.n[i])
	}
	wz := make([]T, len(k.z))
	for i := range wz {
		wz[i] = T(k.op.w[i%(g.hz*g.wz)])
	}
	tmp := make([]T, len(k.x))
	xcorrBackward(g, 1, wz, k.x, gn, tmp)
	for i := range out {
		out[i] -= k.x[i] * tmp[i]
	}
}

func (op *normXCorrOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *normXCorrOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 2)
	for i := range inputs {
		n, err := G.ApplyOp(&normXCorrGradOp{x: op, wrt: i}, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

type normXCorrGradOp struct {
	pureOp
	x   *normXCorrOp
	wrt int
	out *tensor.Dense
}

func (op *normXCorrGradOp) shape() tensor.Shape {
	g := op.x.g
	if op.wrt == 0 {
		return tensor.Shape{g.n, g.c, g.hz, g.wz}
	}
	return tensor.Shape{g.n, g.c, g.hx, g.wx}
}
func (op *normXCorrGradOp) Arity() int { return 3 }
func (op *normXCorrGradOp) Type() hm.Type {
	m := G.TensorType{Dims: 4, Of: op.x.dt}
	return hm.NewFnType(m, m, m, m)
}
func (op *normXCorrGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op *normXCorrGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *normXCorrGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *normXCorrGradOp) String() string                                 { return fmt.Sprintf("Grad%d%s", op.wrt, op.x) }

func (op *normXCorrGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.x.dt, op.shape()...)
	switch op.x.dt {
	case tensor.Float32:
		newNXC[float32](op.x, f32(inputs[0]), f32(inputs[1])).backward(op.wrt, f32(inputs[2]), f32(op.out))
	case tensor.Float64:
		newNXC[float64](op.x, f64(inputs[0]), f64(inputs[1])).backward(op.wrt, f64(inputs[2]), op.out.Data().([]float64))
	}
	return op.out, nil
}

// NormXCorrInto computes NormXCorr for one exemplar z [C,hz,wz] over one
// map x [C,hx,wx] into r [ho·wo] without a graph (trackers, Head.Score).
//
// It is the op's forward pass rearranged for one map: the window norms
// come from the channels' sum of squares (one map) correlated with w,
// instead of w correlated over every channel of x², and the output rows
// are split across cores (the op splits a batch by map, and here there is
// one). The sums run in another order, so values differ from the op's by
// rounding only.
func NormXCorrInto(z, x []float32, c, hz, wz, hx, wx int, w []float64, r []float32) {
	ho, wo := hx-hz+1, wx-wz+1
	var zz float64
	for _, v := range z[:c*hz*wz] {
		zz += float64(v) * float64(v)
	}
	zn := math.Sqrt(zz + nxcEps)
	x2 := make([]float32, hx*wx) // Σ_c x², per pixel
	for ch := 0; ch < c; ch++ {
		for i, v := range x[ch*hx*wx : (ch+1)*hx*wx] {
			x2[i] += v * v
		}
	}
	parallel(ho, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			o := r[i*wo : (i+1)*wo]
			clear(o)
			for ch := 0; ch < c; ch++ {
				zc := z[ch*hz*wz:]
				xc := x[ch*hx*wx:]
				for u := 0; u < hz; u++ {
					xr := xc[(i+u)*wx:]
					for v := 0; v < wz; v++ {
						zv := zc[u*wz+v]
						row := xr[v : v+wo]
						for j, xv := range row {
							o[j] += zv * xv
						}
					}
				}
			}
			for j := range o {
				var n float64
				for u := 0; u < hz; u++ {
					for v := 0; v < wz; v++ {
						wt := 1.0
						if w != nil {
							wt = w[u*wz+v]
						}
						n += wt * float64(x2[(i+u)*wx+j+v])
					}
				}
				o[j] = float32(float64(o[j]) / (zn * math.Sqrt(n+nxcEps)))
			}
		}
	})
}
