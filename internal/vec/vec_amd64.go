package vec

import "golang.org/x/sys/cpu"

var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func sqDistAVX2(a, b *float32, n int) float32

//go:noescape
func wL1AVX2(a, b, w *float32, n int) float32
