//go:build !amd64

package gemm

func hasAVX2FMA() bool { return false }

func hasAVX512() bool { return false }

func kernelAVX2(kb int, a, b, c *float32, ldc int, set bool) { panic("unreachable") }

func kernelAVX512(kb int, a, b, c *float32, ldc int, set bool) { panic("unreachable") }
