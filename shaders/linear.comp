#version 450
#extension GL_GOOGLE_include_directive : require
// scale, axpy and ema: y = q*x (READ_Y false) or y = r*y + q*x (READ_Y true:
// axpy with r = 1, ema with r = m, q = 1-m). y may be x (in place).
#include "common.glsl"

layout(constant_id = 1) const bool READ_Y = false;

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };

layout(push_constant) uniform Params {
    uint oy, ox;
    uint n;
    float r, q;
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
        float v = p.q * x[p.ox + i];
        if (READ_Y) {
            v = p.r * y[p.oy + i] + v;
        }
        y[p.oy + i] = v;
    }
}
