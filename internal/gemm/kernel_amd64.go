package gemm

import "golang.org/x/sys/cpu"

func hasAVX2FMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

func hasAVX512() bool { return hasAVX2FMA() && cpu.X86.HasAVX512F }

// kernelAVX2 is the 6×16 micro-kernel in kernel_amd64.s: C += A·B, or
// C = A·B when set.
//
//go:noescape
func kernelAVX2(kb int, a, b, c *float32, ldc int, set bool)

// kernelAVX512 is the 12×32 micro-kernel in kernel_amd64.s: C += A·B, or
// C = A·B when set.
//
//go:noescape
func kernelAVX512(kb int, a, b, c *float32, ldc int, set bool)
