#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// matmul: c[z] = alpha * op(a[z]) @ op(b[z]) + beta * c[z], op(a) [M,K],
// op(b) [K,N], batch z = the third grid dimension. c is not read when beta
// is 0.
//
// Tiled through shared memory: a workgroup computes a BM x BN tile of c,
// stepping over K in slices of BK. It stages the BM x BK slice of op(a)
// (rows of BK/4 vec4s) and the BK x BN slice of op(b) (rows of BN/4 vec4s)
// in shared memory, zero outside the matrices; then each invocation
// accumulates a TM x TN register tile (rows ty*TM.., columns tx*TN..) from
// vec4 reads of the slices: TM + TN vec4 loads feed 4*TM*TN multiply-adds.
// Everything is in vec4s because on CPU devices (lavapipe) each memory
// access costs a per-lane loop, so four floats per access matter, and GPUs
// like 16-byte accesses too.
//
// Global loads: with VEC (the host checks that the operand's contiguous
// dimension is a multiple of 4), a non-transposed operand is read as vec4s;
// otherwise, and for transposed operands, as scalars ordered so that
// neighbouring invocations read neighbouring addresses.
//
// The workgroup size must be (BM/TM)*(BN/TN) and divide BM*BK/4 and
// BK*BN/4; BK, TN and BN are multiples of 4.
//
// On CPU devices (lavapipe) shared memory does not pay: every shared or
// storage-buffer access there is a loop over the SIMD lanes, and the CPU's
// caches already hold the tiles. With REG set, a workgroup is one subgroup
// of SG lanes (SG = the subgroup size), each lane owning TN consecutive
// columns of a TM-row register tile read straight from the buffers: per k, a
// lane loads TN values of op(b) and TM/SG values of op(a), and the subgroup
// shares the a values by subgroupShuffle, so TN + TM/SG loads feed TM*TN
// multiply-adds. Every loop but the one over K
// has a trip count fixed by the specialisation constants, so drivers unroll
// them (lavapipe counts loop iterations against a limit).
//
// 16-bit operands (AB = 1: bf16, 2: f16; the op table's matmul signatures):
// a and b are read as the uints (or uvec2s, for a vec4 load) holding their
// 16-bit elements and converted in the shader (half.glsl: bf16 is the high
// half of a float32, f16 converts exactly), and the sums stay float32. c is
// float32, or with C16 in a and b's dtype: its beta term is read the same
// way, and the result is rounded once (half.glsl). An invocation writes
// each uint of c whose two columns are both its own with one plain store,
// and a column whose neighbour in the uint is another invocation's into its
// half by atomicAnd/atomicOr (the edges of a tile in a row of odd length).
// Only 32-bit words and core atomics are used, so the module needs no
// 16-bit storage feature and the float32 variants run on any device.
#include "common.glsl"
#include "half.glsl"

layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const bool TA = false;  // a is stored [K,M]
layout(constant_id = 7) const bool TB = false;  // b is stored [N,K]
layout(constant_id = 8) const bool VECA = false; // a's rows are vec4-aligned (K % 4 == 0, !TA)
layout(constant_id = 9) const bool VECB = false; // b's rows are vec4-aligned (N % 4 == 0, !TB)
layout(constant_id = 10) const bool REG = false;  // the register-tiled variant for CPU devices
layout(constant_id = 11) const uint SG = 8;       // its subgroup size (= the workgroup size)
layout(constant_id = 12) const bool VECK = false; // REG: K % 4 == 0, !TA, !TB
layout(constant_id = 13) const uint AB = 0;       // a and b: 0 float32, 1 bf16, 2 f16
layout(constant_id = 14) const bool C16 = false;  // c has a and b's 16-bit dtype

layout(set = 0, binding = 0) buffer C { float c[]; };
layout(set = 0, binding = 0) buffer CH { uint ch[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };
layout(set = 0, binding = 1) readonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 2) readonly buffer B4 { vec4 b4[]; };
layout(set = 0, binding = 1) readonly buffer AH { uint ah[]; };
layout(set = 0, binding = 2) readonly buffer BH { uint bh[]; };
layout(set = 0, binding = 1) readonly buffer AH4 { uvec2 ah4[]; };
layout(set = 0, binding = 2) readonly buffer BH4 { uvec2 bh4[]; };

