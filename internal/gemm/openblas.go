//go:build openblas

package gemm

// With the openblas build tag, Sgemm calls OpenBLAS through cgo (Debian's
// libopenblas-dev; build with CGO_LDFLAGS=-lopenblas go build -tags openblas).
// Set OPENBLAS_NUM_THREADS=1 for small nets: its idle threads spin against
// Go's.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
)

func init() {
	backend = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		t := func(x bool) blas.Transpose {
			if x {
				return blas.Trans
			}
			return blas.NoTrans
		}
		netlib.Implementation{}.Sgemm(t(transA), t(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	backendName = "openblas"
}
