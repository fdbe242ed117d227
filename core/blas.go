package core

import (
	"github.com/siamesenet/siamese/internal/gemm"
	"gonum.org/v1/gonum/blas/blas32"
	G "gorgonia.org/gorgonia"
)

// BLAS names the matrix-product backend in use ("go-avx2", "go" or
// "openblas"), for benchmarks and logs.
var BLAS = "go"

func init() {
	impl := gemm.Implementation{}
	G.Use(impl)
	blas32.Use(impl)
	BLAS = gemm.Name()
}
