package ops

import (
	"math/rand/v2"
	"testing"
)

// The branch-free 2×2 backward routes each gradient where argmax does,
// ties included (ReLU outputs are full of zeros), on planes of odd and
// even sides, and writes every value of dx (it is not cleared first: here
// it starts full of garbage).
func TestPoolBackward22MatchesArgmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, side := range [][2]int{{2, 2}, {4, 6}, {5, 7}, {9, 8}} {
		h, w := side[0], side[1]
		op := &poolOp{n: 2, h: h, w: w, k: 2, s: 2}
		oh, ow := op.oh(), op.ow()
		for trial := 0; trial < 200; trial++ {
			x := make([]float32, op.n*h*w)
			for i := range x {
				x[i] = float32(rng.IntN(3)) // many ties
			}
			g := make([]float32, op.n*oh*ow)
			for i := range g {
				g[i] = float32(i + 1)
			}
			want, got := make([]float32, op.n*h*w), make([]float32, op.n*h*w)
			for i := range got {
				got[i] = -7
			}
			for pl := range op.n {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						want[pl*h*w+argmax(op, x[pl*h*w:], oy, ox)] += g[pl*oh*ow+oy*ow+ox]
					}
				}
			}
			poolBackward(op, x, g, got)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%d×%d, x %v: dx[%d] = %v, want %v", h, w, x, i, got[i], want[i])
				}
			}
		}
	}
}

// The forward pass's column-maxima path gives each window's maximum, the
// value argmax finds, for windows and strides that overlap, tile and skip,
// and planes wider than its buffer take the argmax path.
func TestPoolForwardMatchesArgmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, c := range []struct{ h, w, k, s int }{
		{72, 72, 3, 2}, {9, 7, 3, 1}, {9, 8, 2, 2}, {44, 44, 2, 2}, {5, 37, 2, 2}, {10, 11, 4, 3}, {5, 5, 5, 1}, {7, 9, 2, 1}, {3, 600, 3, 2},
	} {
		op := &poolOp{n: 3, h: c.h, w: c.w, k: c.k, s: c.s}
		oh, ow := op.oh(), op.ow()
		x := make([]float32, op.n*c.h*c.w)
		for i := range x {
			x[i] = float32(rng.IntN(7)) - 3
		}
		y := make([]float32, op.n*oh*ow)
		poolForward(op, x, y)
		for pl := 0; pl < op.n; pl++ {
			xp := x[pl*c.h*c.w:]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					if got, want := y[(pl*oh+oy)*ow+ox], xp[argmax(op, xp, oy, ox)]; got != want {
						t.Fatalf("%+v: y[%d][%d][%d] = %v, want %v", c, pl, oy, ox, got, want)
					}
				}
			}
		}
	}
}
