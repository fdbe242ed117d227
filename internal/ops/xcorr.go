package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// XCorr cross-correlates each exemplar z[n] [C,Hz,Wz] over its search
// region x[n] [C,Hx,Wx] (valid positions, stride 1), summing over channels:
// the response map [N,1,Hx−Hz+1,Wx−Wz+1] of a SiamFC tracker. Both inputs
// get gradients.
func XCorr(z, x *G.Node) (*G.Node, error) {
	zs, xs := z.Shape(), x.Shape()
	if len(zs) != 4 || len(xs) != 4 || zs[0] != xs[0] || zs[1] != xs[1] || zs[2] > xs[2] || zs[3] > xs[3] {
		return nil, fmt.Errorf("xcorr: exemplar %v does not fit search region %v", zs, xs)
	}
	g := xcorrGeom{n: zs[0], c: zs[1], hz: zs[2], wz: zs[3], hx: xs[2], wx: xs[3]}
	g.ho, g.wo = g.hx-g.hz+1, g.wx-g.wz+1
	return G.ApplyOp(&xcorrOp{g: g, dt: z.Dtype()}, z, x)
}

type xcorrGeom struct{ n, c, hz, wz, hx, wx, ho, wo int }

type xcorrOp struct {
	pureOp
	g   xcorrGeom
	dt  tensor.Dtype
	out *tensor.Dense
}

func (op *xcorrOp) Arity() int { return 2 }
func (op *xcorrOp) Type() hm.Type {
	m := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(m, m, m)
}
func (op *xcorrOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.n, 1, op.g.ho, op.g.wo}, nil
}
func (op *xcorrOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *xcorrOp) Hashcode() uint32      { return hashOf(op) }
func (op *xcorrOp) String() string        { return fmt.Sprintf("XCorr%+v", op.g) }

func (op *xcorrOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.g.n, 1, op.g.ho, op.g.wo)
	switch op.dt {
	case tensor.Float32:
		xcorrForward(op.g, f32(inputs[0]), f32(inputs[1]), f32(op.out))
	case tensor.Float64:
		xcorrForward(op.g, f64(inputs[0]), f64(inputs[1]), op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("xcorr: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func xcorrForward[T Float](g xcorrGeom, z, x, r []T) {
	parallel(g.n, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			out := r[n*g.ho*g.wo : (n+1)*g.ho*g.wo]
			clear(out)
			for c := 0; c < g.c; c++ {
				zc := z[(n*g.c+c)*g.hz*g.wz:]
				xc := x[(n*g.c+c)*g.hx*g.wx:]
				for u := 0; u < g.hz; u++ {
					for v := 0; v < g.wz; v++ {
						w := zc[u*g.wz+v]
						for i := 0; i < g.ho; i++ {
							row := xc[(i+u)*g.wx+v : (i+u)*g.wx+v+g.wo]
							o := out[i*g.wo : (i+1)*g.wo]
							for j, xv := range row {
								o[j] += w * xv
							}
						}
					}
				}
			}
		}
	})
}

func (op *xcorrOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *xcorrOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 2)
	for i := range inputs {
		n, err := G.ApplyOp(&xcorrGradOp{x: op, wrt: i}, inputs[0], inputs[1], grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// xcorrGradOp is the gradient of an xcorrOp with respect to z (0) or x (1).
type xcorrGradOp struct {
	pureOp
	x   *xcorrOp
	wrt int
	out *tensor.Dense
}

func (op *xcorrGradOp) shape() tensor.Shape {
	g := op.x.g
	if op.wrt == 0 {
		return tensor.Shape{g.n, g.c, g.hz, g.wz}
	}
	return tensor.Shape{g.n, g.c, g.hx, g.wx}
}
func (op *xcorrGradOp) Arity() int { return 3 }
func (op *xcorrGradOp) Type() hm.Type {
	m := G.TensorType{Dims: 4, Of: op.x.dt}
	return hm.NewFnType(m, m, m, m)
}
func (op *xcorrGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op *xcorrGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *xcorrGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *xcorrGradOp) String() string                                 { return fmt.Sprintf("XCorrGrad%d%+v", op.wrt, op.x.g) }

func (op *xcorrGradOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.x.dt, op.shape()...)
	switch op.x.dt {
	case tensor.Float32:
		xcorrBackward(op.x.g, op.wrt, f32(inputs[0]), f32(inputs[1]), f32(inputs[2]), f32(op.out))
	case tensor.Float64:
		xcorrBackward(op.x.g, op.wrt, f64(inputs[0]), f64(inputs[1]), f64(inputs[2]), op.out.Data().([]float64))
	}
	return op.out, nil
}

// xcorrBackward: dz[u,v] = Σ_ij g[i,j]·x[i+u,j+v]; dx[i+u,j+v] += g[i,j]·z[u,v].
func xcorrBackward[T Float](g xcorrGeom, wrt int, z, x, gr, out []T) {
	clear(out)
	parallel(g.n, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			gn := gr[n*g.ho*g.wo : (n+1)*g.ho*g.wo]
			for c := 0; c < g.c; c++ {
				zo := (n*g.c + c) * g.hz * g.wz
				xo := (n*g.c + c) * g.hx * g.wx
				for u := 0; u < g.hz; u++ {
					for v := 0; v < g.wz; v++ {
						var s T
						zv := z[zo+u*g.wz+v]
						for i := 0; i < g.ho; i++ {
							gi := gn[i*g.wo : (i+1)*g.wo]
							base := xo + (i+u)*g.wx + v
							if wrt == 0 {
								for j, gv := range gi {
									s += gv * x[base+j]
								}
							} else {
								row := out[base : base+g.wo]
								for j, gv := range gi {
									row[j] += gv * zv
								}
							}
						}
						if wrt == 0 {
							out[zo+u*g.wz+v] = s
						}
					}
				}
			}
		}
	})
}
