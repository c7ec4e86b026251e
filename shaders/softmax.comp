#version 450
#extension GL_GOOGLE_include_directive : require
// softmax and softmax_bwd over the last dim, one workgroup per row:
//   forward:  y = exp(alpha*x - m) / sum_k exp(alpha*x_k - m), m = max_k alpha*x_k
//   backward: dx = alpha * y * (dy - sum_k dy_k*y_k)
#include "common.glsl"
#include "reduce.glsl"

layout(constant_id = 1) const bool BWD = false;

layout(set = 0, binding = 0) buffer Out { float o[]; };          // y, or dx
layout(set = 0, binding = 1) readonly buffer In0 { float i0[]; }; // x, or dy
layout(set = 0, binding = 2) readonly buffer In1 { float i1[]; }; // y (backward)

layout(push_constant) uniform Params {
    uint oo, oi0, oi1;
    uint R, C;
    float alpha;
} p;

void main() {
    uint r = groupIndex();
    if (r >= p.R) {
        return;
    }
    uint l = gl_LocalInvocationID.x;
    uint base = r * p.C;
    if (BWD) {
        float s = 0.0;
        for (uint j = l; j < p.C; j += WG) {
            s += i0[p.oi0 + base + j] * i1[p.oi1 + base + j];
        }
        s = wgSum(s);
        for (uint j = l; j < p.C; j += WG) {
            float yj = i1[p.oi1 + base + j];
            o[p.oo + base + j] = p.alpha * yj * (i0[p.oi0 + base + j] - s);
        }
        return;
    }
    float m = uintBitsToFloat(0xff800000u); // -inf
    for (uint j = l; j < p.C; j += WG) {
        m = max(m, p.alpha * i0[p.oi0 + base + j]);
    }
    m = wgMax(m);
    float s = 0.0;
    for (uint j = l; j < p.C; j += WG) {
        s += exp(p.alpha * i0[p.oi0 + base + j] - m);
    }
    float inv = 1.0 / wgSum(s);
    for (uint j = l; j < p.C; j += WG) {
        o[p.oo + base + j] = exp(p.alpha * i0[p.oi0 + base + j] - m) * inv;
    }
}
