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

// func sqDistRowsAVX512(q, db, out *float32, d, n int)
// d is a positive multiple of 16; out gets Σ(q−row)² for each of n rows.
TEXT ·sqDistRowsAVX512(SB), NOSPLIT, $0-40
	MOVQ  q+0(FP), R8
	MOVQ  db+8(FP), DI
	MOVQ  out+16(FP), R9
	MOVQ  d+24(FP), R10
	MOVQ  n+32(FP), R11
	TESTQ R11, R11
	JE    sqrdone

sqrrow:
	MOVQ   R8, SI
	MOVQ   R10, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	CMPQ   CX, $32
	JL     sqrtail

sqrloop:
	VMOVUPS     (SI), Z2
	VMOVUPS     64(SI), Z3
	VSUBPS      (DI), Z2, Z2
	VSUBPS      64(DI), Z3, Z3
	VFMADD231PS Z2, Z2, Z0
	VFMADD231PS Z3, Z3, Z1
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         sqrloop

sqrtail:
	CMPQ        CX, $16
	JL          sqrreduce
	VMOVUPS     (SI), Z2
	VSUBPS      (DI), Z2, Z2
	VFMADD231PS Z2, Z2, Z0
	ADDQ        $64, DI

sqrreduce:
	VADDPS        Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, (R9)
	ADDQ          $4, R9
	DECQ          R11
	JNE           sqrrow

sqrdone:
	VZEROUPPER
	RET

// func wL1RowsAVX512(q, db, w, out *float32, d, n int)
// d is a positive multiple of 16; out gets Σ w·|q−row| for each of n rows.
TEXT ·wL1RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ         q+0(FP), R8
	MOVQ         db+8(FP), DI
	MOVQ         w+16(FP), R12
	MOVQ         out+24(FP), R9
	MOVQ         d+32(FP), R10
	MOVQ         n+40(FP), R11
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z7
	TESTQ        R11, R11
	JE           wrdone

wrrow:
	MOVQ   R8, SI
	MOVQ   R12, DX
	MOVQ   R10, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	CMPQ   CX, $32
	JL     wrtail

wrloop:
	VMOVUPS     (SI), Z2
	VMOVUPS     64(SI), Z3
	VSUBPS      (DI), Z2, Z2
	VSUBPS      64(DI), Z3, Z3
	VPANDD      Z7, Z2, Z2
	VPANDD      Z7, Z3, Z3
	VFMADD231PS (DX), Z2, Z0
	VFMADD231PS 64(DX), Z3, Z1
	ADDQ        $128, SI
	ADDQ        $128, DI
	ADDQ        $128, DX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         wrloop

wrtail:
	CMPQ        CX, $16
	JL          wrreduce
	VMOVUPS     (SI), Z2
	VSUBPS      (DI), Z2, Z2
	VPANDD      Z7, Z2, Z2
	VFMADD231PS (DX), Z2, Z0
	ADDQ        $64, DI

wrreduce:
	VADDPS        Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, (R9)
	ADDQ          $4, R9
	DECQ          R11
	JNE           wrrow

wrdone:
	VZEROUPPER
	RET

// func addAVX2(dst, src *float32, n int)
// dst[i] += src[i]; n is a positive multiple of 8.
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

addloop:
	VMOVUPS (SI), Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     addloop
	VZEROUPPER
	RET

// func biasAVX2(dst *float32, b float32, n int, relu bool)
// dst[i] += b, then max(·, 0) when relu (a NaN stays NaN); n is a
// positive multiple of 8.
TEXT ·biasAVX2(SB), NOSPLIT, $0-25
	MOVQ         dst+0(FP), DI
	VBROADCASTSS b+8(FP), Y1
	MOVQ         n+16(FP), CX
	MOVB         relu+24(FP), AX
	VXORPS       Y2, Y2, Y2
	TESTB        AL, AL
	JZ           biasloop

reluloop:
	VADDPS  (DI), Y1, Y0
	VMAXPS  Y0, Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     reluloop
	VZEROUPPER
	RET

