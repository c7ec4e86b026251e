package cpu

import (
	"sync"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/bf16gemm"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/vec"
	"github.com/ijepa-go/ijepa/backend/half"
)

// 16-bit calls (f16 and bf16 arguments). Ops that only move elements run
// the same kernels as float32 on the bit patterns; cast converts; every
// other op runs through float32 (backend.Widen: inputs widened exactly into
// float32 scratch, the float32 kernel, outputs rounded back with cast),
// except where the fast backend has a 16-bit kernel that pays (the bfloat16
// matrix product on AMX).

// refHalfKernels are the reference backend's 16-bit kernels: the ops that
// move elements. Every other op widens.
var refHalfKernels = map[backend.Op]kernel{
	backend.OpGather:     gather[uint16],
	backend.OpSplitHeads: splitHeads[uint16],
	backend.OpMergeHeads: mergeHeads[uint16],
	backend.OpPatchify:   patchify[uint16],
	backend.OpCopy:       copyOp[uint16],
	backend.OpFill:       fillHalf,
}

// fastHalfKernels are the fast backend's 16-bit kernels.
var fastHalfKernels = func() map[backend.Op]kernel {
	k := map[backend.Op]kernel{}
	for op, f := range refHalfKernels {
		k[op] = f
	}
	k[backend.OpCopy] = fastCopy[uint16]
	k[backend.OpMatMul] = fastMatmulHalf
	k[backend.OpColSum] = fastColSumHalf
	for _, op := range chunkedOps {
		k[op] = chunked
	}
	return k
}()

// BF16Native reports whether the fast backend multiplies bfloat16 matrices
// as they are (on AMX, bf16gemm) rather than through float32 copies of the
// operands, where the inner dimension is at least 32.
func BF16Native() bool { return bf16gemm.Available() }

// h returns the 16-bit data of argument i.
func h(c backend.Call, i int) []uint16 { return c.Args[i].Storage().Impl.(*buffer).h }

// cast converts between float32 and f16 or bf16 (the only signatures of
// the op), through package half, in parallel chunks.
func cast(b *device, c backend.Call) error {
	y, x := c.Args[0], c.Args[1]
	n := y.NumElements()
	var run func(lo, hi int)
	switch {
	case y.DType() == backend.BF16:
		d, s := h(c, 0), f(c, 1)
		run = func(lo, hi int) { half.BF16FromFloat32s(d[lo:hi], s[lo:hi]) }
	case y.DType() == backend.F16:
		d, s := h(c, 0), f(c, 1)
		run = func(lo, hi int) { half.F16FromFloat32s(d[lo:hi], s[lo:hi]) }
	case x.DType() == backend.BF16:
		d, s := f(c, 0), h(c, 1)
		run = func(lo, hi int) { half.BF16ToFloat32s(d[lo:hi], s[lo:hi]) }
	default:
		d, s := f(c, 0), h(c, 1)
		run = func(lo, hi int) { half.F16ToFloat32s(d[lo:hi], s[lo:hi]) }
	}
	b.parallel(n, 1, run)
	return nil
}

// fillHalf sets every element of a 16-bit tensor to Alpha rounded to its
// dtype.
func fillHalf(b *device, c backend.Call) error {
	v := half.BF16FromFloat64(c.Attrs.Alpha)
	if c.Args[0].DType() == backend.F16 {
		v = half.F16FromFloat64(c.Attrs.Alpha)
	}
	y := h(c, 0)
	for i := range y {
		y[i] = v
	}
	return nil
}

