#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
// cast: y = x converted between float32 and f16 or bf16 (MODE 0: f32 to
// f16, 1: f32 to bf16, 2: f16 to f32, 3: bf16 to f32), element by element,
// on the bit patterns with integer arithmetic only, so the result does not
// depend on the device's float rounding or denormal modes: narrowing rounds
// to nearest, ties to even (f16: overflow from 65520 to infinity,
// subnormals exact), NaNs stay NaNs (quiet, top payload bits kept), as
// backend/half converts. The 16-bit side is bound as uint16_t
// (VK_KHR_16bit_storage), the float32 side as uint.
#include "common.glsl"

layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) buffer Y16 { uint16_t y16[]; };
layout(set = 0, binding = 0) buffer Y32 { uint y32[]; };
layout(set = 0, binding = 1) readonly buffer X16 { uint16_t x16[]; };
layout(set = 0, binding = 1) readonly buffer X32 { uint x32[]; };

layout(push_constant) uniform Params {
    uint oy, ox; // element offsets (in elements of each side's size)
    uint n;
} p;

uint toF16(uint b) {
    uint sign = (b >> 16) & 0x8000u;
    uint a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u | ((a >> 13) & 0x3ffu); // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u;                        // 65520 and up
    if (a >= 0x38800000u) {                                             // normal
        a -= 112u << 23;
        return sign | ((a + 0xfffu + ((a >> 13) & 1u)) >> 13);
    }
    // Below 2^-14: a multiple of 2^-24, m * 2^(e-150) rounded to units of
    // 2^-24, ties to even.
    uint e = a >> 23;
    uint shift = 126u - e;
    if (e == 0u || shift > 24u) return sign;
    uint m = (a & 0x7fffffu) | 0x800000u;
    uint q = m >> shift;
    uint rem = m & ((1u << shift) - 1u);
    uint halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (q & 1u) == 1u)) q++;
    return sign | q;
}

uint toBF16(uint b) {
    if ((b & 0x7fffffffu) > 0x7f800000u) return (b >> 16) | 0x40u;
    return (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
}

uint fromF16(uint h) {
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0u) {
        if (m == 0u) return sign;
        // Subnormal m * 2^-24: normalise m.
        uint s = 0u;
        while ((m & 0x400u) == 0u) { m <<= 1; s++; }
        return sign | ((113u - s) << 23) | ((m & 0x3ffu) << 13);
    }
    if (e == 31u) return m != 0u ? sign | 0x7fc00000u | (m << 13) : sign | 0x7f800000u;
    return sign | ((e + 112u) << 23) | (m << 13);
}

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
        if (MODE == 0u) y16[p.oy + i] = uint16_t(toF16(x32[p.ox + i]));
        else if (MODE == 1u) y16[p.oy + i] = uint16_t(toBF16(x32[p.ox + i]));
        else if (MODE == 2u) y32[p.oy + i] = fromF16(uint(x16[p.ox + i]));
        else y32[p.oy + i] = uint(x16[p.ox + i]) << 16;
    }
}
