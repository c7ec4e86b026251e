#version 450
#extension GL_GOOGLE_include_directive : require
// patchify: img [B,C,H,W] -> y [B,(H/P)*(W/P),C*P*P] with
//   y[b, i*(W/P)+j, c*P*P + u*P + v] = img[b, c, i*P+u, j*P+v].
#include "common.glsl"

layout(set = 0, binding = 0) buffer Y { float y[]; };
layout(set = 0, binding = 1) readonly buffer Img { float img[]; };

layout(push_constant) uniform Params {
    uint oy, oi;
    uint B, C, H, W, P;
} p;

void main() {
    uint gw = p.W / p.P;
    uint np = (p.H / p.P) * gw;
    uint cpp = p.C * p.P * p.P;
    uint n = p.B * np * cpp;
    for (uint k = gl_GlobalInvocationID.x; k < n; k += gridStride()) {
        uint col = k % cpp;
        uint q = (k / cpp) % np; // the patch
        uint b = k / (cpp * np);
        uint c = col / (p.P * p.P);
        uint u = (col / p.P) % p.P;
        uint v = col % p.P;
        uint row = (q / gw) * p.P + u;
        uint x = (q % gw) * p.P + v;
        y[p.oy + k] = img[p.oi + ((b * p.C + c) * p.H + row) * p.W + x];
    }
}
