#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
// cast: y = x converted between float32 and f16 or bf16 (MODE 0: f32 to
// f16, 1: f32 to bf16, 2: f16 to f32, 3: bf16 to f32), element by element,
// with half.glsl's conversions (integer arithmetic on the bit patterns,
// rounding as backend/half). The 16-bit side is bound as uint16_t
// (VK_KHR_16bit_storage), the float32 side as uint.
#include "common.glsl"
#include "half.glsl"

layout(constant_id = 1) const uint MODE = 0;

layout(set = 0, binding = 0) buffer Y16 { uint16_t y16[]; };
layout(set = 0, binding = 0) buffer Y32 { uint y32[]; };
layout(set = 0, binding = 1) readonly buffer X16 { uint16_t x16[]; };
layout(set = 0, binding = 1) readonly buffer X32 { uint x32[]; };

layout(push_constant) uniform Params {
    uint oy, ox; // element offsets (in elements of each side's size)
    uint n;
} p;

void main() {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gridStride()) {
        if (MODE == 0u) y16[p.oy + i] = uint16_t(toF16(x32[p.ox + i]));
        else if (MODE == 1u) y16[p.oy + i] = uint16_t(toBF16(x32[p.ox + i]));
        else if (MODE == 2u) y32[p.oy + i] = fromF16(uint(x16[p.ox + i]));
        else y32[p.oy + i] = fromBF16(uint(x16[p.ox + i]));
    }
}