// fastMatmulHalf runs a product of 16-bit operands. bfloat16 ones run on
// AMX where bf16gemm pays (a CPU with AMX, k >= 32): each goroutine takes
// whole products of the batch or a share of the output's rows, and Alpha,
// Beta and the rounding of a bfloat16 c are applied as blocks of the
// product leave the tiles (no float32 copy of c). Everything else (f16,
// bf16 without AMX or with a short k) widens both operands to float32 for
// OpenBLAS (widenedMatmul), which BENCHMARKS.md measured slower than AMX
// but faster than a vdpbf16ps kernel.
func fastMatmulHalf(bk *device, c backend.Call) error {
	batch, m, n, k := backend.MatMulDims(c)
	if c.Args[1].DType() != backend.BF16 || !bf16gemm.Pays(k) {
		if !bk.blas {
			return backend.Widen(bk, c)
		}
		return widenedMatmul(bk, c)
	}
	a, bb := h(c, 1), h(c, 2)
	ta, tb := c.Attrs.TransA, c.Attrs.TransB
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	o := bf16gemm.Out{LDC: n, SC: m * n, Alpha: float32(c.Attrs.Alpha), Beta: float32(c.Attrs.Beta)}
	if c.Args[0].DType() == backend.BF16 {
		o.C16 = h(c, 0)
	} else {
		o.C32 = f(c, 0)
	}
	// rows multiplies rows [lo,hi) of products [z0,z1).
	rows := func(z0, z1, lo, hi int) {
		az := a[z0*m*k:]
		if ta {
			az = az[lo:]
		} else {
			az = az[lo*lda:]
		}
		oz := o
		if oz.C16 != nil {
			oz.C16 = oz.C16[z0*m*n+lo*n:]
		} else {
			oz.C32 = oz.C32[z0*m*n+lo*n:]
		}
		bf16gemm.GemmTo(z1-z0, ta, tb, hi-lo, n, k, az, lda, m*k, bb[z0*k*n:], ldb, k*n, oz)
	}
	if batch >= 2*bk.threads || batch*m*n*k < minGemmFlops || bk.threads < 2 {
		bk.parallelChunks(batch, m*n*k, 1, chunksPerWorker, func(_, lo, hi int) { rows(lo, hi, 0, m) })
		return nil
	}
	// Shares of whole 16-row tiles of every product.
	bk.parallelChunks(m, batch*n*k, 16, 1, func(_, lo, hi int) {
		for z := 0; z < batch; z++ {
			rows(z, z+1, lo, hi)
		}
	})
	return nil
}

// chunkedOps are the ops whose output elements depend only on the same
// elements (or rows) of the inputs of the output's size and on whole small
// inputs (a broadcast row): the fast backend runs their 16-bit calls in
// chunks (chunked).
var chunkedOps = []backend.Op{
	backend.OpAdd, backend.OpMul, backend.OpScale, backend.OpAxpy, backend.OpGELU, backend.OpGELUBwd,
	backend.OpSiLU, backend.OpSiLUBwd, backend.OpSoftmax, backend.OpSoftmaxBwd, backend.OpEMA, backend.OpAdamW,
}

// maxChunk is the most elements of one argument a chunk of a 16-bit call
// widens at once (64 KiB of float32: the chunk stays in cache from its
// widening to its rounding).
const maxChunk = 1 << 14

