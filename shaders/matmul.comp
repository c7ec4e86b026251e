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
#include "common.glsl"

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

layout(set = 0, binding = 0) buffer C { float c[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };
layout(set = 0, binding = 1) readonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 2) readonly buffer B4 { vec4 b4[]; };

layout(push_constant) uniform Params {
    uint oc, oa, ob;
    uint M, N, K;
    float alpha, beta;
} p;

const uint KQ = BK / 4; // vec4s per row of the a slice
const uint NQ = BN / 4; // vec4s per row of the b slice
const uint TQ = TN / 4; // vec4s per row of the register tile
shared vec4 As[BM * KQ]; // [m][k/4]
shared vec4 Bs[BK * NQ]; // [k][n/4]

// comp returns component kk of v; kk is a constant once loops unroll, so
// this is a plain swizzle (no dynamic vector indexing for the compiler to
// lower into local memory).
float comp(vec4 v, uint kk) {
    return kk == 0 ? v.x : kk == 1 ? v.y : kk == 2 ? v.z : v.w;
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
    vec4 acc[TM * TQ];
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
                av[s] = a4[(ab + am[s] * K + k0) / 4];
            }
            for (uint kk = 0; kk < 4; kk++) {
                uint k = k0 + kk;
                vec4 bv[TQ];
                [[unroll]] for (uint j = 0; j < TQ; j++) {
                    if (full) {
                        bv[j] = b4[(bb + k * N + n0) / 4 + j];
                    } else {
                        bv[j] = vec4(b[bb + k * N + bn[4 * j]], b[bb + k * N + bn[4 * j + 1]],
                                     b[bb + k * N + bn[4 * j + 2]], b[bb + k * N + bn[4 * j + 3]]);
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
                av[s] = TA ? a[ab + k * M + am[s]] : a[ab + am[s] * K + k];
            }
            vec4 bv[TQ];
            [[unroll]] for (uint j = 0; j < TQ; j++) {
                if (full) {
                    bv[j] = b4[(bb + k * N + n0) / 4 + j];
                } else if (TB) {
                    bv[j] = vec4(b[bb + bn[4 * j] * K + k], b[bb + bn[4 * j + 1] * K + k],
                                 b[bb + bn[4 * j + 2] * K + k], b[bb + bn[4 * j + 3] * K + k]);
                } else {
                    bv[j] = vec4(b[bb + k * N + bn[4 * j]], b[bb + k * N + bn[4 * j + 1]],
                                 b[bb + k * N + bn[4 * j + 2]], b[bb + k * N + bn[4 * j + 3]]);
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
    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint gm = m0 + i;
        [[unroll]] for (uint j = 0; j < TQ; j++) {
            [[unroll]] for (uint r = 0; r < 4; r++) {
                uint gn = n0 + 4 * j + r;
                if (gm < M && gn < N) {
                    uint k = cb + gm * N + gn;
                    float v = p.alpha * comp(acc[i * TQ + j], r);
                    if (p.beta != 0.0) {
                        v += p.beta * c[k];
                    }
                    c[k] = v;
                }
            }
        }
    }
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

    vec4 acc[TM * TQ];
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
                    v = a4[(ab + gm * K + gk) / 4];
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
                        v[r] = TA ? a[ab + (gk + r) * M + gm] : a[ab + gm * K + gk + r];
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
                    v = b4[(bb + gk * N + gn) / 4];
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
                        v[r] = TB ? b[bb + (gn + r) * K + gk] : b[bb + gk * N + gn + r];
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

    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint gm = m0 + ty * TM + i;
        [[unroll]] for (uint j = 0; j < TQ; j++) {
            [[unroll]] for (uint r = 0; r < 4; r++) {
                uint gn = n0 + tx * TN + 4 * j + r;
                if (gm < M && gn < N) {
                    uint k = cb + gm * N + gn;
                    float v = p.alpha * acc[i * TQ + j][r];
                    if (p.beta != 0.0) {
                        v += p.beta * c[k];
                    }
                    c[k] = v;
                }
            }
        }
    }
}
