//go:build !amd64

package vec

const (
	hasAVX2   = false
	hasAVX512 = false
)

func sqDistAVX2(a, b *float32, n int) float32        { panic("unreachable") }
func wL1AVX2(a, b, w *float32, n int) float32        { panic("unreachable") }
func sqDistRowsAVX512(q, db, out *float32, d, n int) { panic("unreachable") }
func wL1RowsAVX512(q, db, w, out *float32, d, n int) { panic("unreachable") }

func addAVX2(dst, src *float32, n int)                   { panic("unreachable") }
func biasAVX2(dst *float32, b float32, n int, relu bool) { panic("unreachable") }

func maxPool2AVX2(r0, r1, out *float32, n int) { panic("unreachable") }

func gatherAVX2(dst, x *float32, rows *int, kb int, idx *int32, nr int)   { panic("unreachable") }
func gatherAVX512(dst, x *float32, rows *int, kb int, idx *int32, nr int) { panic("unreachable") }
