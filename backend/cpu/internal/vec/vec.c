//go:build cgo

// Vector kernels for the CPU backend's transcendental element and row ops,
// written with GCC/Clang vector extensions (8 floats per vector). Each kernel
// is compiled twice: for AVX2 with FMA, chosen at run time when the CPU has
// them, and for the architecture's baseline (SSE2 on x86-64, NEON on arm64),
// where the compiler splits the 8-wide vectors. (The vector helpers are
// always inlined, so GCC's note that passing 32-byte vectors without AVX
// changes the ABI does not apply: vec_cgo.go turns it off with -Wno-psabi.)

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define INLINE static inline __attribute__((always_inline))

// splat broadcasts v (written as a vector plus a scalar, which compilers turn
// into one broadcast; an initializer list becomes a chain of inserts).
INLINE v8f splat(float v) { return (v8f){0} + v; }
INLINE v8f load(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
INLINE void store(float *p, v8f v) { memcpy(p, &v, sizeof v); }
INLINE v8f asf(v8i v) { v8f f; memcpy(&f, &v, sizeof f); return f; }
INLINE v8i asi(v8f v) { v8i i; memcpy(&i, &v, sizeof i); return i; }
// select returns a where mask is set (all ones), b elsewhere.
INLINE v8f vselect(v8i mask, v8f a, v8f b) { return asf((asi(a) & mask) | (asi(b) & ~mask)); }
// vsqrt_base and vsqrt_avx2 are the lane-wise square root (correctly
// rounded, like sqrtf) of the two builds of the kernels: lane by lane, and
// one AVX instruction.
INLINE v8f vsqrt_base(v8f a) {
	v8f r;
	for (int l = 0; l < 8; l++) r[l] = sqrtf(a[l]);
	return r;
}
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) INLINE v8f vsqrt_avx2(v8f a) { return __builtin_ia32_sqrtps256(a); }
#endif
INLINE v8f vmax(v8f a, v8f b) { return vselect(a > b, a, b); }
INLINE v8f vabs(v8f a) { return asf(asi(a) & (v8i){0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff}); }

#define EXP_MIN -87.33654f    // below this e^x is not a normal float: 0
#define EXP_CORE_MAX 88.37626f // 127.5 ln 2

// vexp returns e^x within about 2 ulp for x in [EXP_MIN, EXP_CORE_MAX], 0
// below; callers keep x below EXP_CORE_MAX. NaN in gives an unspecified
// value: callers check for NaN themselves.
INLINE v8f vexp(v8f x) {
	v8i tiny = x < splat(EXP_MIN);
	x = vmax(x, splat(EXP_MIN));
	// x = k ln2 + r, |r| <= ln2/2 (Cody-Waite: ln2 in two parts).
	v8f k = (x * splat(1.44269504088896341f) + splat(12582912.0f)) - splat(12582912.0f);
	v8f r = x - k * splat(0.693359375f);
	r = r - k * splat(-2.12194440e-4f);
	v8f p = splat(1.0f / 5040);
	p = p * r + splat(1.0f / 720);
	p = p * r + splat(1.0f / 120);
	p = p * r + splat(1.0f / 24);
	p = p * r + splat(1.0f / 6);
	p = p * r + splat(0.5f);
	p = p * r + splat(1.0f);
	p = p * r + splat(1.0f);
	v8i e = (__builtin_convertvector(k, v8i) + 127) << 23;
	return vselect(tiny, splat(0), p * asf(e));
}

