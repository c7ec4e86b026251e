#version 450
#extension GL_GOOGLE_include_directive : require
// scatter_add, the adjoint of gather: y[idx[r],:] += x[r,:] for r in order,
// y as [S,C], x as [R,C], deterministic and without atomics.
//
// The host knows the indices (an index tensor is only ever written from the
// host) and hands the kernel their rows grouped by destination, in order:
// ints holds
//   seg[0..nseg]  segment k is rows[seg[k] .. seg[k+1]), all for one
//                 destination, at most a few thousand rows long;
//   rows[0..R)    source rows, grouped by destination, ascending within one;
//   dest[0..nact) the destinations that receive rows, ascending;
//   dseg[0..nact] destination a owns segments dseg[a] .. dseg[a+1].
// MODE 2 (every destination one segment): y[d,j] += x[r,j] for its rows in
//   order — exactly the sequential definition.
// MODE 0: part[k,j] = sum of x[r,j] over segment k, then
// MODE 1: y[d,j] += part[k,j] for d's segments in order.
// Segments bound every loop: llvmpipe (lavapipe) ends an invocation's loops
// after 65,535 iterations in all.
#include "common.glsl"

layout(constant_id = 1) const uint MODE = 2;

layout(set = 0, binding = 0) buffer Y { float y[]; };       // y, or part (MODE 0)
layout(set = 0, binding = 1) readonly buffer X { float x[]; }; // x, or part (MODE 1)
layout(set = 0, binding = 2) readonly buffer I { int ints[]; };

layout(push_constant) uniform Params {
    uint oy, ox, oi;
    uint oseg, orows, odest, odseg; // offsets of the arrays within ints
    uint n;                         // nseg (MODE 0) or nact (MODE 1, 2)
    uint C;
} p;

void main() {
    uint total = p.n * p.C;
    for (uint i = gl_GlobalInvocationID.x; i < total; i += gridStride()) {
        uint a = i / p.C;
        uint j = i - a * p.C;
        if (MODE == 0) {
            uint lo = uint(ints[p.oi + p.oseg + a]), hi = uint(ints[p.oi + p.oseg + a + 1]);
            float s = 0.0;
            for (uint k = lo; k < hi; k++) {
                s += x[p.ox + uint(ints[p.oi + p.orows + k]) * p.C + j];
            }
            y[p.oy + a * p.C + j] = s;
            continue;
        }
        uint d = uint(ints[p.oi + p.odest + a]);
        uint ky = p.oy + d * p.C + j;
        float acc = y[ky];
        if (MODE == 1) {
            uint lo = uint(ints[p.oi + p.odseg + a]), hi = uint(ints[p.oi + p.odseg + a + 1]);
            for (uint k = lo; k < hi; k++) {
                acc += x[p.ox + k * p.C + j];
            }
        } else {
            uint sg = uint(ints[p.oi + p.odseg + a]);
            uint lo = uint(ints[p.oi + p.oseg + sg]), hi = uint(ints[p.oi + p.oseg + sg + 1]);
            for (uint k = lo; k < hi; k++) {
                acc += x[p.ox + uint(ints[p.oi + p.orows + k]) * p.C + j];
            }
        }
        y[ky] = acc;
    }
}
