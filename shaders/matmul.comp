#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// matmul: c[z] = alpha * op(a[z]) @ op(b[z]) + beta * c[z], op(a) [M,K],
// op(b) [K,N], batch z = the third grid dimension. c is not read when beta
// is 0.
//
// Tiled through shared memory: a workgroup computes a BM x BN tile of c,
// stepping over K in slices of BK: it stages the BM x BK slice of op(a) and
// the BK x BN slice of op(b) in shared memory (zero outside the matrices),
// then each invocation accumulates a TM x TN register tile from them (rows
// ty + i*BM/TM, columns tx + j*BN/TN, so neighbouring invocations touch
// neighbouring columns). Global loads are ordered so that neighbouring
// invocations read neighbouring addresses whichever operand is transposed.
// The workgroup size must be (BM/TM)*(BN/TN) and divide BM*BK and BN*BK; the
// host picks the tile from the shape and the device and checks the
// shared-memory size. Every loop but the one over K has a trip count fixed by
// the specialisation constants, so the driver unrolls them.
#include "common.glsl"

layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const bool TA = false; // a is stored [K,M]
layout(constant_id = 7) const bool TB = false; // b is stored [N,K]

layout(set = 0, binding = 0) buffer C { float c[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };

layout(push_constant) uniform Params {
    uint oc, oa, ob;
    uint M, N, K;
    float alpha, beta;
} p;

const uint SA = BM + 1; // padded strides of the shared tiles
const uint SB = BN + 1;
shared float As[BK * SA];
shared float Bs[BK * SB];

void main() {
    const uint TX = BN / TN;
    const uint TY = BM / TM;
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

    float acc[TM * TN];
    [[unroll]] for (uint i = 0; i < TM * TN; i++) {
        acc[i] = 0.0;
    }
    float ra[TM];
    float rb[TN];

    for (uint k0 = 0; k0 < K; k0 += BK) {
        [[unroll]] for (uint q = 0; q < BM * BK / WG; q++) {
            uint e = l + q * WG;
            uint mm, kk;
            if (TA) {
                mm = e % BM;
                kk = e / BM;
            } else {
                kk = e % BK;
                mm = e / BK;
            }
            uint gm = m0 + mm, gk = k0 + kk;
            float v = 0.0;
            if (gm < M && gk < K) {
                v = TA ? a[ab + gk * M + gm] : a[ab + gm * K + gk];
            }
            As[kk * SA + mm] = v;
        }
        [[unroll]] for (uint q = 0; q < BN * BK / WG; q++) {
            uint e = l + q * WG;
            uint nn, kk;
            if (TB) {
                kk = e % BK;
                nn = e / BK;
            } else {
                nn = e % BN;
                kk = e / BN;
            }
            uint gn = n0 + nn, gk = k0 + kk;
            float v = 0.0;
            if (gn < N && gk < K) {
                v = TB ? b[bb + gn * K + gk] : b[bb + gk * N + gn];
            }
            Bs[kk * SB + nn] = v;
        }
        memoryBarrierShared();
        barrier();
        [[unroll]] for (uint kk = 0; kk < BK; kk++) {
            [[unroll]] for (uint i = 0; i < TM; i++) {
                ra[i] = As[kk * SA + ty + i * TY];
            }
            [[unroll]] for (uint j = 0; j < TN; j++) {
                rb[j] = Bs[kk * SB + tx + j * TX];
            }
            [[unroll]] for (uint i = 0; i < TM; i++) {
                [[unroll]] for (uint j = 0; j < TN; j++) {
                    acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
                }
            }
        }
        barrier();
    }

    [[unroll]] for (uint i = 0; i < TM; i++) {
        uint gm = m0 + ty + i * TY;
        [[unroll]] for (uint j = 0; j < TN; j++) {
            uint gn = n0 + tx + j * TX;
            if (gm < M && gn < N) {
                uint k = cb + gm * N + gn;
                float v = p.alpha * acc[i * TN + j];
                if (p.beta != 0.0) {
                    v += p.beta * c[k];
                }
                c[k] = v;
            }
        }
    }
}
