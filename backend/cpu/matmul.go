package cpu

import (
	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
)

// minGemmFlops is the work (multiply-adds) of a product below which it runs
// on the calling goroutine.
const minGemmFlops = 1 << 17

// gemm is one product c = alpha*op(a)@op(b) + beta*c of a batch, in BLAS
// terms: op(a) is m x k, op(b) is k x n, all row-major and contiguous.
type gemm struct {
	ta, tb      bool
	m, n, k     int
	alpha, beta float32
	a, b, c     []float32
}

// part runs the rows [lo,hi) of the product's output when byRows, else its
// columns [lo,hi), through OpenBLAS (single-threaded).
func (g *gemm) part(byRows bool, lo, hi int) {
	lda, ldb := g.k, g.n
	if g.ta {
		lda = g.m
	}
	if g.tb {
		ldb = g.k
	}
	a, b, c := g.a, g.b, g.c
	m, n := g.m, g.n
	if byRows {
		// Rows of op(a): rows of a, or columns of a stored transposed.
		if g.ta {
			a = a[lo:]
		} else {
			a = a[lo*lda:]
		}
		c, m = c[lo*g.n:], hi-lo
	} else {
		// Columns of op(b): columns of b, or rows of b stored transposed.
		if g.tb {
			b = b[lo*ldb:]
		} else {
			b = b[lo:]
		}
		c, n = c[lo:], hi-lo
	}
	openblas.Sgemm(g.ta, g.tb, m, n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, g.n)
}

// split is how the fast backend shares the products of one matmul call
// among its goroutines.
type split int

const (
	splitNone  split = iota // every product on the calling goroutine
	splitBatch              // whole products, in chunks of the batch
	splitRows               // a share of every product's rows per chunk
	splitCols               // a share of every product's columns per chunk
)

func (s split) String() string {
	return [...]string{"none", "batch", "rows", "columns"}[s]
}

// mmPlan is a split and the arguments of parallelChunks that cut it: items
// (products, rows or columns), the cost of one, the chunks' alignment and
// the chunks per worker.
type mmPlan struct {
	split
	items, cost, align, perWorker int
}

// matmulPlan chooses the split of a batch of m x n x k products: none below
// minGemmFlops or with one thread; whole products, handed out in chunks of
// the batch, when it has at least two per goroutine; otherwise one share per
// goroutine of every product's rows, or of its columns when there are more
// of those, in multiples of 8 (whole register tiles of the BLAS kernels):
// each OpenBLAS call packs its operands anew, so fewer, larger calls run
// faster. A split that would be one chunk is none. fastMatmul runs the plan,
// and the test that proves the conformance cases reach every split asks it.
func (bk *device) matmulPlan(batch, m, n, k int) mmPlan {
	none := mmPlan{split: splitNone}
	if batch*m*n*k < minGemmFlops || bk.threads < 2 {
		return none
	}
	p := mmPlan{splitBatch, batch, m * n * k, 1, chunksPerWorker}
	switch {
	case batch >= 2*bk.threads:
	case m >= n:
		p = mmPlan{splitRows, m, batch * n * k, 8, 1}
	default:
		p = mmPlan{splitCols, n, batch * m * k, 8, 1}
	}
	if _, grain := bk.chunking(p.items, p.cost, p.align, p.perWorker); grain >= p.items {
		return none
	}
	return p
}

// fastMatmul runs matmul through OpenBLAS, one thread per call, in chunks
// that the backend's goroutines take as they go (see matmulPlan and
// parallelChunks); without OpenBLAS it is the reference kernel (gonum,
// which splits on its own).
func fastMatmul(bk *device, c backend.Call) error {
	if !bk.blas {
		return matmul(bk, c)
	}
	cd, ad, bd := f(c, 0), f(c, 1), f(c, 2)
	batch, m, n, k := backend.MatMulDims(c)
	g := gemm{ta: c.Attrs.TransA, tb: c.Attrs.TransB, m: m, n: n, k: k,
		alpha: float32(c.Attrs.Alpha), beta: float32(c.Attrs.Beta)}
	item := func(z int) gemm {
		gz := g
		gz.a, gz.b, gz.c = ad[z*m*k:(z+1)*m*k], bd[z*k*n:(z+1)*k*n], cd[z*m*n:(z+1)*m*n]
		return gz
	}
	p := bk.matmulPlan(batch, m, n, k)
	switch p.split {
	case splitNone:
		for z := 0; z < batch; z++ {
			gz := item(z)
			gz.part(true, 0, m)
		}
	case splitBatch:
		bk.parallelChunks(p.items, p.cost, p.align, p.perWorker, func(_, lo, hi int) {
			for z := lo; z < hi; z++ {
				gz := item(z)
				gz.part(true, 0, m)
			}
		})
	default:
		bk.parallelChunks(p.items, p.cost, p.align, p.perWorker, func(_, lo, hi int) {
			for z := 0; z < batch; z++ {
				gz := item(z)
				gz.part(p.split == splitRows, lo, hi)
			}
		})
	}
	return nil
}