// verfc returns erfc(z) for z >= 0 within 1.2e-7 relative (the Chebyshev
// fit of Numerical Recipes' erfcc), exactly 0 where it is below the smallest
// normal float.
INLINE v8f verfc(v8f z) {
	v8f t = splat(1) / (splat(1) + splat(0.5f) * z);
	v8f p = splat(0.17087277f);
	p = p * t + splat(-0.82215223f);
	p = p * t + splat(1.48851587f);
	p = p * t + splat(-1.13520398f);
	p = p * t + splat(0.27886807f);
	p = p * t + splat(-0.18628806f);
	p = p * t + splat(0.09678418f);
	p = p * t + splat(0.37409196f);
	p = p * t + splat(1.00002368f);
	p = p * t + splat(-1.26551223f);
	return t * vexp(p - z * z);
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT2PI 0.39894228040143268f

// vcdf returns Phi(x), the normal distribution function, from the upper tail
// q = erfc(|x|/sqrt 2)/2: 1-q for x >= 0, q below.
INLINE v8f vcdf(v8f x) {
	v8f q = splat(0.5f) * verfc(vabs(x) * splat(INV_SQRT2));
	return vselect(x >= splat(0), splat(1) - q, q);
}

// Each kernel: a vector loop, then the tail through a padded vector.
#define KERNELS(SUFFIX, ATTR)                                                              \
	ATTR static void gelu_##SUFFIX(float *y, const float *x, long n) {                       \
		long i = 0;                                                                         \
		for (; i + 8 <= n; i += 8) {                                                        \
			v8f v = load(x + i);                                                            \
			store(y + i, v * vcdf(v));                                                      \
		}                                                                                   \
		if (i < n) {                                                                        \
			float bx[8] = {0}, by[8];                                                       \
			memcpy(bx, x + i, (n - i) * sizeof(float));                                     \
			v8f v = load(bx);                                                               \
			store(by, v * vcdf(v));                                                         \
			memcpy(y + i, by, (n - i) * sizeof(float));                                     \
		}                                                                                   \
	}                                                                                       \
	ATTR static void gelu_grad_##SUFFIX(float *dx, const float *dy, const float *x, long n) { \
		long i = 0;                                                                         \
		float bx[8] = {0}, bdy[8] = {0}, bdx[8];                                            \
		for (;; i += 8) {                                                                   \
			const float *px = x + i, *pdy = dy + i;                                         \
			long m = n - i;                                                                 \
			if (m <= 0) break;                                                              \
			if (m < 8) {                                                                    \
				memcpy(bx, px, m * sizeof(float));                                          \
				memcpy(bdy, pdy, m * sizeof(float));                                        \
				px = bx, pdy = bdy;                                                         \
			}                                                                               \
			v8f v = load(px);                                                               \
			v8f phi = splat(INV_SQRT2PI) * vexp(splat(-0.5f) * v * v);                      \
			v8f g = load(pdy) * (vcdf(v) + v * phi);                                        \
			if (m < 8) {                                                                    \
				store(bdx, g);                                                              \
				memcpy(dx + i, bdx, m * sizeof(float));                                     \
				break;                                                                      \
			}                                                                               \
			store(dx + i, g);                                                               \
		}                                                                                   \
	}                                                                                       \
	ATTR static void softmax_##SUFFIX(float *y, const float *x, long rows, long cols,        \
	                                  float alpha) {                                        \
		for (long r = 0; r < rows; r++) {                                                   \
			const float *xr = x + r * cols;                                                 \
			float *yr = y + r * cols;                                                       \
			/* Maximum of alpha*x; a NaN or an infinite maximum goes to the      */         \
			/* scalar double path, which gives the IEEE answer.                  */         \
			v8f m8 = splat(-INFINITY);                                                      \
			v8i nan8 = {0};                                                                 \
			long j = 0;                                                                     \
			for (; j + 8 <= cols; j += 8) {                                                 \
				v8f a = splat(alpha) * load(xr + j);                                        \
				nan8 |= a != a;                                                             \
				m8 = vmax(m8, a);                                                           \
			}                                                                               \
			float m = -INFINITY;                                                            \
			int nan = 0;                                                                    \
			for (int l = 0; l < 8; l++) {                                                   \
				m = m8[l] > m ? m8[l] : m;                                                  \
				nan |= nan8[l];                                                             \
			}                                                                               \
			for (; j < cols; j++) {                                                         \
				float a = alpha * xr[j];                                                    \
				nan |= a != a;                                                              \
				m = a > m ? a : m;                                                          \
			}                                                                               \
			if (nan || isinf(m)) {                                                          \
				softmax_row_double(yr, xr, cols, alpha);                                    \
				continue;                                                                   \
			}                                                                               \
			/* Exponentials into y, summed; then scaled. */                                 \
			v8f s8 = splat(0);                                                              \
			for (j = 0; j + 8 <= cols; j += 8) {                                            \
				v8f e = vexp(splat(alpha) * load(xr + j) - splat(m));                       \
				store(yr + j, e);                                                           \
				s8 += e;                                                                    \
			}                                                                               \
			float s = 0;                                                                    \
			for (int l = 0; l < 8; l++) s += s8[l];                                         \
			if (j < cols) {                                                                 \
				float b[8] = {0}, be[8];                                                    \
				long t = cols - j;                                                          \
				memcpy(b, xr + j, t * sizeof(float));                                       \
				v8f e = vexp(splat(alpha) * load(b) - splat(m));                            \
				store(be, e);                                                               \
				for (long l = 0; l < t; l++) {                                              \
					yr[j + l] = be[l];                                                      \
					s += be[l];                                                             \
				}                                                                           \
			}                                                                               \
			v8f inv = splat(1 / s);                                                         \
			for (j = 0; j + 8 <= cols; j += 8) store(yr + j, load(yr + j) * inv);           \
			for (; j < cols; j++) yr[j] *= 1 / s;                                           \
		}                                                                                   \
	}


