#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// softmax and softmax_bwd over the last dim, one workgroup per row:
//   forward:  y = exp(alpha*x - m) / sum_k exp(alpha*x_k - m), m = max_k alpha*x_k
//   backward: dx = alpha * y * (dy - sum_k dy_k*y_k)
// DT is the dtype of every tensor: float32, or bf16 or f16 read and written
// as 32-bit words (half.glsl, store.glsl), the arithmetic in float32 and
// the output rounded once. In 16 bits a row of odd length shares a uint
// with the next row: store.glsl writes that element by atomics.
#include "common.glsl"
#include "half.glsl"
#include "reduce.glsl"

layout(constant_id = 1) const bool BWD = false;
layout(constant_id = 2) const uint DT = 0; // 0 float32, 1 bf16, 2 f16

layout(set = 0, binding = 0) buffer Out { float o[]; };          // y, or dx
layout(set = 0, binding = 0) buffer OutH { uint oh[]; };
layout(set = 0, binding = 1) readonly buffer In0 { float i0[]; }; // x, or dy
layout(set = 0, binding = 1) readonly buffer In0H { uint i0h[]; };
layout(set = 0, binding = 2) readonly buffer In1 { float i1[]; }; // y (backward)
layout(set = 0, binding = 2) readonly buffer In1H { uint i1h[]; };

layout(push_constant) uniform Params {
    uint oo, oi0, oi1;
    uint R, C;
    float alpha;
} p;

// Element j of this row of i0 and i1.
uint base;
float in0(uint j) { return LOAD(i0, i0h, p.oi0 + base + j, DT); }
float in1(uint j) { return LOAD(i1, i1h, p.oi1 + base + j, DT); }

// The row's reductions: forward, its max m and 1/sum (inv); backward, the
// sum s of dy*y.
float m, inv, s;

// value returns element j of the row of the output.
float value(uint j) {
    if (BWD) {
        return p.alpha * in1(j) * (in0(j) - s);
    }
    return exp(p.alpha * in0(j) - m) * inv;
}

#include "store.glsl"

void main() {
    uint r = groupIndex();
    if (r >= p.R) {
        return;
    }
    uint l = gl_LocalInvocationID.x;
    base = r * p.C;
    if (BWD) {
        float t = 0.0;
        for (uint j = l; j < p.C; j += WG) {
            t += in0(j) * in1(j);
        }
        s = wgSum(t);
    } else {
        float mx = uintBitsToFloat(0xff800000u); // -inf
        for (uint j = l; j < p.C; j += WG) {
            mx = max(mx, p.alpha * in0(j));
        }
        m = wgMax(mx);
        float t = 0.0;
        for (uint j = l; j < p.C; j += WG) {
            t += exp(p.alpha * in0(j) - m);
        }
        inv = 1.0 / wgSum(t);
    }
    if (DT == 0u) {
        for (uint j = l; j < p.C; j += WG) {
            o[p.oo + base + j] = value(j);
        }
    } else {
        store16(p.oo + base, p.C, l, WG);
    }
}
