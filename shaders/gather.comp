#version 450
#extension GL_GOOGLE_include_directive : require
// gather: y[r,:] = x[idx[r],:], x as [S,C], y as [R,C]. Indices were checked
// on the host to lie in [0,S).
#include "common.glsl"

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) readonly buffer I { int idx[]; };

layout(push_constant) uniform Params {
    uint oy, ox, oi;
    uint R, C;
} p;

void main() {
    uint n = p.R * p.C;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += gridStride()) {
        uint r = i / p.C;
        uint j = i - r * p.C;
        y[p.oy + i] = x[p.ox + uint(idx[p.oi + r]) * p.C + j];
    }
}
