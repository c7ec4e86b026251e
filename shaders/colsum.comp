#version 450
#extension GL_GOOGLE_include_directive : require
// colsum, and the dgamma/dbeta sums of layernorm_bwd: column sums of an
// [R,C] matrix. Workgroup (gx, gy) sums columns gx*WG .. gx*WG+WG-1 over rows
// [gy*rows, min(R, (gy+1)*rows)) and writes them to row gy of y ([chunks,C]);
// a second dispatch (MODE 0, one chunk) sums the chunks when there are
// several. Each invocation owns a column and walks its rows in order, so the
// result is deterministic.
#include "common.glsl"

// 0: a[r,j]; 1: a[r,j] * (x[r,j] - mean[r]) * rstd[r] (dy * xhat).
layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer A { float a[]; };
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
            s += a[p.oa + k] * ((x[p.ox + k] - mean[p.om + r]) * rstd[p.ors + r]);
        } else {
            s += a[p.oa + k];
        }
    }
    y[p.oy + gl_WorkGroupID.y * p.C + j] = s;
}
