#include "textflag.h"

// absmask clears the sign bit.
DATA absmask<>+0(SB)/4, $0x7fffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $4

// func sqDistAVX2(a, b *float32, n int) float32
// n is a positive multiple of 8.
TEXT ·sqDistAVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	CMPQ   CX, $16
	JL     tail8

loop16:
	VMOVUPS     (SI), Y2
	VMOVUPS     32(SI), Y3
	VSUBPS      (DI), Y2, Y2
	VSUBPS      32(DI), Y3, Y3
	VFMADD231PS Y2, Y2, Y0
	VFMADD231PS Y3, Y3, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         loop16

tail8:
	CMPQ        CX, $8
	JL          reduce
	VMOVUPS     (SI), Y2
	VSUBPS      (DI), Y2, Y2
	VFMADD231PS Y2, Y2, Y0

reduce:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+24(FP)
	VZEROUPPER
	RET

// func wL1AVX2(a, b, w *float32, n int) float32
// n is a positive multiple of 8.
TEXT ·wL1AVX2(SB), NOSPLIT, $0-36
	MOVQ         a+0(FP), SI
	MOVQ         b+8(FP), DI
	MOVQ         w+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS absmask<>(SB), Y7
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	CMPQ         CX, $16
	JL           wtail8

wloop16:
	VMOVUPS     (SI), Y2
	VMOVUPS     32(SI), Y3
	VSUBPS      (DI), Y2, Y2
	VSUBPS      32(DI), Y3, Y3
	VANDPS      Y7, Y2, Y2
	VANDPS      Y7, Y3, Y3
	VFMADD231PS (DX), Y2, Y0
	VFMADD231PS 32(DX), Y3, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	ADDQ        $64, DX
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         wloop16

wtail8:
	CMPQ        CX, $8
	JL          wreduce
	VMOVUPS     (SI), Y2
	VSUBPS      (DI), Y2, Y2
	VANDPS      Y7, Y2, Y2
	VFMADD231PS (DX), Y2, Y0

wreduce:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+32(FP)
	VZEROUPPER
	RET