// hsum returns the sum of a vector's lanes.
INLINE float hsum(v8f v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

// flush adds float partial sums into double accumulators.
INLINE void flush(double *acc, float *part, long n) {
	for (long j = 0; j < n; j++) {
		acc[j] += part[j];
		part[j] = 0;
	}
}

// Rows are summed into float partials for ROW_BLOCK rows, then into double
// accumulators, so long column sums lose no more than a few ulp.
#define ROW_BLOCK 64

#define ROW_KERNELS(SUFFIX, ATTR)                                                              \
	ATTR static void layernorm_##SUFFIX(float *y, float *mean, float *rstd, const float *x,      \
	                                    const float *gamma, const float *beta, long rows,        \
	                                    long cols, double eps) {                                 \
		for (long r = 0; r < rows; r++) {                                                       \
			const float *xr = x + r * cols;                                                     \
			float *yr = y + r * cols;                                                           \
			v8f s8 = splat(0);                                                                  \
			long j = 0;                                                                         \
			for (; j + 8 <= cols; j += 8) s8 += load(xr + j);                                   \
			float s = hsum(s8);                                                                 \
			for (; j < cols; j++) s += xr[j];                                                   \
			float mu = s / cols;                                                                \
			v8f q8 = splat(0), mu8 = splat(mu);                                                 \
			for (j = 0; j + 8 <= cols; j += 8) {                                                \
				v8f d = load(xr + j) - mu8;                                                     \
				q8 += d * d;                                                                    \
			}                                                                                   \
			float q = hsum(q8);                                                                 \
			for (; j < cols; j++) q += (xr[j] - mu) * (xr[j] - mu);                             \
			float rs = (float)(1 / sqrt((double)q / cols + eps));                               \
			mean[r] = mu, rstd[r] = rs;                                                         \
			v8f rs8 = splat(rs);                                                                \
			if (gamma) {                                                                        \
				for (j = 0; j + 8 <= cols; j += 8)                                              \
					store(yr + j, (load(xr + j) - mu8) * rs8 * load(gamma + j) + load(beta + j)); \
				for (; j < cols; j++) yr[j] = (xr[j] - mu) * rs * gamma[j] + beta[j];           \
			} else {                                                                            \
				for (j = 0; j + 8 <= cols; j += 8) store(yr + j, (load(xr + j) - mu8) * rs8);   \
				for (; j < cols; j++) yr[j] = (xr[j] - mu) * rs;                                \
			}                                                                                   \
		}                                                                                       \
	}                                                                                           \
	/* dg and db (double, cols each) are accumulated into when not NULL; pg and pb are  */      \
	/* float scratch of cols each, zero on entry and on return.                         */      \
	ATTR static void layernorm_bwd_##SUFFIX(float *dx, double *dg, double *db, float *pg,       \
	                                        float *pb, const float *dy, const float *x,         \
	                                        const float *mean, const float *rstd,               \
	                                        const float *gamma, long rows, long cols) {         \
		float inv = 1.0f / cols;                                                                \
		for (long r = 0; r < rows; r++) {                                                       \
			const float *xr = x + r * cols, *dyr = dy + r * cols;                               \
			float *dxr = dx + r * cols;                                                         \
			float mu = mean[r], rs = rstd[r];                                                   \
			v8f mu8 = splat(mu), rs8 = splat(rs);                                               \
			v8f sg8 = splat(0), sgx8 = splat(0);                                                \
			long j = 0;                                                                         \
			for (; j + 8 <= cols; j += 8) {                                                     \
				v8f h = (load(xr + j) - mu8) * rs8, d = load(dyr + j);                          \
				if (dg) {                                                                       \
					store(pg + j, load(pg + j) + d * h);                                        \
					store(pb + j, load(pb + j) + d);                                            \
				}                                                                               \
				v8f g = gamma ? d * load(gamma + j) : d;                                        \
				sg8 += g;                                                                       \
				sgx8 += g * h;                                                                  \
			}                                                                                   \
			float sg = hsum(sg8), sgx = hsum(sgx8);                                             \
			for (; j < cols; j++) {                                                             \
				float h = (xr[j] - mu) * rs, d = dyr[j];                                        \
				if (dg) {                                                                       \
					pg[j] += d * h;                                                             \
					pb[j] += d;                                                                 \
				}                                                                               \
				float g = gamma ? d * gamma[j] : d;                                             \
				sg += g;                                                                        \
				sgx += g * h;                                                                   \
			}                                                                                   \
			sg *= inv, sgx *= inv;                                                              \
			v8f sg8b = splat(sg), sgx8b = splat(sgx);                                           \
			for (j = 0; j + 8 <= cols; j += 8) {                                                \
				v8f h = (load(xr + j) - mu8) * rs8, d = load(dyr + j);                          \
				v8f g = gamma ? d * load(gamma + j) : d;                                        \
				store(dxr + j, rs8 * (g - sg8b - h * sgx8b));                                   \
			}                                                                                   \
			for (; j < cols; j++) {                                                             \
				float h = (xr[j] - mu) * rs, g = gamma ? dyr[j] * gamma[j] : dyr[j];            \
				dxr[j] = rs * (g - sg - h * sgx);                                               \
			}                                                                                   \
			if (dg && ((r + 1) % ROW_BLOCK == 0 || r == rows - 1)) {                            \
				flush(dg, pg, cols);                                                            \
				flush(db, pb, cols);                                                            \
			}                                                                                   \
		}                                                                                       \
	}                                                                                           \
	/* acc[j] += sum over the rows of x[r,j]; part is float scratch of cols, zero on   */       \
	/* entry and on return.                                                            */       \
	ATTR static void colsum_##SUFFIX(double *acc, float *part, const float *x, long rows,       \
	                                 long cols) {                                               \
		for (long r = 0; r < rows; r++) {                                                       \
			const float *xr = x + r * cols;                                                     \
			long j = 0;                                                                         \
			for (; j + 8 <= cols; j += 8) store(part + j, load(part + j) + load(xr + j));      \
			for (; j < cols; j++) part[j] += xr[j];                                             \
			if ((r + 1) % ROW_BLOCK == 0 || r == rows - 1) flush(acc, part, cols);              \
		}                                                                                       \
	}



