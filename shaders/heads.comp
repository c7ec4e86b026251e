#version 450
#extension GL_GOOGLE_include_directive : require
// split_heads and merge_heads, one dispatch per part (number p.part of G):
// with the packed tensor [B,T,G*H*E] seen as [B,T,G,H,E] and the part
// [B,H,T,E],
//   split: part[b,h,t,e] = packed[b,t,part,h,e]
//   merge: packed[b,t,part,h,e] = part[b,h,t,e]
// DT is the dtype of both: float32, or bf16 or f16 bound as 32-bit words,
// whose bits are moved as they are. In 16 bits an invocation writes whole
// uints of its output: split, the two elements of a uint of the part;
// merge, where E is even, elements e and e+1 of the part (e even), which
// land in one uint of the packed tensor; where E is odd, one element at a
// time by atomics (half.glsl).
#include "common.glsl"
#include "half.glsl"

layout(constant_id = 1) const bool MERGE = false;
layout(constant_id = 2) const uint DT = 0; // 0 float32, 1 bf16, 2 f16

layout(set = 0, binding = 0) buffer Packed { float pk[]; };
layout(set = 0, binding = 0) buffer PackedH { uint pkh[]; };
layout(set = 0, binding = 1) buffer Part { float pt[]; };
layout(set = 0, binding = 1) buffer PartH { uint pth[]; };

layout(push_constant) uniform Params {
    uint opk, opt;
    uint B, T, G, part, H, E;
} p;

// packed returns the index in the packed tensor of element i of the part.
uint packed(uint i) {
    uint e = i % p.E;
    uint t = (i / p.E) % p.T;
    uint h = (i / (p.E * p.T)) % p.H;
    uint b = i / (p.E * p.T * p.H);
    return (((b * p.T + t) * p.G + p.part) * p.H + h) * p.E + e;
}

void main() {
    uint n = p.B * p.H * p.T * p.E;
    if (DT == 0u) {
        for (uint i = gl_GlobalInvocationID.x; i < n; i += gridStride()) {
            uint k = packed(i);
            if (MERGE) {
                pk[p.opk + k] = pt[p.opt + i];
            } else {
                pt[p.opt + i] = pk[p.opk + k];
            }
        }
        return;
    }
    if (MERGE && p.E % 2u != 0u) {
        for (uint i = gl_GlobalInvocationID.x; i < n; i += gridStride()) {
            PUT16(pkh, p.opk + packed(i), BITS16(pth, p.opt + i))
        }
        return;
    }
    // Pairs i, i+1 (i even; the part starts on a uint); i+1 is past the end
    // for an odd n, where the pair's second half is padding.
    for (uint w = gl_GlobalInvocationID.x; 2u * w < n; w += gridStride()) {
        uint i = 2u * w;
        if (MERGE) {
            uint k = p.opk + packed(i); // even, as e is
            pkh[k / 2u] = pth[p.opt / 2u + w];
        } else {
            uint lo = BITS16(pkh, p.opk + packed(i));
            uint hi = i + 1u < n ? BITS16(pkh, p.opk + packed(i + 1u)) : pth[p.opt / 2u + w] >> 16;
            pth[p.opt / 2u + w] = lo | (hi << 16);
        }
    }
}
