// store.glsl: writing a range of a 16-bit output tensor of dtype DT (a
// specialisation constant: 1 bf16, 2 f16, as half.glsl), whose elements
// the kernel computes one by one in float32. The kernel binds the output as
// the float array o and the uint array oh, declares DT, and defines
// value(k), element k of the range, before including this file (after
// half.glsl); it uses GL_EXT_control_flow_attributes.

// store16 writes o[g0 + k] = value(k), rounded to DT, for the k in [0, n)
// that this invocation owns when the invocations of a workgroup or grid
// stride over the range with step step from first, taking the uints of the
// range, each with both its elements, so that an invocation writes whole
// uints with plain stores. A uint holding one element outside the range
// (at an odd start or end) may be another invocation's too (rows of odd
// length): its element in the range is written by atomics. (In float32 the
// kernels loop over their elements themselves: the same loop here made the
// float32 softmax_bwd 10% slower on lavapipe.)
void store16(uint g0, uint n, uint first, uint step) {
    // The pair's values come from one loop that the compiler keeps, so
    // that value is inlined once (GELU's is long).
    uint g1 = g0 + n;
    for (uint w = g0 / 2u + first; 2u * w < g1; w += step) {
        uint e = 2u * w;
        bool in0 = e >= g0, in1 = e + 1u < g1;
        uint h[2] = uint[2](0u, 0u);
        [[dont_unroll]] for (uint j = uint(!in0); j < 1u + uint(in1); j++) {
            h[j] = narrow16(value(e + j - g0), DT);
        }
        if (in0 && in1) {
            oh[w] = h[0] | (h[1] << 16);
        } else if (in0) {
            PUT16(oh, e, h[0])
        } else if (in1) {
            PUT16(oh, e + 1u, h[1])
        }
    }
}
