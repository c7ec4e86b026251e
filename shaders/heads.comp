#version 450
#extension GL_GOOGLE_include_directive : require
// split_heads and merge_heads, one dispatch per part (number p.part of G):
// with the packed tensor [B,T,G*H*E] seen as [B,T,G,H,E] and the part
// [B,H,T,E],
//   split: part[b,h,t,e] = packed[b,t,part,h,e]
//   merge: packed[b,t,part,h,e] = part[b,h,t,e]
#include "common.glsl"

layout(constant_id = 1) const bool MERGE = false;

layout(set = 0, binding = 0) buffer Packed { float pk[]; };
layout(set = 0, binding = 1) buffer Part { float pt[]; };

layout(push_constant) uniform Params {
    uint opk, opt;
    uint B, T, G, part, H, E;
} p;

void main() {
    uint n = p.B * p.H * p.T * p.E;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += gridStride()) {
        uint e = i % p.E;
        uint t = (i / p.E) % p.T;
        uint h = (i / (p.E * p.T)) % p.H;
        uint b = i / (p.E * p.T * p.H);
        uint k = (((b * p.T + t) * p.G + p.part) * p.H + h) * p.E + e;
        if (MERGE) {
            pk[p.opk + k] = pt[p.opt + i];
        } else {
            pt[p.opt + i] = pk[p.opk + k];
        }
    }
}