// ADAMW_KERNEL: one AdamW step over n elements, with the scalars of the op
// table already rounded to float (decay = 1-lr*wd, omb1 = 1-b1, omb2 = 1-b2,
// step = lr/(1-b1^t), bc2 = sqrt(1-b2^t)).
#define ADAMW_KERNEL(SUFFIX, ATTR)                                                             \
	ATTR static void adamw_##SUFFIX(float *p, float *m, float *v, const float *g, long n,      \
	                                const float *s) {                                          \
		float decay = s[0], b1 = s[1], omb1 = s[2], b2 = s[3], omb2 = s[4], step = s[5],       \
		      bc2 = s[6], eps = s[7];                                                          \
		long i = 0;                                                                            \
		for (; i + 8 <= n; i += 8) {                                                           \
			v8f gi = load(g + i);                                                              \
			v8f mi = splat(b1) * load(m + i) + splat(omb1) * gi;                               \
			v8f vi = splat(b2) * load(v + i) + splat(omb2) * gi * gi;                          \
			v8f pi = load(p + i) * splat(decay);                                               \
			v8f den = vsqrt_##SUFFIX(vi) / splat(bc2) + splat(eps);                                     \
			store(m + i, mi);                                                                  \
			store(v + i, vi);                                                                  \
			store(p + i, pi - splat(step) * mi / den);                                         \
		}                                                                                      \
		for (; i < n; i++) {                                                                   \
			float mi = b1 * m[i] + omb1 * g[i];                                                \
			float vi = b2 * v[i] + omb2 * g[i] * g[i];                                         \
			m[i] = mi, v[i] = vi;                                                              \
			p[i] = p[i] * decay - step * mi / (sqrtf(vi) / bc2 + eps);                         \
		}                                                                                      \
	}