layout(push_constant) uniform Params {
    uint oc, oa, ob;
    uint M, N, K;
    float alpha, beta;
} p;

// half4 returns the four 16-bit elements of w.
vec4 half4(uvec2 w) {
    return vec4(widen16(w.x, AB), widen16(w.x >> 16, AB), widen16(w.y, AB), widen16(w.y >> 16, AB));
}

// Element i of a and b, and their vec4 q (elements 4q .. 4q+3).
float ldA(uint i) { return LOAD(a, ah, i, AB); }
float ldB(uint i) { return LOAD(b, bh, i, AB); }
vec4 ldA4(uint q) { return AB == 0u ? a4[q] : half4(ah4[q]); }
vec4 ldB4(uint q) { return AB == 0u ? b4[q] : half4(bh4[q]); }

// comp returns component kk of v; kk is a constant once loops unroll, so
// this is a plain swizzle (no dynamic vector indexing for the compiler to
// lower into local memory).
float comp(vec4 v, uint kk) {
    return kk == 0 ? v.x : kk == 1 ? v.y : kk == 2 ? v.z : v.w;
}

// get16 reads element i of a 16-bit c by an atomic: the other half of its
// uint may be another invocation's (written by PUT16).
float get16(uint i) { return half16(atomicOr(ch[i / 2u], 0u), i, AB); }

// store4 writes c[i + r] = alpha*v[r] + beta*c[i + r] (c not read when beta
// is 0) for r = 0 .. 3, column n + r, where the column is below N. With
// C16, a pair of them that fills a uint of c is this invocation's alone and
// is written by one plain store, others by atomics.
void store4(uint i, uint n, uint N, vec4 v) {
    v *= p.alpha;
    if (!C16) {
        [[unroll]] for (uint r = 0; r < 4; r++) {
            if (n + r < N) {
                float x = comp(v, r);
                if (p.beta != 0.0) {
                    x += p.beta * c[i + r];
                }
                c[i + r] = x;
            }
        }
        return;
    }
    [[unroll]] for (uint r = 0; r < 4; r += 2) {
        bool in0 = n + r < N, in1 = n + r + 1u < N;
        vec2 x = vec2(comp(v, r), comp(v, r + 1u));
        if (p.beta != 0.0) {
            if (in0) x.x += p.beta * get16(i + r);
            if (in1) x.y += p.beta * get16(i + r + 1u);
        }
        uint h0 = narrow16(x.x, AB), h1 = narrow16(x.y, AB);
        if (in1 && ((i + r) & 1u) == 0u) {
            ch[(i + r) / 2u] = h0 | (h1 << 16);
        } else {
            if (in0) PUT16(ch, i + r, h0)
            if (in1) PUT16(ch, i + r + 1u, h1)
        }
    }
}

const uint KQ = BK / 4; // vec4s per row of the a slice
const uint NQ = BN / 4; // vec4s per row of the b slice
const uint TQ = TN / 4; // vec4s per row of the register tile
shared vec4 As[BM * KQ]; // [m][k/4]
shared vec4 Bs[BK * NQ]; // [k][n/4]

// acc is an invocation's TM x TN tile of sums (row i: vec4s i*TQ ..).
vec4 acc[TM * TQ];

// storeAcc stores (store4) acc at rows m0 .. m0+TM-1, columns n0 ..
// n0+TN-1 of the matrix of c at cb, those within M x N. A 16-bit c's
// stores are in loops the driver keeps, over a copy of acc that they index:
// unrolled, their conversions and atomics made llvmpipe take twice as long
// to compile a pipeline.
void storeAcc(uint cb, uint m0, uint n0, uint M, uint N) {
    if (C16) {
        vec4 res[TM * TQ];
        [[unroll]] for (uint k = 0; k < TM * TQ; k++) {
            res[k] = acc[k];
        }
        [[dont_unroll]] for (uint i = 0; i < TM; i++) {
            [[dont_unroll]] for (uint j = 0; j < TQ; j++) {
                if (m0 + i < M) {
                    store4(cb + (m0 + i) * N + n0 + 4 * j, n0 + 4 * j, N, res[i * TQ + j]);
                }
            }
        }
        return;
    }
    [[unroll]] for (uint i = 0; i < TM; i++) {
        [[unroll]] for (uint j = 0; j < TQ; j++) {
            if (m0 + i < M) {
                store4(cb + (m0 + i) * N + n0 + 4 * j, n0 + 4 * j, N, acc[i * TQ + j]);
            }
        }
    }
}

