package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The implicit im2col gives the forward pass and the filters' gradient the
// explicit one gives, value for value (the same panels reach the same
// kernel), over channel counts, sizes whose columns cross output rows inside a panel, and
// products large enough to be split across cores.
func TestImplicitIm2colMatchesExplicit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, g := range []convGeom{
		{n: 2, c: 1, h: 9, w: 7, f: 3, k: 3, s: 1},
		{n: 3, c: 4, h: 17, w: 13, f: 8, k: 4, s: 1},
		{n: 4, c: 1, h: 105, w: 105, f: 32, k: 10, s: 1},
		{n: 2, c: 16, h: 40, w: 11, f: 24, k: 3, s: 1},
		{n: 2, c: 3, h: 9, w: 7, f: 5, k: 3, s: 1, pad: 1},     // "same"
		{n: 3, c: 32, h: 35, w: 35, f: 32, k: 3, s: 1, pad: 1}, // the face ResNet's first blocks
		{n: 2, c: 4, h: 6, w: 11, f: 3, k: 5, s: 1, pad: 2},
		{n: 2, c: 2, h: 8, w: 8, f: 3, k: 3, s: 2, pad: 1},
		{n: 2, c: 3, h: 39, w: 37, f: 8, k: 7, s: 2},   // the face ResNet's first layer
		{n: 3, c: 16, h: 19, w: 19, f: 32, k: 3, s: 2}, // its down-sampling blocks
	} {
		g.oh, g.ow = (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		t.Run(fmt.Sprintf("%dx%dx%d-k%d-s%d-p%d", g.c, g.h, g.w, g.k, g.s, g.pad), func(t *testing.T) {
			x := make([]float32, g.n*g.c*g.h*g.w)
			w := make([]float32, g.f*g.ckk())
			b := make([]float32, g.f)
			for _, v := range [][]float32{x, w, b} {
				for i := range v {
					v[i] = rng.Float32()*2 - 1
				}
			}
			gy := make([]float32, g.n*g.f*g.p())
			for i := range gy {
				gy[i] = rng.Float32()*2 - 1
			}
			run := func(explicit bool) (y, dw []float32) {
				defer func(old bool) { explicitIm2col = old }(explicitIm2col)
				explicitIm2col = explicit
				var j, jw convJob[float32]
				var tmp, tmpw scratch
				y = make([]float32, g.n*g.f*g.p())
				convForward(&j, &tmp, g, true, x, w, b, y)
				dw = make([]float32, len(w))
				convBackward(&jw, &tmpw, g, 1, x, w, gy, dw)
				if want := !explicit && (g.s == 1 || gatherRuns > 0); j.implicit != want || jw.implicit != want {
					t.Fatalf("explicit=%v ran implicit=%v, %v", explicit, j.implicit, jw.implicit)
				}
				return y, dw
			}
			wantY, wantW := run(true)
			gotY, gotW := run(false)
			for i := range wantY {
				if gotY[i] != wantY[i] {
					t.Fatalf("y[%d] = %v implicit, %v explicit", i, gotY[i], wantY[i])
				}
			}
			for i := range wantW {
				if gotW[i] != wantW[i] {
					t.Fatalf("dW[%d] = %v implicit, %v explicit", i, gotW[i], wantW[i])
				}
			}
		})
	}
}

// BenchmarkImplicitGather times koch-half's convolutions (forward and the
// filters' gradient) with panels gathered past each count of runs (0:
// never, the per-run copies).
func BenchmarkImplicitGather(b *testing.B) {
	for _, g := range []convGeom{
		{n: 8, c: 1, h: 105, w: 105, f: 32, k: 10, s: 1},
		{n: 8, c: 32, h: 48, w: 48, f: 64, k: 7, s: 1},
		{n: 8, c: 64, h: 21, w: 21, f: 64, k: 4, s: 1},
		{n: 8, c: 64, h: 9, w: 9, f: 128, k: 4, s: 1},
	} {
		g.oh, g.ow = (g.h+2*g.pad-g.k)/g.s+1, (g.w+2*g.pad-g.k)/g.s+1
		x := make([]float32, g.n*g.c*g.h*g.w)
		w := make([]float32, g.f*g.ckk())
		bias := make([]float32, g.f)
		gy := make([]float32, g.n*g.f*g.p())
		y := make([]float32, len(gy))
		dw := make([]float32, len(w))
		for _, runs := range []int{0, 1, 2, 4} {
			for _, pass := range []string{"fwd", "backW"} {
				b.Run(fmt.Sprintf("%dx%d-k%d/%s/runs%d", g.c, g.h, g.k, pass, runs), func(b *testing.B) {
					defer func(old int) { gatherRuns = old }(gatherRuns)
					gatherRuns = runs
					var j convJob[float32]
					var tmp scratch
					for b.Loop() {
						if pass == "fwd" {
							convForward(&j, &tmp, g, true, x, w, bias, y)
						} else {
							convBackward(&j, &tmp, g, 1, x, w, gy, dw)
						}
					}
				})
			}
		}
	}
}