// BROADCAST_KERNEL: y = a + x or a * x, x (nx elements) repeated over the
// rows of a; y may be a.
#define BROADCAST_KERNEL(SUFFIX, ATTR)                                                         \
	ATTR static void broadcast_##SUFFIX(float *y, const float *a, const float *x, long rows,   \
	                                    long nx, int mul) {                                    \
		for (long r = 0; r < rows; r++) {                                                      \
			const float *ar = a + r * nx;                                                      \
			float *yr = y + r * nx;                                                            \
			long j = 0;                                                                        \
			if (mul) {                                                                         \
				for (; j + 8 <= nx; j += 8) store(yr + j, load(ar + j) * load(x + j));         \
				for (; j < nx; j++) yr[j] = ar[j] * x[j];                                      \
			} else {                                                                           \
				for (; j + 8 <= nx; j += 8) store(yr + j, load(ar + j) + load(x + j));         \
				for (; j < nx; j++) yr[j] = ar[j] + x[j];                                      \
			}                                                                                  \
		}                                                                                      \
	}

// softmax_row_double is the reference computation of one row, for rows with
// NaN or infinite values.
static void softmax_row_double(float *y, const float *x, long cols, float alpha) {
	double m = -INFINITY, s = 0;
	for (long j = 0; j < cols; j++) {
		double a = (double)alpha * x[j];
		m = (a > m || a != a) ? a : m;
		if (a != a) break;
	}
	for (long j = 0; j < cols; j++) s += exp((double)alpha * x[j] - m);
	for (long j = 0; j < cols; j++) y[j] = (float)(exp((double)alpha * x[j] - m) / s);
}

