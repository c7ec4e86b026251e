#version 450
#extension GL_GOOGLE_include_directive : require
// adamw: one AdamW step as torch.optim.AdamW (amsgrad off). The scalars are
// derived on the host in float64 and rounded to float32:
//   decay = 1 - lr*wd, b1, b2, omb1 = 1-b1, omb2 = 1-b2,
//   lrc = lr / (1 - b1^t), bc2 = sqrt(1 - b2^t), eps.
#include "common.glsl"

layout(set = 0, binding = 0) buffer Param { float pr[]; };
layout(set = 0, binding = 1) buffer M { float m[]; };
layout(set = 0, binding = 2) buffer V { float v[]; };
layout(set = 0, binding = 3) readonly buffer G { float g[]; };

layout(push_constant) uniform Params {
    uint op, om, ov, og;
    uint n;
    float decay, b1, b2, omb1, omb2, lrc, bc2, eps;
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
        float gi = g[p.og + i];
        float mi = p.b1 * m[p.om + i] + p.omb1 * gi;
        float vi = p.b2 * v[p.ov + i] + p.omb2 * gi * gi;
        float pi = pr[p.op + i] * p.decay;
        pi -= p.lrc * mi / (sqrt(vi) / p.bc2 + p.eps);
        m[p.om + i] = mi;
        v[p.ov + i] = vi;
        pr[p.op + i] = pi;
    }
}
