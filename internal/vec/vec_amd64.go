package vec

import "golang.org/x/sys/cpu"

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
)

//go:noescape
func sqDistAVX2(a, b *float32, n int) float32

//go:noescape
func wL1AVX2(a, b, w *float32, n int) float32

//go:noescape
func sqDistRowsAVX512(q, db, out *float32, d, n int)

//go:noescape
func wL1RowsAVX512(q, db, w, out *float32, d, n int)

//go:noescape
func addAVX2(dst, src *float32, n int)

//go:noescape
func biasAVX2(dst *float32, b float32, n int, relu bool)

//go:noescape
func maxPool2AVX2(r0, r1, out *float32, n int)

//go:noescape
func gatherAVX2(dst, x *float32, rows *int, kb int, idx *int32, nr int)

//go:noescape
func gatherAVX512(dst, x *float32, rows *int, kb int, idx *int32, nr int)
