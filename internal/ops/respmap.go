package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CenterCrop keeps the central h×w window of every map of x [N,C,H,W]
// (offsets ⌊(H−h)/2⌋, ⌊(W−w)/2⌋). Its gradient scatters back into a zero
// map. A SiamFC exemplar is the centre of the features of a search-sized
// crop around the target.
func CenterCrop(x *G.Node, h, w int) (*G.Node, error) { return WeightedCenterCrop(x, h, w, nil) }

// WeightedCenterCrop is CenterCrop with each cell of the window multiplied
// by weight (len h·w, the same for every map; nil means ones).
func WeightedCenterCrop(x *G.Node, h, w int, weight []float64) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 || h < 1 || w < 1 || h > s[2] || w > s[3] {
		return nil, fmt.Errorf("center crop: %d×%d does not fit %v", h, w, s)
	}
	if weight != nil && len(weight) != h*w {
		return nil, fmt.Errorf("center crop: %d weights for a %d×%d window", len(weight), h, w)
	}
	op := &cropOp{n: s[0], c: s[1], hi: s[2], wi: s[3], h: h, w: w, weight: weight, dt: x.Dtype()}
	return G.ApplyOp(op, x)
}

type cropOp struct {
	pureOp
	n, c, hi, wi, h, w int
	weight             []float64
	dt                 tensor.Dtype
	out                *tensor.Dense
}

func (op *cropOp) Arity() int { return 1 }
func (op *cropOp) Type() hm.Type {
	m := G.TensorType{Dims: 4, Of: op.dt}
	return hm.NewFnType(m, m)
}
func (op *cropOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.c, op.h, op.w}, nil
}
func (op *cropOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *cropOp) Hashcode() uint32      { return hashOf(op) }
func (op *cropOp) String() string {
	return fmt.Sprintf("CenterCrop{%d,%d,%d×%d→%d×%d,%v}", op.n, op.c, op.hi, op.wi, op.h, op.w, op.weight)
}

