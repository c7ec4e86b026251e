#version 450
#extension GL_GOOGLE_include_directive : require
// layernorm_bwd, the dx part: one workgroup per row, with
// xhat = (x-mean)*rstd and g = dy*gamma (AFFINE) or dy:
//   dx = rstd * (g - sum_k g/C - xhat * sum_k g*xhat/C).
// dgamma and dbeta are column sums (colsum.comp).
#include "common.glsl"
#include "reduce.glsl"

layout(constant_id = 1) const bool AFFINE = false;

layout(set = 0, binding = 0) buffer DX { float dx[]; };
layout(set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 2) readonly buffer X { float x[]; };
layout(set = 0, binding = 3) readonly buffer Mean { float mean[]; };
layout(set = 0, binding = 4) readonly buffer Rstd { float rstd[]; };
layout(set = 0, binding = 5) readonly buffer Gamma { float gamma[]; };

layout(push_constant) uniform Params {
    uint odx, ody, ox, om, ors, og;
    uint R, C;
} p;

void main() {
    uint r = groupIndex();
    if (r >= p.R) {
        return;
    }
    uint l = gl_LocalInvocationID.x;
    uint base = r * p.C;
    float mu = mean[p.om + r];
    float rs = rstd[p.ors + r];
    float sg = 0.0, sgx = 0.0;
    for (uint j = l; j < p.C; j += WG) {
        float g = dy[p.ody + base + j];
        if (AFFINE) {
            g *= gamma[p.og + j];
        }
        sg += g;
        sgx += g * ((x[p.ox + base + j] - mu) * rs);
    }
    sg = wgSum(sg) / float(p.C);
    sgx = wgSum(sgx) / float(p.C);
    for (uint j = l; j < p.C; j += WG) {
        float g = dy[p.ody + base + j];
        if (AFFINE) {
            g *= gamma[p.og + j];
        }
        float xh = (x[p.ox + base + j] - mu) * rs;
        dx[p.odx + base + j] = rs * (g - sg - xh * sgx);
    }
}
