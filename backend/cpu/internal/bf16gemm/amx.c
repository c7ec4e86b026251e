//go:build cgo && amd64

// A bfloat16 matrix product with float32 accumulation on AMX (Sapphire
// Rapids and later): tdpbf16ps multiplies a 16 x 32 bfloat16 tile by a 32 x
// 16 one into a 16 x 16 float32 tile. Both operands are packed whole into
// tiles first, zero-padded to 32 rows and columns and 32 of k: a as 16 rows
// of 32 k values, b as 16 k pairs of 16 columns, each pair adjacent (the
// layout tdpbf16ps reads). The kernel computes 32 x 32 of c from two a and
// two b tiles into four accumulators. Like the instruction, it treats
// subnormal bfloat16s as zero and flushes subnormal results.
//
// An AVX512-BF16 kernel (vdpbf16ps, 8 x 32 register tile) measured 0.6-0.9x
// the speed of widening to float32 for OpenBLAS on Sapphire Rapids and was
// dropped; see docs/BENCHMARKS.md.

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

// ijepa_amx_init asks Linux for the AMX tile state (once per process) and
// reports whether the CPU has AMX-BF16 and the kernel allows it.
int ijepa_amx_init(void) {
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16"))
		return 0;
	return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

typedef struct {
	uint8_t palette, start_row, reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} tilecfg;

typedef struct {
	const uint16_t *p;
	long ld;
	int trans;
} amat;

// pack_a packs op(a) into tiles: tile (ti, tk) holds rows 16ti.. and k
// 32tk.., 16 rows of 32 values, zero past m and k. It goes tile by tile, so
// that a transposed a is read in 32 x 16 blocks that stay in cache.
static void pack_a(uint16_t *dst, amat a, long m, long k, long mt, long kt) {
	memset(dst, 0, (size_t)mt * kt * 1024);
	for (long ti = 0; ti < mt; ti++)
		for (long tk = 0; tk < kt; tk++) {
			long p0 = tk * 32, len = k - p0 < 32 ? k - p0 : 32;
			for (long r = 0; r < 16 && ti * 16 + r < m; r++) {
				long i = ti * 16 + r;
				uint16_t *row = dst + ((ti * kt + tk) * 16 + r) * 32;
				if (!a.trans)
					memcpy(row, a.p + i * a.ld + p0, len * 2);
				else
					for (long c = 0; c < len; c++) row[c] = a.p[(p0 + c) * a.ld + i];
			}
		}
}

// pack_b packs op(b) into tiles: tile (tj, tk) holds the k pairs 16tk..
// and columns 16tj.., 16 rows of 16 (b(2p, j), b(2p+1, j)) pairs, zero past
// k and n; tile by tile, as pack_a.
static void pack_b(uint16_t *dst, amat b, long k, long n, long nt, long kt) {
	memset(dst, 0, (size_t)nt * kt * 1024);
	for (long tj = 0; tj < nt; tj++)
		for (long tk = 0; tk < kt; tk++) {
			long j0 = tj * 16, len = n - j0 < 16 ? n - j0 : 16;
			for (long pr = 0; pr < 16; pr++) {
				uint16_t *row = dst + ((tj * kt + tk) * 16 + pr) * 32;
				for (long h = 0, p = tk * 32 + 2 * pr; h < 2 && p < k; h++, p++)
					if (!b.trans)
						for (long c = 0; c < len; c++) row[2 * c + h] = b.p[p * b.ld + j0 + c];
					else
						for (long c = 0; c < len; c++) row[2 * c + h] = b.p[(j0 + c) * b.ld + p];
			}
		}
}

// amx_one computes one product of the batch from packed operands.
AMX static void amx_one(const uint16_t *pa, const uint16_t *pb, long m, long n, long mt, long nt, long kt, float *c,
                        long ldc) {
	float tmp[32 * 32] __attribute__((aligned(64)));
	for (long ti = 0; ti < mt; ti += 2)
		for (long tj = 0; tj < nt; tj += 2) {
			_tile_zero(0);
			_tile_zero(1);
			_tile_zero(2);
			_tile_zero(3);
			const uint16_t *a0 = pa + ti * kt * 512, *a1 = a0 + kt * 512;
			const uint16_t *b0 = pb + tj * kt * 512, *b1 = b0 + kt * 512;
			for (long tk = 0; tk < kt; tk++) {
				_tile_loadd(4, a0 + tk * 512, 64);
				_tile_loadd(5, a1 + tk * 512, 64);
				_tile_loadd(6, b0 + tk * 512, 64);
				_tile_loadd(7, b1 + tk * 512, 64);
				_tile_dpbf16ps(0, 4, 6);
				_tile_dpbf16ps(1, 4, 7);
				_tile_dpbf16ps(2, 5, 6);
				_tile_dpbf16ps(3, 5, 7);
			}
			long i0 = ti * 16, j0 = tj * 16;
			if (i0 + 32 <= m && j0 + 32 <= n) {
				float *cc = c + i0 * ldc + j0;
				_tile_stored(0, cc, ldc * 4);
				_tile_stored(1, cc + 16, ldc * 4);
				_tile_stored(2, cc + 16 * ldc, ldc * 4);
				_tile_stored(3, cc + 16 * ldc + 16, ldc * 4);
				continue;
			}
			_tile_stored(0, tmp, 128);
			_tile_stored(1, tmp + 16, 128);
			_tile_stored(2, tmp + 16 * 32, 128);
			_tile_stored(3, tmp + 16 * 32 + 16, 128);
			for (long r = 0; r < 32 && i0 + r < m; r++)
				memcpy(c + (i0 + r) * ldc + j0, tmp + r * 32, (n - j0 < 32 ? n - j0 : 32) * sizeof(float));
		}
}

// ijepa_amx_gemm sets c[z] = op(a[z]) @ op(b[z]) for z < batch, the
// products sa, sb and sc elements apart: op(a) m x k, op(b) k x n, row-major
// with strides lda, ldb, ldc; op(x) is x^T when its flag is set.
// Returns nonzero when it cannot allocate its packing buffers.
AMX int ijepa_amx_gemm(long batch, int ta, int tb, long m, long n, long k, const uint16_t *ap, long lda, long sa,
                       const uint16_t *bp, long ldb, long sb, float *c, long ldc, long sc) {
	long mt = (m + 31) / 32 * 2, nt = (n + 31) / 32 * 2, kt = (k + 31) / 32; // k > 0
	uint16_t *pa = aligned_alloc(64, (size_t)mt * kt * 1024);
	uint16_t *pb = aligned_alloc(64, (size_t)nt * kt * 1024);
	if (!pa || !pb) {
		free(pa);
		free(pb);
		return 1;
	}
	tilecfg cfg = {.palette = 1};
	for (int t = 0; t < 8; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
	_tile_loadconfig(&cfg);
	for (long z = 0; z < batch; z++) {
		pack_a(pa, (amat){ap + z * sa, lda, ta}, m, k, mt, kt);
		pack_b(pb, (amat){bp + z * sb, ldb, tb}, k, n, nt, kt);
		amx_one(pa, pb, m, n, mt, nt, kt, c + z * sc, ldc);
	}
	_tile_release();
	free(pa);
	free(pb);
	return 0;
}
