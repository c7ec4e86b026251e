#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Elementwise activations and their gradients, one per MODE:
//   0 gelu:     y  = x * Phi(x)
//   1 gelu_bwd: dx = dy * (Phi(x) + x * phi(x))
//   2 silu:     y  = x * s,  s = sigmoid(x) = 1 / (1 + exp(-x))
//   3 silu_bwd: dx = dy * s * (1 + x * (1 - s))
// GELU is the exact (erf) GELU, with Phi the standard normal distribution function
// and phi its density.
// GLSL has no erf, so Phi is computed here to a few float32 ulps (relative
// error of a few ulps, checked against math.Erfc by backend/vulkan's tests):
//   |x| < 1: Phi = 1/2 + erf(z)/2, z = x/sqrt(2), by the Maclaurin series of
//            erf to z^19 (the first omitted term is below 1e-9);
//   |x| >= 1: erfc(z) by the Chebyshev fit of Numerical Recipes' erfcc
//            (fractional error below 1.2e-7), with exp(-x^2/2) split as
//            exp(-xh^2/2) * exp(-(x-xh)(x+xh)/2), xh = x rounded down to a
//            multiple of 1/16: the first factor comes from exp2 of an exact
//            argument split into its integer part and a small fraction, the
//            second has an exponent below 2 in size, so the device's exp
//            (whose error grows with its argument) stays accurate;
//   |x| >= 12: Phi is 0 or 1 (erfc(12/sqrt(2)) < 4e-33).
// Every mode allows the output to be an input (in place). The forward modes
// read i0 = x; the gradient modes read i0 = dy and i1 = x.
//
// DT is the dtype of every tensor (the op table's signatures): float32, or
// bf16 or f16 read and written as 32-bit words (half.glsl, store.glsl), the
// arithmetic in float32 and the output rounded once.
#include "common.glsl"
#include "half.glsl"

layout(constant_id = 1) const uint MODE = 0;
layout(constant_id = 2) const uint DT = 0; // 0 float32, 1 bf16, 2 f16

layout(set = 0, binding = 0) buffer Out { float o[]; };
layout(set = 0, binding = 0) buffer OutH { uint oh[]; };
layout(set = 0, binding = 1) readonly buffer In0 { float i0[]; }; // x, or dy
layout(set = 0, binding = 1) readonly buffer In0H { uint i0h[]; };
layout(set = 0, binding = 2) readonly buffer In1 { float i1[]; }; // x (backward)
layout(set = 0, binding = 2) readonly buffer In1H { uint i1h[]; };

layout(push_constant) uniform Params {
    uint oo, oi0, oi1;
    uint n;
} p;

// expHalfSq returns exp(-ax*ax/2 + bias) for 0 <= ax < 12 and |bias| < 2.
// With xh = ax rounded down to a multiple of 1/16 (xh = k/16),
//   exp(-ax^2/2) = exp(-xh^2/2) * exp(-(ax-xh)(ax+xh)/2),
// and exp(-xh^2/2) = 2^-(k^2 * log2(e)/512) is computed from an exact
// argument: log2(e)/512 = LH + LL with LH of 8 significant bits, so k^2*LH
// (k^2 < 2^16) is exact; its integer part becomes an exact power of two and only a fraction
// near [0, 1) to exp2, whose error bound grows with its argument; 2^-ti is
// built from its bits (ti <= 72, a normal float).
const float LH = 0.0028228759765625; // 185 * 2^-16
const float LL = -5.112224826243385e-06;

float expHalfSq(float ax, float bias) {
    float k = floor(ax * 16.0);
    float xh = k / 16.0;
    // precise: keep the compiler from refactoring k2*LH + k2*LL into
    // k2*(LH+LL), which would undo the split.
    precise float k2 = k * k;
    precise float t = k2 * LH;
    precise float ti = floor(t);
    precise float f = (t - ti) + k2 * LL;
    float grid = exp2(-f) * intBitsToFloat((127 - int(ti)) << 23); // 2^-ti exactly
    precise float r = (ax - xh) * (ax + xh);
    return grid * exp(-0.5 * r + bias);
}

// Phi returns the standard normal distribution function at x.
float Phi(float x) {
    float ax = abs(x);
    if (ax < 1.0) {
        float z = x * 0.70710678118654752;
        float z2 = z * z;
        // sum_n (-1)^n z^(2n) / (n! (2n+1)), n = 0..9
        float s = -1.4503852223150468e-07;
        s = 1.4589169000933706e-06 + z2 * s;
        s = -1.3227513227513228e-05 + z2 * s;
        s = 0.00010683760683760684 + z2 * s;
        s = -0.0007575757575757576 + z2 * s;
        s = 0.004629629629629629 + z2 * s;
        s = -0.023809523809523808 + z2 * s;
        s = 0.1 + z2 * s;
        s = -0.3333333333333333 + z2 * s;
        s = 1.0 + z2 * s;
        return 0.5 + 0.5 * (1.1283791670955126 * z * s); // 2/sqrt(pi)
    }
    if (ax >= 12.0) {
        return x > 0.0 ? 1.0 : 0.0;
    }
    float z = ax * 0.70710678118654752;
    float t = 1.0 / (1.0 + 0.5 * z);
    float q = 0.17087277;
    q = -0.82215223 + t * q;
    q = 1.48851587 + t * q;
    q = -1.13520398 + t * q;
    q = 0.27886807 + t * q;
    q = -0.18628806 + t * q;
    q = 0.09678418 + t * q;
    q = 0.37409196 + t * q;
    q = 1.00002368 + t * q;
    q = -1.26551223 + t * q;
    float r = t * expHalfSq(ax, q); // erfc(|x|/sqrt(2))
    return x > 0.0 ? 1.0 - 0.5 * r : 0.5 * r;
}

// value returns element k of the output.
float value(uint k) {
    if (MODE == 0) {
        float x = LOAD(i0, i0h, p.oi0 + k, DT);
        return x * Phi(x);
    } else if (MODE == 1) {
        float x = LOAD(i1, i1h, p.oi1 + k, DT);
        float pdf = abs(x) < 12.0 ? 0.3989422804014327 * expHalfSq(abs(x), 0.0) : 0.0; // 1/sqrt(2 pi)
        return LOAD(i0, i0h, p.oi0 + k, DT) * (Phi(x) + x * pdf);
    } else if (MODE == 2) {
        float x = LOAD(i0, i0h, p.oi0 + k, DT);
        return x / (1.0 + exp(-x));
    }
    float x = LOAD(i1, i1h, p.oi1 + k, DT);
    float s = 1.0 / (1.0 + exp(-x));
    return LOAD(i0, i0h, p.oi0 + k, DT) * s * (1.0 + x * (1.0 - s));
}

#include "store.glsl"

void main() {
    if (DT == 0u) {
        for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
            o[p.oo + i] = value(i);
        }
    } else {
        store16(p.oo, p.n, gl_GlobalInvocationID.x, gridStride());
    }
}