biasloop:
	VADDPS  (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     biasloop
	VZEROUPPER
	RET

// func maxPool2AVX2(r0, r1, out *float32, n int)
// out[i] = max(r0[2i], r0[2i+1], r1[2i], r1[2i+1]); n is a positive
// multiple of 8.
TEXT ·maxPool2AVX2(SB), NOSPLIT, $0-32
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DI
	MOVQ out+16(FP), DX
	MOVQ n+24(FP), CX

poolloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMAXPS  (DI), Y0, Y0
	VMAXPS  32(DI), Y1, Y1
	VSHUFPS $0x88, Y1, Y0, Y2 // even columns, lanes interleaved
	VSHUFPS $0xDD, Y1, Y0, Y3 // odd columns
	VMAXPS  Y3, Y2, Y2
	VPERMPD $0xD8, Y2, Y2     // lanes back in order
	VMOVUPS Y2, (DX)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JNZ     poolloop
	VZEROUPPER
	RET

// func gatherAVX2(dst, x *float32, rows *int, kb int, idx *int32, nr int)
// dst[q·nr+t] = x[rows[q]+idx[t]] for q < kb, t < nr; kb ≥ 1, nr a
// positive multiple of 8.
TEXT ·gatherAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ kb+24(FP), CX
	MOVQ idx+32(FP), R8
	MOVQ nr+40(FP), R9
	SHLQ $2, R9             // bytes of idx per row

g2row:
	MOVQ (BX), AX
	LEAQ (SI)(AX*4), AX     // the row's start
	XORQ R10, R10

g2col:
	VMOVDQU    (R8)(R10*1), Y1
	VPCMPEQD   Y2, Y2, Y2
	VGATHERDPS Y2, (AX)(Y1*4), Y0
	VMOVUPS    Y0, (DI)
	ADDQ       $32, DI
	ADDQ       $32, R10
	CMPQ       R10, R9
	JLT        g2col
	ADDQ       $8, BX
	DECQ       CX
	JNZ        g2row
	VZEROUPPER
	RET

// func gatherAVX512(dst, x *float32, rows *int, kb int, idx *int32, nr int)
// As gatherAVX2 with nr a positive multiple of 16; nr = 16 and 32 keep
// the offsets in registers.
TEXT ·gatherAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ kb+24(FP), CX
	MOVQ idx+32(FP), R8
	MOVQ nr+40(FP), R9
	CMPQ R9, $32
	JEQ  g32
	CMPQ R9, $16
	JEQ  g16
	SHLQ $2, R9

g5row:
	MOVQ (BX), AX
	LEAQ (SI)(AX*4), AX
	XORQ R10, R10

g5col:
	VMOVDQU32  (R8)(R10*1), Z1
	KXNORW     K1, K1, K1
	VGATHERDPS (AX)(Z1*4), K1, Z0
	VMOVUPS    Z0, (DI)
	ADDQ       $64, DI
	ADDQ       $64, R10
	CMPQ       R10, R9
	JLT        g5col
	ADDQ       $8, BX
	DECQ       CX
	JNZ        g5row
	VZEROUPPER
	RET

g16:
	VMOVDQU32 (R8), Z1

g16row:
	MOVQ       (BX), AX
	LEAQ       (SI)(AX*4), AX
	KXNORW     K1, K1, K1
	VGATHERDPS (AX)(Z1*4), K1, Z0
	VMOVUPS    Z0, (DI)
	ADDQ       $64, DI
	ADDQ       $8, BX
	DECQ       CX
	JNZ        g16row
	VZEROUPPER
	RET

g32:
	VMOVDQU32 (R8), Z1
	VMOVDQU32 64(R8), Z2

g32row:
	MOVQ       (BX), AX
	LEAQ       (SI)(AX*4), AX
	KXNORW     K1, K1, K1
	KXNORW     K2, K2, K2
	VGATHERDPS (AX)(Z1*4), K1, Z0
	VGATHERDPS (AX)(Z2*4), K2, Z3
	VMOVUPS    Z0, (DI)
	VMOVUPS    Z3, 64(DI)
	ADDQ       $128, DI
	ADDQ       $8, BX
	DECQ       CX
	JNZ        g32row
	VZEROUPPER
	RET
