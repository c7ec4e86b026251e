//go:build cgo && amd64

// A bfloat16 matrix product with float32 accumulation for x86-64 CPUs with
// AVX512-BF16 (Zen 4, Cooper Lake, Sapphire Rapids and later), chosen at run
// time. vdpbf16ps multiplies pairs of bfloat16s (exactly, in float32) and
// adds both products to a float32 lane; the kernel keeps MR rows x NR
// columns of the output in registers and walks k two at a time. Operands
// are packed first: b in strips of NR columns, each k pair of a column
// adjacent, a in strips of MR rows, each row's k pair one 32-bit word to
// broadcast. Like the instruction, the kernel treats subnormal bfloat16s as
// zero and flushes subnormal results.

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

enum { MR = 8, NR = 32, KC = 256, MC = 128, NC = 1024 }; // KC counts k pairs

int ijepa_bf16gemm_supported(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512bf16");
}

typedef struct {
	const uint16_t *p;
	long ld;
	int trans;
} mat;

// at returns op(x)[r][c].
static inline uint16_t at(mat x, long r, long c) { return x.trans ? x.p[c * x.ld + r] : x.p[r * x.ld + c]; }

// pack_b packs op(b)[2*p0 .. 2*(p0+kp)) x [j0, j0+nc) into strips of NR
// columns: strip s, pair p, column j holds b(2p, j), b(2p+1, j); zeros past
// k and n.
static void pack_b(uint16_t *dst, mat b, long k, long n, long p0, long kp, long j0, long nc) {
	for (long s = 0; s < nc; s += NR)
		for (long p = 0; p < kp; p++) {
			long r = 2 * (p0 + p);
			for (long j = 0; j < NR; j++) {
				long c = j0 + s + j;
				int ok = s + j < nc && c < n;
				*dst++ = ok && r < k ? at(b, r, c) : 0;
				*dst++ = ok && r + 1 < k ? at(b, r + 1, c) : 0;
			}
		}
}

// pack_a packs op(a)[i0, i0+mc) x k pairs [p0, p0+kp) into strips of MR
// rows: strip s, pair p, row i holds a(i, 2p) | a(i, 2p+1) << 16.
static void pack_a(uint32_t *dst, mat a, long m, long k, long i0, long mc, long p0, long kp) {
	for (long s = 0; s < mc; s += MR)
		for (long p = 0; p < kp; p++) {
			long c = 2 * (p0 + p);
			for (long i = 0; i < MR; i++) {
				long r = i0 + s + i;
				uint32_t lo = 0, hi = 0;
				if (s + i < mc && r < m) {
					lo = c < k ? at(a, r, c) : 0;
					hi = c + 1 < k ? at(a, r, c + 1) : 0;
				}
				*dst++ = lo | hi << 16;
			}
		}
}

// kernel adds (or, when first, stores) the MR x NR product of a packed a
// strip and a packed b strip over kp pairs into c, clipped to mr x nr.
TARGET static void kernel(long kp, const uint32_t *a, const uint16_t *b, float *c, long ldc, long mr, long nr, int first) {
	__m512 acc[MR][2];
	for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
	for (long p = 0; p < kp; p++) {
		__m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * 2 * NR);
		__m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * 2 * NR + NR);
#pragma GCC unroll 8
		for (int i = 0; i < MR; i++) {
			__m512bh av = (__m512bh)_mm512_set1_epi32((int)a[p * MR + i]);
			acc[i][0] = _mm512_dpbf16_ps(acc[i][0], av, b0);
			acc[i][1] = _mm512_dpbf16_ps(acc[i][1], av, b1);
		}
	}
	__mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
	__mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
	for (int i = 0; i < MR && i < mr; i++) {
		float *row = c + i * ldc;
		if (!first) {
			acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_maskz_loadu_ps(m0, row));
			acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_maskz_loadu_ps(m1, row + 16));
		}
		_mm512_mask_storeu_ps(row, m0, acc[i][0]);
		_mm512_mask_storeu_ps(row + 16, m1, acc[i][1]);
	}
}

// ijepa_bf16gemm sets c = op(a) @ op(b): op(a) m x k, op(b) k x n, all
// row-major with strides lda, ldb, ldc; op(x) is x^T when its flag is set.
// Returns nonzero when it cannot allocate its packing buffers.
TARGET int ijepa_bf16gemm(int ta, int tb, long m, long n, long k, const uint16_t *ap, long lda,
                          const uint16_t *bp, long ldb, float *c, long ldc) {
	mat a = {ap, lda, ta}, b = {bp, ldb, tb};
	long kpairs = (k + 1) / 2;
	uint16_t *bpack = aligned_alloc(64, (size_t)KC * 2 * NC * sizeof(uint16_t));
	uint32_t *apack = aligned_alloc(64, (size_t)KC * MC * sizeof(uint32_t));
	if (!bpack || !apack) {
		free(bpack);
		free(apack);
		return 1;
	}
	if (kpairs == 0)
		for (long i = 0; i < m; i++) memset(c + i * ldc, 0, n * sizeof(float));
	for (long j0 = 0; j0 < n; j0 += NC) {
		long nc = n - j0 < NC ? n - j0 : NC;
		for (long p0 = 0; p0 < kpairs; p0 += KC) {
			long kp = kpairs - p0 < KC ? kpairs - p0 : KC;
			pack_b(bpack, b, k, n, p0, kp, j0, nc);
			for (long i0 = 0; i0 < m; i0 += MC) {
				long mc = m - i0 < MC ? m - i0 : MC;
				pack_a(apack, a, m, k, i0, mc, p0, kp);
				for (long s = 0; s < nc; s += NR)
					for (long r = 0; r < mc; r += MR)
						kernel(kp, apack + r * kp, bpack + s * kp * 2, c + (i0 + r) * ldc + j0 + s, ldc,
						       mc - r, nc - s, p0 == 0);
			}
		}
	}
	free(bpack);
	free(apack);
	return 0;
}