// mainReg is the REG variant: group (x, y, z) computes rows y*TM .. +TM-1
// and columns x*SG*TN .. +SG*TN-1 of c[z]. With VECK (K % 4 == 0, neither
// operand transposed) the loop steps over K four at a time and reads a's
// rows as vec4s. (With a transposed operand, the same four-step loop made
// llvmpipe's compiler take seconds per pipeline; the host also keeps TA
// with TB off this variant for that reason.)
void mainReg() {
    uint M = p.M, N = p.N, K = p.K;
    uint z = gl_WorkGroupID.z;
    uint ab = p.oa + z * M * K;
    uint bb = p.ob + z * K * N;
    uint cb = p.oc + z * M * N;
    uint lane = gl_SubgroupInvocationID;
    uint n0 = gl_GlobalInvocationID.x * TN;
    uint m0 = gl_WorkGroupID.y * TM;
    [[unroll]] for (uint i = 0; i < TM * TQ; i++) {
        acc[i] = vec4(0.0);
    }
    // Rows and columns past the matrix read row or column 0 (their results
    // are dropped), so the loops have no bounds checks.
    uint am[TM / SG];
    [[unroll]] for (uint s = 0; s < TM / SG; s++) {
        uint m = m0 + s * SG + lane;
        am[s] = m < M ? m : 0;
    }
    uint bn[TN];
    [[unroll]] for (uint j = 0; j < TN; j++) {
        uint n = n0 + j;
        bn[j] = n < N ? n : 0;
    }
    bool full = VECB && n0 + TN <= N;
    if (VECK) {
        for (uint k0 = 0; k0 < K; k0 += 4) {
            // av[s] = op(a)[m0 + s*SG + lane, k0 .. k0+3]
            vec4 av[TM / SG];
            [[unroll]] for (uint s = 0; s < TM / SG; s++) {
                av[s] = ldA4((ab + am[s] * K + k0) / 4);
            }
            for (uint kk = 0; kk < 4; kk++) {
                uint k = k0 + kk;
                vec4 bv[TQ];
                [[unroll]] for (uint j = 0; j < TQ; j++) {
                    if (full) {
                        bv[j] = ldB4((bb + k * N + n0) / 4 + j);
                    } else {
                        bv[j] = vec4(ldB(bb + k * N + bn[4 * j]), ldB(bb + k * N + bn[4 * j + 1]),
                                     ldB(bb + k * N + bn[4 * j + 2]), ldB(bb + k * N + bn[4 * j + 3]));
                    }
                }
                [[unroll]] for (uint i = 0; i < TM; i++) {
                    float ai = subgroupShuffle(comp(av[i / SG], kk), i % SG);
                    [[unroll]] for (uint j = 0; j < TQ; j++) {
                        acc[i * TQ + j] = fma(vec4(ai), bv[j], acc[i * TQ + j]);
                    }
                }
            }
        }
    } else {
        for (uint k = 0; k < K; k++) {
            float av[TM / SG];
            [[unroll]] for (uint s = 0; s < TM / SG; s++) {
                av[s] = TA ? ldA(ab + k * M + am[s]) : ldA(ab + am[s] * K + k);
            }
            vec4 bv[TQ];
            [[unroll]] for (uint j = 0; j < TQ; j++) {
                if (full) {
                    bv[j] = ldB4((bb + k * N + n0) / 4 + j);
                } else if (TB) {
                    bv[j] = vec4(ldB(bb + bn[4 * j] * K + k), ldB(bb + bn[4 * j + 1] * K + k),
                                 ldB(bb + bn[4 * j + 2] * K + k), ldB(bb + bn[4 * j + 3] * K + k));
                } else {
                    bv[j] = vec4(ldB(bb + k * N + bn[4 * j]), ldB(bb + k * N + bn[4 * j + 1]),
                                 ldB(bb + k * N + bn[4 * j + 2]), ldB(bb + k * N + bn[4 * j + 3]));
                }
            }
            [[unroll]] for (uint i = 0; i < TM; i++) {
                float ai = subgroupShuffle(av[i / SG], i % SG);
                [[unroll]] for (uint j = 0; j < TQ; j++) {
                    acc[i * TQ + j] = fma(vec4(ai), bv[j], acc[i * TQ + j]);
                }
            }
        }
    }
    storeAcc(cb, m0, n0, M, N);
}

