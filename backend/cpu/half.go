package cpu

import (
	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/bf16gemm"
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
	return k
}()

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
// whole products of the batch or a share of the output's rows, multiplies
// into float32 and applies Alpha, Beta and the rounding of a 16-bit c to
// its part in the same pass. Everything else (f16, bf16 without AMX or
// with a short k) widens both operands to float32 for OpenBLAS
// (backend.Widen), which BENCHMARKS.md measured slower than AMX but faster
// than a vdpbf16ps kernel.
func fastMatmulHalf(bk *device, c backend.Call) error {
	batch, m, n, k := backend.MatMulDims(c)
	if c.Args[1].DType() != backend.BF16 || !bf16gemm.Pays(k) {
		return backend.Widen(bk, c)
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
	alpha, beta := float32(c.Attrs.Alpha), float32(c.Attrs.Beta)
	var c16 []uint16
	var c32, prod []float32
	if c.Args[0].DType() == backend.BF16 {
		c16 = h(c, 0)
	} else {
		c32 = f(c, 0)
	}
	if c32 != nil && alpha == 1 && beta == 0 {
		prod = c32 // the products go straight into c
	} else {
		t := backend.Placeholder(backend.F32, batch*m*n)
		impl, err := bk.Alloc(t, false)
		if err != nil {
			return err
		}
		t.Storage().Impl = impl
		defer bk.Free(t.Storage())
		prod = impl.(*buffer).f
	}
	// rows multiplies rows [lo,hi) of product z and finishes them.
	rows := func(z, lo, hi int) {
		az := a[z*m*k:]
		if ta {
			az = az[lo:]
		} else {
			az = az[lo*lda:]
		}
		out := prod[z*m*n+lo*n : z*m*n+hi*n]
		bf16gemm.Gemm(1, ta, tb, hi-lo, n, k, az, lda, 0, bb[z*k*n:], ldb, 0, out, n, 0)
		finishProduct(out, c16, c32, z*m*n+lo*n, alpha, beta)
	}
	if batch >= 2*bk.threads {
		bk.parallelChunks(batch, m*n*k, 1, chunksPerWorker, func(_, lo, hi int) {
			for z := lo; z < hi; z++ {
				rows(z, 0, m)
			}
		})
		return nil
	}
	// Shares of whole 16-row tiles.
	bk.parallelChunks(m, batch*n*k, 16, 1, func(_, lo, hi int) {
		for z := 0; z < batch; z++ {
			rows(z, lo, hi)
		}
	})
	return nil
}

// finishProduct sets the part of c at offset off from the products p:
// c = alpha*p + beta*c (c not read when beta is 0), rounded to bfloat16 for
// c16, else into c32 (nothing to do when p is c32's own part: alpha 1,
// beta 0).
func finishProduct(p []float32, c16 []uint16, c32 []float32, off int, alpha, beta float32) {
	switch {
	case c16 != nil && alpha == 1 && beta == 0:
		half.BF16FromFloat32s(c16[off:off+len(p)], p)
	case c16 != nil:
		for i, v := range p {
			x := alpha * v
			if beta != 0 {
				x += beta * half.BF16ToFloat32(c16[off+i])
			}
			c16[off+i] = half.BF16FromFloat32(x)
		}
	case alpha != 1 || beta != 0:
		for i, v := range p {
			x := alpha * v
			if beta != 0 {
				x += beta * c32[off+i]
			}
			c32[off+i] = x
		}
	}
}
