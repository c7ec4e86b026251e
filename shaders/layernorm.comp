#version 450
#extension GL_GOOGLE_include_directive : require
// layernorm: one workgroup per row of x as [R,C]:
//   mean = sum_j x/C; var = sum_j (x-mean)^2/C; rstd = 1/sqrt(var+eps);
//   y = (x-mean)*rstd*gamma + beta (AFFINE) or (x-mean)*rstd.
// The variance is a second pass over the row (no E[x^2]-mean^2 cancellation).
#include "common.glsl"
#include "reduce.glsl"

layout(constant_id = 1) const bool AFFINE = false;

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) buffer Mean { float mean[]; };
layout(set = 0, binding = 2) buffer Rstd { float rstd[]; };
layout(set = 0, binding = 3) readonly buffer X { float x[]; };
layout(set = 0, binding = 4) readonly buffer Gamma { float gamma[]; };
layout(set = 0, binding = 5) readonly buffer Beta { float beta[]; };

layout(push_constant) uniform Params {
    uint oy, om, ors, ox, og, ob;
    uint R, C;
    float eps;
} p;

void main() {
    uint r = groupIndex();
    if (r >= p.R) {
        return;
    }
    uint l = gl_LocalInvocationID.x;
    uint base = r * p.C;
    float s = 0.0;
    for (uint j = l; j < p.C; j += WG) {
        s += x[p.ox + base + j];
    }
    float mu = wgSum(s) / float(p.C);
    float ss = 0.0;
    for (uint j = l; j < p.C; j += WG) {
        float d = x[p.ox + base + j] - mu;
        ss += d * d;
    }
    float rs = 1.0 / sqrt(wgSum(ss) / float(p.C) + p.eps);
    if (l == 0) {
        mean[p.om + r] = mu;
        rstd[p.ors + r] = rs;
    }
    for (uint j = l; j < p.C; j += WG) {
        float h = (x[p.ox + base + j] - mu) * rs;
        if (AFFINE) {
            h = h * gamma[p.og + j] + beta[p.ob + j];
        }
        y[p.oy + base + j] = h;
    }
}