func (op *cropOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.n, op.c, op.h, op.w)
	switch op.dt {
	case tensor.Float32:
		cropCopy(op, f32(inputs[0]), f32(op.out), false)
	case tensor.Float64:
		cropCopy(op, f64(inputs[0]), op.out.Data().([]float64), false)
	default:
		return nil, fmt.Errorf("center crop: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

// cropCopy copies the window of big into small, or (back) small into the
// window of a zeroed big, times the weights.
func cropCopy[T Float](op *cropOp, big, small []T, back bool) {
	top, left := (op.hi-op.h)/2, (op.wi-op.w)/2
	if back {
		clear(big)
	}
	for m := 0; m < op.n*op.c; m++ {
		for i := 0; i < op.h; i++ {
			b := big[m*op.hi*op.wi+(top+i)*op.wi+left:][:op.w]
			s := small[(m*op.h+i)*op.w:][:op.w]
			if back {
				copy(b, s)
			} else {
				copy(s, b)
			}
			if op.weight != nil {
				dst := s
				if back {
					dst = b
				}
				for j := range dst {
					dst[j] *= T(op.weight[i*op.w+j])
				}
			}
		}
	}
}

func (op *cropOp) DiffWRT(int) []bool { return []bool{true} }

func (op *cropOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	g, err := G.ApplyOp(&cropGradOp{crop: op}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{g}, nil
}

type cropGradOp struct {
	pureOp
	crop *cropOp
	out  *tensor.Dense
}

func (op *cropGradOp) Arity() int { return 1 }
func (op *cropGradOp) Type() hm.Type {
	m := G.TensorType{Dims: 4, Of: op.crop.dt}
	return hm.NewFnType(m, m)
}
func (op *cropGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	c := op.crop
	return tensor.Shape{c.n, c.c, c.hi, c.wi}, nil
}
func (op *cropGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *cropGradOp) Hashcode() uint32      { return hashOf(op) }
func (op *cropGradOp) String() string        { return "Grad" + op.crop.String() }

func (op *cropGradOp) Do(inputs ...G.Value) (G.Value, error) {
	c := op.crop
	buffer(&op.out, c.dt, c.n, c.c, c.hi, c.wi)
	switch c.dt {
	case tensor.Float32:
		cropCopy(c, f32(op.out), f32(inputs[0]), true)
	case tensor.Float64:
		cropCopy(c, op.out.Data().([]float64), f64(inputs[0]), true)
	}
	return op.out, nil
}

// MapGeom describes the response maps of a batch of pairs: P maps of H×W,
// each read as scale·r + bias.
type MapGeom struct {
	P, H, W int
	Scale   float64
	Radius  float64 // positives lie within Radius cells of the centre
}

// Label returns the logistic label (+1 or −1) of cell (i, j) of a map of
// a pair labelled y (1 = the target is at the centre, 0 = it is absent),
// and the cell's weight: positives and negatives of a positive map weigh
// half each; a negative map's cells weigh the same.
func (g MapGeom) Label(y float64, i, j int) (label, weight float64) {
	npos := g.positives()
	if y < 0.5 || npos == 0 {
		return -1, 1 / float64(g.H*g.W)
	}
	if g.inside(i, j) {
		return 1, 0.5 / float64(npos)
	}
	return -1, 0.5 / float64(g.H*g.W-npos)
}

func (g MapGeom) inside(i, j int) bool {
	ci, cj := float64(g.H-1)/2, float64(g.W-1)/2
	di, dj := float64(i)-ci, float64(j)-cj
	return math.Sqrt(di*di+dj*dj) <= g.Radius
}

func (g MapGeom) positives() int {
	n := 0
	for i := 0; i < g.H; i++ {
		for j := 0; j < g.W; j++ {
			if g.inside(i, j) {
				n++
			}
		}
	}
	return n
}

// MapLoss is the balanced logistic loss of SiamFC (Bertinetto et al. 2016)
// over response maps r [P,1,H,W] read as scale·r + bias (bias [1]), with
// labels y [P]: the mean over pairs of Σ weight·log(1+exp(−label·s)).
// r and bias get gradients; y does not.
func MapLoss(r, bias, y *G.Node, scale, radius float64) (*G.Node, error) {
	rs := r.Shape()
	if len(rs) != 4 || rs[1] != 1 || bias.Shape().TotalSize() != 1 || y.Shape().TotalSize() != rs[0] {
		return nil, fmt.Errorf("map loss: maps %v, bias %v, labels %v", rs, bias.Shape(), y.Shape())
	}
	op := &mapLossOp{g: MapGeom{P: rs[0], H: rs[2], W: rs[3], Scale: scale, Radius: radius}, dt: r.Dtype()}
	return G.ApplyOp(op, r, bias, y)
}

type mapLossOp struct {
	pureOp
	g  MapGeom
	dt tensor.Dtype
}

func (op *mapLossOp) Arity() int { return 3 }
func (op *mapLossOp) Type() hm.Type {
	return hm.NewFnType(G.TensorType{Dims: 4, Of: op.dt}, G.TensorType{Dims: 1, Of: op.dt}, G.TensorType{Dims: 1, Of: op.dt}, op.dt)
}
func (op *mapLossOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *mapLossOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *mapLossOp) Hashcode() uint32      { return hashOf(op) }
func (op *mapLossOp) String() string        { return fmt.Sprintf("MapLoss%+v", op.g) }

func (op *mapLossOp) Do(inputs ...G.Value) (G.Value, error) {
	switch op.dt {
	case tensor.Float32:
		l := mapLoss(op.g, f32(inputs[0]), float64(f32(inputs[1])[0]), f32(inputs[2]), nil, nil)
		return G.NewF32(float32(l)), nil
	case tensor.Float64:
		l := mapLoss(op.g, f64(inputs[0]), f64(inputs[1])[0], f64(inputs[2]), nil, nil)
		return G.NewF64(l), nil
	}
	return nil, fmt.Errorf("map loss: unsupported dtype %v", op.dt)
}

// mapLoss returns the loss and, when dr or db is not nil, writes its
// gradients with respect to r and bias (times 1, the caller scales).
func mapLoss[T Float](g MapGeom, r []T, bias float64, y []T, dr []T, db *float64) float64 {
	var loss float64
	cells := g.H * g.W
	for p := 0; p < g.P; p++ {
		for i := 0; i < g.H; i++ {
			for j := 0; j < g.W; j++ {
				k := p*cells + i*g.W + j
				lab, w := g.Label(float64(y[p]), i, j)
				m := -lab * (g.Scale*float64(r[k]) + bias)
				loss += w * softplus(m)
				// d softplus(m)/ds = −label·σ(m)
				d := w * -lab * sigmoid(m) / float64(g.P)
				if dr != nil {
					dr[k] = T(d * g.Scale)
				}
				if db != nil {
					*db += d
				}
			}
		}
	}
	return loss / float64(g.P)
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func (op *mapLossOp) DiffWRT(int) []bool { return []bool{true, true, false} }

func (op *mapLossOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, 3)
	for i := 0; i < 2; i++ {
		n, err := G.ApplyOp(&mapLossGradOp{loss: op, wrt: i}, inputs[0], inputs[1], inputs[2], grad)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// mapLossGradOp is the gradient of a mapLossOp with respect to the maps
// (0) or the bias (1).
type mapLossGradOp struct {
	pureOp
	loss *mapLossOp
	wrt  int
	out  *tensor.Dense
}

func (op *mapLossGradOp) shape() tensor.Shape {
	if op.wrt == 1 {
		return tensor.Shape{1}
	}
	g := op.loss.g
	return tensor.Shape{g.P, 1, g.H, g.W}
}
func (op *mapLossGradOp) Arity() int { return 4 }
func (op *mapLossGradOp) Type() hm.Type {
	dt := op.loss.dt
	ret := G.TensorType{Dims: 4, Of: dt}
	if op.wrt == 1 {
		ret = G.TensorType{Dims: 1, Of: dt}
	}
	return hm.NewFnType(G.TensorType{Dims: 4, Of: dt}, G.TensorType{Dims: 1, Of: dt}, G.TensorType{Dims: 1, Of: dt}, dt, ret)
}
func (op *mapLossGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape(), nil }
func (op *mapLossGradOp) WriteHash(h hash.Hash)                          { fmt.Fprint(h, op.String()) }
func (op *mapLossGradOp) Hashcode() uint32                               { return hashOf(op) }
func (op *mapLossGradOp) String() string                                 { return fmt.Sprintf("Grad%d%s", op.wrt, op.loss) }

func (op *mapLossGradOp) Do(inputs ...G.Value) (G.Value, error) {
	g := op.loss.g
	buffer(&op.out, op.loss.dt, op.shape()...)
	up := scalarOf(inputs[3])
	var db float64
	switch op.loss.dt {
	case tensor.Float32:
		out := f32(op.out)
		if op.wrt == 0 {
			mapLoss(g, f32(inputs[0]), float64(f32(inputs[1])[0]), f32(inputs[2]), out, nil)
			for k := range out {
				out[k] *= float32(up)
			}
		} else {
			mapLoss[float32](g, f32(inputs[0]), float64(f32(inputs[1])[0]), f32(inputs[2]), nil, &db)
			out[0] = float32(db * up)
		}
	case tensor.Float64:
		out := op.out.Data().([]float64)
		if op.wrt == 0 {
			mapLoss(g, f64(inputs[0]), f64(inputs[1])[0], f64(inputs[2]), out, nil)
			for k := range out {
				out[k] *= up
			}
		} else {
			mapLoss[float64](g, f64(inputs[0]), f64(inputs[1])[0], f64(inputs[2]), nil, &db)
			out[0] = db * up
		}
	}
	return op.out, nil
}

// MapScore turns each response map r [P,1,H,W] into one similarity
// σ(scale·max r + bias) [P]: how strongly the exemplar appears anywhere in
// the search region. It has no gradient (scores are for evaluation).
func MapScore(r, bias *G.Node, scale float64) (*G.Node, error) {
	rs := r.Shape()
	if len(rs) != 4 || rs[1] != 1 || bias.Shape().TotalSize() != 1 {
		return nil, fmt.Errorf("map score: maps %v, bias %v", rs, bias.Shape())
	}
	return G.ApplyOp(&mapScoreOp{g: MapGeom{P: rs[0], H: rs[2], W: rs[3], Scale: scale}, dt: r.Dtype()}, r, bias)
}

type mapScoreOp struct {
	pureOp
	g   MapGeom
	dt  tensor.Dtype
	out *tensor.Dense
}

func (op *mapScoreOp) Arity() int { return 2 }
func (op *mapScoreOp) Type() hm.Type {
	v := G.TensorType{Dims: 1, Of: op.dt}
	return hm.NewFnType(G.TensorType{Dims: 4, Of: op.dt}, v, v)
}
func (op *mapScoreOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.P}, nil
}
func (op *mapScoreOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op *mapScoreOp) Hashcode() uint32      { return hashOf(op) }
func (op *mapScoreOp) String() string        { return fmt.Sprintf("MapScore%+v", op.g) }
func (op *mapScoreOp) DiffWRT(int) []bool    { return []bool{false, false} }
func (op *mapScoreOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("map score has no gradient")
}

func (op *mapScoreOp) Do(inputs ...G.Value) (G.Value, error) {
	buffer(&op.out, op.dt, op.g.P)
	switch op.dt {
	case tensor.Float32:
		mapScore(op.g, f32(inputs[0]), float64(f32(inputs[1])[0]), f32(op.out))
	case tensor.Float64:
		mapScore(op.g, f64(inputs[0]), f64(inputs[1])[0], op.out.Data().([]float64))
	default:
		return nil, fmt.Errorf("map score: unsupported dtype %v", op.dt)
	}
	return op.out, nil
}

func mapScore[T Float](g MapGeom, r []T, bias float64, out []T) {
	cells := g.H * g.W
	for p := range out {
		best := math.Inf(-1)
		for _, v := range r[p*cells : (p+1)*cells] {
			best = max(best, float64(v))
		}
		out[p] = T(sigmoid(g.Scale*best + bias))
	}
}

// Sigmoid is the logistic function, computed without overflow.
func Sigmoid(x float64) float64 { return sigmoid(x) }

// scalarOf reads the value of a scalar (or one-element) upstream gradient.
func scalarOf(v G.Value) float64 {
	switch d := v.Data().(type) {
	case float32:
		return float64(d)
	case float64:
		return d
	case []float32:
		return float64(d[0])
	case []float64:
		return d[0]
	}
	return math.NaN()
}
