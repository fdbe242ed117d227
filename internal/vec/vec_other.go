//go:build !amd64

package vec

const useAsm = false

func sqDistAVX2(a, b *float32, n int) float32 { panic("unreachable") }
func wL1AVX2(a, b, w *float32, n int) float32 { panic("unreachable") }
