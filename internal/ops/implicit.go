package ops

import (
	"unsafe"

	"github.com/siamesenet/siamese/internal/vec"
)

// imagePacker is an implicit im2col: it hands the product the column
// matrix of one unpadded image (row k = (c, ky, kx), column n = output
// position) or its transpose, packed straight from the image into the
// product's panels. The explicit path wrote the ckk × p column matrix and
// the product then copied it again into panels; here each value is copied
// once, and runs of adjacent columns (an output row at stride 1, a kernel
// row in the transpose) are copied as slices, and panels of several runs
// are gathered with the vector gather. Element (i, j) is
// x[rows[i] + cols[j]].
type imagePacker struct {
	x          []float32 // one image, c×h×w
	rows, cols []int     // the offsets kOff and nOff, or nOff and kOff for the transpose
	cols32     []int32   // cols as the gather's offsets
}

// gatherRuns: a full panel of more runs of adjacent columns than this goes
// through vec.Gather (0: never). The gather halves the filters' gradient
// of koch-half's convolutions (kernel rows of 4–10 values) and is even
// with the per-run copies on the forward pass (BenchmarkImplicitGather).
var gatherRuns = 1

// offsets are a geometry's offsets, shared by its packers: kOff per row of
// the column matrix (c·h·w + ky·w + kx), nOff per column (oy·s·w + ox·s).
func offsets(g convGeom) (kOff, nOff []int, kOff32, nOff32 []int32) {
	kOff = make([]int, 0, g.ckk())
	for c := range g.c {
		for ky := range g.k {
			for kx := range g.k {
				kOff = append(kOff, c*g.h*g.w+ky*g.w+kx)
			}
		}
	}
	nOff = make([]int, 0, g.p())
	for oy := range g.oh {
		for ox := range g.ow {
			nOff = append(nOff, oy*g.s*g.w+ox*g.s)
		}
	}
	return kOff, nOff, to32(kOff), to32(nOff)
}

func to32(v []int) []int32 {
	w := make([]int32, len(v))
	for i, o := range v {
		w[i] = int32(o)
	}
	return w
}

// Pack implements gemm.Packer.
func (p *imagePacker) Pack(p0, j0, kb, nb, nr int, dst []float32) {
	var runs [64][2]int // [start in the panel, length]; nr ≤ 32
	for s := 0; s < nb; s += nr {
		panel := dst[(s/nr)*kb*nr : (s/nr+1)*kb*nr]
		cols := min(nr, nb-s)
		if cols < nr {
			clear(panel)
		}
		offs := p.cols[j0+s : j0+s+cols]
		n := 0
		for j := 0; j < cols; {
			e := j + 1
			for e < cols && offs[e] == offs[e-1]+1 {
				e++
			}
			runs[n] = [2]int{j, e - j}
			n++
			j = e
		}
		if n == 1 && cols == nr && (nr == 32 || nr == 16) {
			// One run fills the panel's row (an output row at least nr
			// wide): a fixed-size copy, a memmove of constant length
			// without the run bookkeeping (3% less CPU on the ResNet's
			// embedding than the general loop below).
			o := offs[0]
			for q := range kb {
				src := p.x[p.rows[p0+q]+o:]
				if nr == 32 {
					*(*[32]float32)(panel[q*32:]) = *(*[32]float32)(src)
				} else {
					*(*[16]float32)(panel[q*16:]) = *(*[16]float32)(src)
				}
			}
			continue
		}
		if cols == nr && gatherRuns > 0 && n > gatherRuns {
			// Several runs (a kernel's rows in the transpose, or output
			// rows narrower than a panel): the vector gather, with the
			// same offsets for every row of the panel.
			vec.Gather(panel, p.x, p.rows[p0:p0+kb], p.cols32[j0+s:j0+s+cols])
			continue
		}
		if n > cols/4 {
			// Short runs (a 3×3 kernel's rows in the transpose): gather
			// value by value, without a loop per run.
			for q := range kb {
				src := p.x[p.rows[p0+q]:]
				out := panel[q*nr:][:cols]
				for t, o := range offs {
					out[t] = src[o]
				}
			}
			continue
		}
		for q := range kb {
			src := p.x[p.rows[p0+q]:]
			out := panel[q*nr:]
			for _, r := range runs[:n] {
				if r[1] == 1 {
					out[r[0]] = src[offs[r[0]]]
					continue
				}
				o := offs[r[0]]
				if r[1] < 8 { // shorter than a call to memmove is worth
					for t, v := range src[o : o+r[1]] {
						out[r[0]+t] = v
					}
					continue
				}
				copy(out[r[0]:r[0]+r[1]], src[o:o+r[1]])
			}
		}
	}
}

// as32 views a []T of float32 elements as []float32 (T is float32 or a
// type over it; the caller checks the size).
func as32[T Float](v []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}