// chunked runs a 16-bit call of one of chunkedOps as the float32 kernel of
// the op over chunks of whole rows (whole broadcast rows for add and mul):
// each goroutine widens a chunk of every 16-bit input into a scratch of its
// own, runs the float32 kernel on the chunk, and rounds the chunk of every
// 16-bit output back; a smaller input (a broadcast row) is widened once.
// It computes what backend.Widen computes (the same float32 kernel, the
// same roundings) with one pass over memory and no float32 copy of the
// tensors.
func chunked(b *device, c backend.Call) error {
	n := c.Args[0].NumElements()
	specs := c.Op.Expand(len(c.Args))
	_, cols := lastDim(c.Args[0])
	align := cols
	args := make([]*backend.Tensor, len(c.Args)) // whole arguments, as float32
	for i, t := range c.Args {
		if t == nil || t.NumElements() == n {
			continue
		}
		align = max(align, t.NumElements())
		args[i] = t
		if t.DType() != backend.F32 {
			w := make([]float32, t.NumElements())
			widen(t.DType(), w, h(c, i))
			args[i] = tensorOver(w, t.Shape())
		}
	}
	units := n / align
	w := b.workers(units, align)
	perWorker := max(chunksPerWorker, n/(w*maxChunk)+1)
	scratch := b.halfScratch(w * len(c.Args))
	var mu sync.Mutex
	var kerr error
	b.parallelChunks(units, align, 1, perWorker, func(k, lo, hi int) {
		one := &device{threads: 1, kernels: b.kernels, blas: b.blas}
		lo, hi = lo*align, hi*align
		call := backend.Call{Op: c.Op, Attrs: c.Attrs, Args: make([]*backend.Tensor, len(c.Args))}
		shape := backend.Shape{(hi - lo) / cols, cols}
		for i, t := range c.Args {
			switch {
			case t == nil || args[i] != nil:
				call.Args[i] = args[i]
			case t.DType() == backend.F32:
				call.Args[i] = tensorOver(f(c, i)[lo:hi], shape)
			default:
				s := &scratch[k*len(c.Args)+i]
				if cap(*s) < hi-lo {
					*s = make([]float32, hi-lo)
				}
				*s = (*s)[:hi-lo]
				if specs[i].Role != backend.Out {
					widen(t.DType(), *s, h(c, i)[lo:hi])
				}
				call.Args[i] = tensorOver(*s, shape)
			}
		}
		if err := one.kernels[c.Op](one, call); err != nil {
			mu.Lock()
			kerr = err
			mu.Unlock()
			return
		}
		for i, t := range c.Args {
			if t != nil && args[i] == nil && t.DType() != backend.F32 && specs[i].Role != backend.In {
				narrow(t.DType(), h(c, i)[lo:hi], call.Args[i].Storage().Impl.(*buffer).f)
			}
		}
	})
	return kerr
}

// halfScratch returns n scratch slices (chunked's per-goroutine buffers),
// kept by the device between calls.
func (b *device) halfScratch(n int) [][]float32 {
	if len(b.scratchH) < n {
		b.scratchH = append(b.scratchH, make([][]float32, n-len(b.scratchH))...)
	}
	return b.scratchH[:n]
}

// tensorOver is a tensor handle over float32 data that the device does not
// own: a chunk or a widened copy handed to a float32 kernel.
func tensorOver(v []float32, shape backend.Shape) *backend.Tensor {
	t := backend.Placeholder(backend.F32, shape...)
	t.Storage().Impl = &buffer{f: v}
	return t
}

// widen sets dst to the float32 values of src, 16-bit values of dtype dt.
func widen(dt backend.DType, dst []float32, src []uint16) {
	if dt == backend.F16 {
		half.F16ToFloat32s(dst, src)
	} else {
		half.BF16ToFloat32s(dst, src)
	}
}

// narrow sets dst to src rounded to dtype dt.
func narrow(dt backend.DType, dst []uint16, src []float32) {
	if dt == backend.F16 {
		half.F16FromFloat32s(dst, src)
	} else {
		half.BF16FromFloat32s(dst, src)
	}
}

// fastColSumHalf sums the columns of a 16-bit x: each goroutine widens
// chunks of rows and adds them into float64 partials of its own (as
// fastColSum), and the total is rounded once to y's dtype.
func fastColSumHalf(b *device, c backend.Call) error {
	x, dt := h(c, 1), c.Args[1].DType()
	cols := c.Args[0].NumElements()
	rows := len(x) / cols
	w := b.workers(rows, cols)
	perWorker := max(chunksPerWorker, len(x)/(w*maxChunk)+1)
	part := b.scratch64(w * cols)
	scratch := b.halfScratch(w)
	b.parallelChunks(rows, cols, 1, perWorker, func(k, lo, hi int) {
		s := &scratch[k]
		if cap(*s) < (hi-lo)*cols {
			*s = make([]float32, (hi-lo)*cols)
		}
		*s = (*s)[:(hi-lo)*cols]
		widen(dt, *s, x[lo*cols:hi*cols])
		vec.ColSum(part[k*cols:(k+1)*cols], *s, cols)
	})
	y := h(c, 0)
	for j := 0; j < cols; j++ {
		s := part[j]
		for k := 1; k < w; k++ {
			s += part[k*cols+j]
		}
		if dt == backend.F16 {
			y[j] = half.F16FromFloat64(s)
		} else {
			y[j] = half.BF16FromFloat64(s)
		}
	}
	return nil
}