KERNELS(base, )
ROW_KERNELS(base, )
ADAMW_KERNEL(base, )
BROADCAST_KERNEL(base, )
#if defined(__x86_64__) || defined(__i386__)
KERNELS(avx2, __attribute__((target("avx2,fma"))))
ROW_KERNELS(avx2, __attribute__((target("avx2,fma"))))
ADAMW_KERNEL(avx2, __attribute__((target("avx2,fma"))))
BROADCAST_KERNEL(avx2, __attribute__((target("avx2,fma"))))
#define HAVE_AVX2 1
#else
#define HAVE_AVX2 0
#endif

static int use_avx2 = -1;

// ijepa_vec_init chooses the kernels once; it returns 1 for AVX2+FMA.
int ijepa_vec_init(void) {
	if (use_avx2 < 0) {
#if HAVE_AVX2
		__builtin_cpu_init();
		use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
		use_avx2 = 0;
#endif
	}
	return use_avx2;
}

// ijepa_vec_use_avx2 chooses the AVX2+FMA kernels (on != 0, where the CPU
// has them) or the baseline ones, and returns the previous choice. The tests
// use it to run the baseline kernels on every machine.
int ijepa_vec_use_avx2(int on) {
	int prev = ijepa_vec_init();
#if HAVE_AVX2
	use_avx2 = on && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	return prev;
}

#if HAVE_AVX2
#define DISPATCH(name, ...) (use_avx2 ? name##_avx2(__VA_ARGS__) : name##_base(__VA_ARGS__))
#else
#define DISPATCH(name, ...) name##_base(__VA_ARGS__)
#endif

void ijepa_vec_gelu(float *y, const float *x, long n) { DISPATCH(gelu, y, x, n); }
void ijepa_vec_gelu_grad(float *dx, const float *dy, const float *x, long n) { DISPATCH(gelu_grad, dx, dy, x, n); }
void ijepa_vec_softmax(float *y, const float *x, long rows, long cols, float alpha) {
	DISPATCH(softmax, y, x, rows, cols, alpha);
}
void ijepa_vec_layernorm(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                         const float *beta, long rows, long cols, double eps) {
	DISPATCH(layernorm, y, mean, rstd, x, gamma, beta, rows, cols, eps);
}
// scratch returns n zeroed floats: buf when it is large enough, else from
// the heap (freed by the caller with release).
static float *scratch(float *buf, long cap, long n) {
	float *p = n <= cap ? buf : malloc(n * sizeof(float));
	if (p) memset(p, 0, n * sizeof(float));
	return p;
}
static void release(float *buf, float *p) {
	if (p != buf) free(p);
}

// ijepa_vec_layernorm_bwd returns -1 if it could not get scratch memory.
int ijepa_vec_layernorm_bwd(float *dx, double *dg, double *db, const float *dy, const float *x,
                            const float *mean, const float *rstd, const float *gamma, long rows,
                            long cols) {
	float buf[2 * 2048];
	float *p = NULL;
	if (dg) {
		p = scratch(buf, 2 * 2048, 2 * cols);
		if (!p) return -1;
	}
	DISPATCH(layernorm_bwd, dx, dg, db, p, p ? p + cols : NULL, dy, x, mean, rstd, gamma, rows, cols);
	if (p) release(buf, p);
	return 0;
}

// ijepa_vec_colsum returns -1 if it could not get scratch memory.
int ijepa_vec_colsum(double *acc, const float *x, long rows, long cols) {
	float buf[4096];
	float *p = scratch(buf, 4096, cols);
	if (!p) return -1;
	DISPATCH(colsum, acc, p, x, rows, cols);
	release(buf, p);
	return 0;
}


// ijepa_vec_adamw: see ADAMW_KERNEL; s holds the eight scalars.
void ijepa_vec_adamw(float *p, float *m, float *v, const float *g, long n, const float *s) {
	DISPATCH(adamw, p, m, v, g, n, s);
}

// ijepa_vec_broadcast: see BROADCAST_KERNEL.
void ijepa_vec_broadcast(float *y, const float *a, const float *x, long rows, long nx, int mul) {
	DISPATCH(broadcast, y, a, x, rows, nx, mul);
}
