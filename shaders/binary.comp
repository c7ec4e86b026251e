#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// add and mul: y = a + b, y = a * b, with b repeated over a's leading dims
// (nb divides n). y may be a (in place). DT is the dtype of all three
// (float32, or bf16 or f16 read and written as 32-bit words, the sum or
// product in float32 rounded once: half.glsl, store.glsl).
#include "common.glsl"
#include "half.glsl"

layout(constant_id = 1) const uint OP = 0; // 0 add, 1 mul
layout(constant_id = 2) const uint DT = 0; // 0 float32, 1 bf16, 2 f16

layout(set = 0, binding = 0) buffer Y { float o[]; };
layout(set = 0, binding = 0) buffer YH { uint oh[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer AH { uint ah[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) readonly buffer BH { uint bh[]; };

layout(push_constant) uniform Params {
    uint oy, oa, ob; // element offsets
    uint n;          // elements of y and a
    uint nb;         // elements of b
} p;

// value returns element i of y.
float value(uint i) {
    float u = LOAD(a, ah, p.oa + i, DT);
    float v = LOAD(b, bh, p.ob + (p.nb == p.n ? i : i % p.nb), DT);
    return OP == 0 ? u + v : u * v;
}

#include "store.glsl"

void main() {
    if (DT == 0u) {
        for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
            o[p.oy + i] = value(i);
        }
    } else {
        store16(p.oy, p.n, gl_GlobalInvocationID.x, gridStride());
    }
}