// widenedMatmul runs a product of 16-bit operands through OpenBLAS's
// sgemm on float32 copies made piece by piece: with many products each
// goroutine widens whole products (a, b and a 16-bit c) into scratch of its
// own; otherwise each product's b (and a transposed a) is widened once and
// each goroutine widens and multiplies a share of the rows of a and c. A
// 16-bit c is rounded back from its float32 piece, a float32 c written in
// place; no float32 copy of a whole operand the size of the output is made
// (memory as the AMX path's, to a few products' scratch).
func widenedMatmul(bk *device, c backend.Call) error {
	batch, m, n, k := backend.MatMulDims(c)
	ta, tb := c.Attrs.TransA, c.Attrs.TransB
	alpha, beta := float32(c.Attrs.Alpha), float32(c.Attrs.Beta)
	dt := c.Args[1].DType()
	a, bb := h(c, 1), h(c, 2)
	var c16 []uint16
	var c32 []float32
	if c.Args[0].DType() == backend.F32 {
		c32 = f(c, 0)
	} else {
		c16 = h(c, 0)
	}
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	scratch := bk.halfScratch(3 * bk.threads)
	grow := func(s *[]float32, n int) []float32 {
		if cap(*s) < n {
			*s = make([]float32, n)
		}
		*s = (*s)[:n]
		return *s
	}
	// rows multiplies rows [lo,hi) of product z: a32 and b32 are op(a)'s
	// and op(b)'s float32 values as stored (a32 nil: widen a's rows here).
	rows := func(worker, z, lo, hi int, a32, b32 []float32) {
		if a32 == nil {
			a32 = grow(&scratch[3*worker], (hi-lo)*k)
			widen(dt, a32, a[z*m*k+lo*k:z*m*k+hi*k])
		} else if ta {
			a32 = a32[lo:]
		} else {
			a32 = a32[lo*lda:]
		}
		cz := z*m*n + lo*n
		var out []float32
		if c32 != nil {
			out = c32[cz : cz+(hi-lo)*n]
		} else {
			out = grow(&scratch[3*worker+2], (hi-lo)*n)
			if beta != 0 {
				widen(dt, out, c16[cz:cz+(hi-lo)*n])
			}
		}
		if beta == 0 {
			clear(out) // c is not read when Beta is 0
		}
		openblas.Sgemm(ta, tb, hi-lo, n, k, alpha, a32, lda, b32, ldb, beta, out, n)
		if c16 != nil {
			narrow(dt, c16[cz:cz+(hi-lo)*n], out)
		}
	}
	if batch >= 2*bk.threads {
		bk.parallelChunks(batch, m*n*k, 1, chunksPerWorker, func(w, lo, hi int) {
			for z := lo; z < hi; z++ {
				a32 := grow(&scratch[3*w], m*k)
				widen(dt, a32, a[z*m*k:(z+1)*m*k])
				b32 := grow(&scratch[3*w+1], k*n)
				widen(dt, b32, bb[z*k*n:(z+1)*k*n])
				rows(w, z, 0, m, a32, b32)
			}
		})
		return nil
	}
	bw := make([]float32, k*n)
	var aw []float32
	if ta {
		aw = make([]float32, m*k)
	}
	for z := 0; z < batch; z++ {
		widen(dt, bw, bb[z*k*n:(z+1)*k*n])
		if ta {
			widen(dt, aw, a[z*m*k:(z+1)*m*k])
		}
		bk.parallelChunks(m, n*k, 8, 1, func(w, lo, hi int) { rows(w, z, lo, hi, aw, bw) })
	}
	return nil
}
