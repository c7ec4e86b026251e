#version 450
#extension GL_GOOGLE_include_directive : require
// sum, sumsq, mse and smooth_l1: sums of a term over n elements, in two
// passes. Pass 1 (any MODE) runs G workgroups; workgroup g sums the term
// over elements [g*chunk, min(n, (g+1)*chunk)) and writes y[g] = sum*scale.
// Pass 2 (MODE 0, one workgroup) sums the G partial sums. With G = 1 pass 1
// writes the result directly. The order of additions depends only on n, so
// results are deterministic.
#include "common.glsl"
#include "reduce.glsl"

// 0: a, 1: a^2, 2: (a-b)^2, 3: smooth-L1 of a-b with switch point beta.
layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };

layout(push_constant) uniform Params {
    uint oy, oa, ob;
    uint n, chunk;
    float beta, scale;
} p;

float term(uint i) {
    float u = a[p.oa + i];
    if (MODE == 0) {
        return u;
    }
    if (MODE == 1) {
        return u * u;
    }
    float d = u - b[p.ob + i];
    if (MODE == 2) {
        return d * d;
    }
    float ad = abs(d);
    return ad < p.beta ? 0.5 * d * d / p.beta : ad - 0.5 * p.beta;
}

void main() {
    uint g = groupIndex();
    uint lo = g * p.chunk;
    uint hi = min(p.n, lo + p.chunk);
    float s = 0.0;
    for (uint i = lo + gl_LocalInvocationID.x; i < hi; i += WG) {
        s += term(i);
    }
    s = wgSum(s);
    if (gl_LocalInvocationID.x == 0) {
        y[p.oy + g] = s * p.scale;
    }
}
