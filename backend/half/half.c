//go:build cgo && amd64

// Bulk conversions between float32 and the 16-bit formats for x86-64 with
// AVX2 and F16C, used where the CPU has them (checked at run time). Each
// function converts the first n - n%16 values and returns that count;
// package half converts the rest in Go. (An AVX-512 build measured no
// faster: these loops are bound by loads and stores; see bench_test.go.)
//
// bfloat16 is rounded with integer arithmetic, not with AVX512-BF16's
// vcvtneps2bf16, because that instruction flushes float32 subnormals to zero
// where round to nearest even does not (0x007fffff rounds to 0x0080, the
// instruction gives 0x0000). binary16 uses F16C's vcvtps2ph with the
// rounding mode in the instruction (nearest even, whatever MXCSR says) and
// vcvtph2ps, which are exact IEEE conversions, subnormals included.

#include <immintrin.h>
#include <stdint.h>

#define AVX2 __attribute__((target("avx2,f16c")))

// ijepa_half_avx2 reports whether the CPU has AVX2 and F16C.
int ijepa_half_avx2(void) {
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

// bf16_256 rounds 8 float32 bit patterns to bfloat16, (b + 0x7fff + lsb)
// >> 16, or b>>16 | 0x40 for a NaN (quiet, sign and top payload kept),
// leaving them in 32-bit lanes.
AVX2 static inline __m256i bf16_256(__m256i b) {
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
	__m256i r = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
	__m256i abs = _mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff));
	__m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000)); // abs < 2^31: signed compare is right
	__m256i q = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
	return _mm256_blendv_epi8(r, q, nan);
}

AVX2 static long f32_to_bf16_avx2(uint16_t *dst, const float *src, long n) {
	long i = 0;
	for (; i < n; i += 16) {
		__m256i a = bf16_256(_mm256_loadu_si256((const __m256i *)(src + i)));
		__m256i b = bf16_256(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
		// packus works within 128-bit halves: a0 b0 a1 b1; put a's halves first.
		__m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
		_mm256_storeu_si256((__m256i *)(dst + i), p);
	}
	return i;
}

AVX2 static long bf16_to_f32_avx2(float *dst, const uint16_t *src, long n) {
	long i = 0;
	for (; i < n; i += 8) {
		__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(w, 16));
	}
	return i;
}

AVX2 static long f32_to_f16_avx2(uint16_t *dst, const float *src, long n) {
	long i = 0;
	for (; i < n; i += 8) {
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		_mm_storeu_si128((__m128i *)(dst + i), h);
	}
	return i;
}

AVX2 static long f16_to_f32_avx2(float *dst, const uint16_t *src, long n) {
	long i = 0;
	for (; i < n; i += 8)
		_mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
	return i;
}

// The entry points convert whole blocks of 16 and return how many values
// they converted.
long ijepa_half_f32_to_bf16(uint16_t *dst, const float *src, long n) { return f32_to_bf16_avx2(dst, src, n - n % 16); }
long ijepa_half_bf16_to_f32(float *dst, const uint16_t *src, long n) { return bf16_to_f32_avx2(dst, src, n - n % 16); }
long ijepa_half_f32_to_f16(uint16_t *dst, const float *src, long n) { return f32_to_f16_avx2(dst, src, n - n % 16); }
long ijepa_half_f16_to_f32(float *dst, const uint16_t *src, long n) { return f16_to_f32_avx2(dst, src, n - n % 16); }
