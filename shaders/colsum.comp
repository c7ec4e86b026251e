#version 450
#extension GL_GOOGLE_include_directive : require
// colsum, and the dgamma/dbeta sums of layernorm_bwd: column sums of an
// [R,C] matrix. Workgroup (gx, gy) sums columns gx*WG .. gx*WG+WG-1 over rows
// [gy*rows, min(R, (gy+1)*rows)) and writes them to row gy of y ([chunks,C]);
// a second dispatch (MODE 0, one chunk) sums the chunks when there are
// several. Each invocation owns a column and walks its rows in order, so the
// result is deterministic.
//
// AT and YT are the dtypes of a and y (0 float32, 1 bf16, 2 f16; x, mean
// and rstd are float32): a 16-bit a is read as 32-bit words (half.glsl) and
// summed in float32, and a 16-bit y rounded once and written by atomics,
// the other half of its uint being another invocation's column. colsum
// sums a 16-bit x either in one pass (AT = YT) or into float32 chunks (AT,
// YT = 0) and then those into y (0, YT).
#include "common.glsl"
#include "half.glsl"

// 0: a[r,j]; 1: a[r,j] * (x[r,j] - mean[r]) * rstd[r] (dy * xhat).
layout(constant_id = 1) const uint MODE = 0;
layout(constant_id = 2) const uint AT = 0;
layout(constant_id = 3) const uint YT = 0;

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 0) buffer YH { uint yh[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer AH { uint ah[]; };
layout(set = 0, binding = 2) readonly buffer X { float x[]; };
layout(set = 0, binding = 3) readonly buffer Mean { float mean[]; };
layout(set = 0, binding = 4) readonly buffer Rstd { float rstd[]; };

layout(push_constant) uniform Params {
    uint oy, oa, ox, om, ors;
    uint R, C, rows;
} p;

void main() {
    uint j = gl_WorkGroupID.x * WG + gl_LocalInvocationID.x;
    if (j >= p.C) {
        return;
    }
    uint lo = gl_WorkGroupID.y * p.rows;
    uint hi = min(p.R, lo + p.rows);
    float s = 0.0;
    for (uint r = lo; r < hi; r++) {
        uint k = r * p.C + j;
        if (MODE == 1) {
            s += LOAD(a, ah, p.oa + k, AT) * ((x[p.ox + k] - mean[p.om + r]) * rstd[p.ors + r]);
        } else {
            s += LOAD(a, ah, p.oa + k, AT);
        }
    }
    uint g = p.oy + gl_WorkGroupID.y * p.C + j;
    if (YT == 0u) {
        y[g] = s;
    } else {
        PUT16(yh, g, narrow16(s, YT))
    }
}