void main() {
    if (REG) {
        mainReg();
        return;
    }
    const uint TX = BN / TN;
    uint l = gl_LocalInvocationID.x;
    uint tx = l % TX;
    uint ty = l / TX;
    uint m0 = gl_WorkGroupID.y * BM;
    uint n0 = gl_WorkGroupID.x * BN;
    uint z = gl_WorkGroupID.z;
    uint M = p.M, N = p.N, K = p.K;
    uint ab = p.oa + z * M * K;
    uint bb = p.ob + z * K * N;
    uint cb = p.oc + z * M * N;

    [[unroll]] for (uint i = 0; i < TM * TQ; i++) {
        acc[i] = vec4(0.0);
    }
    vec4 ra[TM];

    for (uint k0 = 0; k0 < K; k0 += BK) {
        // Stage the a slice: vec4 e holds op(a)[m0+m, k0+4q .. +3].
        [[unroll]] for (uint s = 0; s < BM * KQ / WG; s++) {
            uint e = l + s * WG;
            if (VECA) {
                uint m = e / KQ, q = e % KQ;
                uint gm = m0 + m, gk = k0 + 4 * q;
                vec4 v = vec4(0.0);
                if (gm < M && gk < K) {
                    v = ldA4((ab + gm * K + gk) / 4);
                }
                As[e] = v;
            } else {
                uint m, q;
                if (TA) { // neighbours read neighbouring m
                    m = e % BM;
                    q = e / BM;
                } else {
                    m = e / KQ;
                    q = e % KQ;
                }
                uint gm = m0 + m, gk = k0 + 4 * q;
                vec4 v = vec4(0.0);
                [[unroll]] for (uint r = 0; r < 4; r++) {
                    if (gm < M && gk + r < K) {
                        v[r] = TA ? ldA(ab + (gk + r) * M + gm) : ldA(ab + gm * K + gk + r);
                    }
                }
                As[m * KQ + q] = v;
            }
        }
        // Stage the b slice: vec4 e holds op(b)[k0+k, n0+4q .. +3].
        [[unroll]] for (uint s = 0; s < BK * NQ / WG; s++) {
            uint e = l + s * WG;
            if (VECB) {
                uint k = e / NQ, q = e % NQ;
                uint gk = k0 + k, gn = n0 + 4 * q;
                vec4 v = vec4(0.0);
                if (gk < K && gn < N) {
                    v = ldB4((bb + gk * N + gn) / 4);
                }
                Bs[e] = v;
            } else {
                uint k, q;
                if (TB) { // neighbours read neighbouring k
                    k = e % BK;
                    q = e / BK;
                } else {
                    k = e / NQ;
                    q = e % NQ;
                }
                uint gk = k0 + k, gn = n0 + 4 * q;
                vec4 v = vec4(0.0);
                [[unroll]] for (uint r = 0; r < 4; r++) {
                    if (gk < K && gn + r < N) {
                        v[r] = TB ? ldB(bb + (gn + r) * K + gk) : ldB(bb + gk * N + gn + r);
                    }
                }
                Bs[k * NQ + q] = v;
            }
        }
        memoryBarrierShared();
        barrier();
        [[unroll]] for (uint q = 0; q < KQ; q++) {
            [[unroll]] for (uint i = 0; i < TM; i++) {
                ra[i] = As[(ty * TM + i) * KQ + q];
            }
            [[unroll]] for (uint r = 0; r < 4; r++) {
                [[unroll]] for (uint j = 0; j < TQ; j++) {
                    vec4 bv = Bs[(4 * q + r) * NQ + tx * TQ + j];
                    [[unroll]] for (uint i = 0; i < TM; i++) {
                        acc[i * TQ + j] = fma(vec4(ra[i][r]), bv, acc[i * TQ + j]);
                    }
                }
            }
        }
        barrier();
    }

    storeAcc(cb, m0 + ty * TM, n0 + tx * TN, M, N);
}
