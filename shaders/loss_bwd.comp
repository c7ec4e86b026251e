#version 450
#extension GL_GOOGLE_include_directive : require
// smooth_l1_bwd and mse_bwd: dpred = dloss[0]/n * grad(pred - target), with
// grad(d) = d/beta if |d| < beta else sign(d) (smooth L1), or 2d (MSE).
#include "common.glsl"

layout(constant_id = 1) const uint MODE = 0; // 0 smooth L1, 1 MSE

layout(set = 0, binding = 0) buffer D { float dp[]; };
layout(set = 0, binding = 1) readonly buffer DL { float dl[]; };
layout(set = 0, binding = 2) readonly buffer P { float pr[]; };
layout(set = 0, binding = 3) readonly buffer T { float tg[]; };

layout(push_constant) uniform Params {
    uint od, odl, op, ot;
    uint n;
    float beta;
} p;

void main() {
    float k = dl[p.odl] / float(p.n);
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
        float d = pr[p.op + i] - tg[p.ot + i];
        float gr;
        if (MODE == 1) {
            gr = 2.0 * d;
        } else if (abs(d) < p.beta) {
            gr = d / p.beta;
        } else {
            gr = sign(d);
        }
        dp[p.od + i] = k * gr;
    }
}
