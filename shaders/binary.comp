#version 450
#extension GL_GOOGLE_include_directive : require
// add and mul: y = a + b, y = a * b, with b repeated over a's leading dims
// (nb divides n). y may be a (in place).
#include "common.glsl"

layout(constant_id = 1) const uint OP = 0; // 0 add, 1 mul

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };

layout(push_constant) uniform Params {
    uint oy, oa, ob; // element offsets
    uint n;          // elements of y and a
    uint nb;         // elements of b
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
        float u = a[p.oa + i];
        float v = b[p.ob + (p.nb == p.n ? i : i % p.nb)];
        y[p.oy + i] = OP == 0 ? u + v : u * v;
    }
}
