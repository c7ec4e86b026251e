// half.glsl: conversions between float32 and the 16-bit floats (f16, bf16)
// on their bit patterns, with integer arithmetic only, so the result does not
// depend on the device's float rounding or denormal modes. Narrowing rounds
// to nearest, ties to even (f16: overflow from 65520 to infinity, subnormals
// exact), NaNs stay NaNs (quiet, top payload bits kept), as backend/half
// converts. The 16-bit values travel in the low 16 bits of a uint.

// They are written without branches (selects of values computed for every
// case), because kernels inline them many times over (matmul.comp's
// unrolled loops), and each branch there costs the driver's compiler time.

// toF16 returns the f16 bits nearest the float32 bits b.
uint toF16(uint b) {
    uint sign = (b >> 16) & 0x8000u;
    uint a = b & 0x7fffffffu;
    // Normal: rebias the exponent, round off 13 bits.
    uint n = a - (112u << 23);
    uint normal = (n + 0xfffu + ((n >> 13) & 1u)) >> 13;
    // Below 2^-14: a multiple of 2^-24, m * 2^(e-150) rounded to units of
    // 2^-24 (a shift right by s = 126-e), ties to even; from s = 25 on
    // (below 2^-25, zeros included) that rounds to 0. (s is kept within 1 ..
    // 25 for every a, as if a was below 2^-14.)
    uint s = min(126u - min(a >> 23, 125u), 25u);
    uint m = (a & 0x7fffffu) | 0x800000u;
    uint q = m >> s;
    uint rem = m & ((1u << s) - 1u);
    uint halfway = 1u << (s - 1u);
    uint sub = q + (uint(rem > halfway) | (uint(rem == halfway) & q & 1u));
    uint nan = 0x7e00u | ((a >> 13) & 0x3ffu);
    return sign | (a > 0x7f800000u ? nan : a >= 0x477ff000u ? 0x7c00u : a >= 0x38800000u ? normal : sub);
}

// toBF16 returns the bf16 bits nearest the float32 bits b.
uint toBF16(uint b) {
    return (b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u : (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
}

// fromF16 returns the float32 bits of the f16 bits h (exact).
uint fromF16(uint h) {
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    // Subnormal m * 2^-24: m's top bit shifted to bit 10.
    uint s = 10u - uint(findMSB(m | 1u));
    uint sub = m == 0u ? 0u : ((113u - s) << 23) | (((m << s) & 0x3ffu) << 13);
    uint special = m != 0u ? 0x7fc00000u | (m << 13) : 0x7f800000u; // NaN, infinity
    uint normal = ((e + 112u) << 23) | (m << 13);
    return sign | (e == 0u ? sub : e == 31u ? special : normal);
}

// fromBF16 returns the float32 bits of the bf16 bits h (exact).
uint fromBF16(uint h) { return h << 16; }

// Kernels select a tensor's dtype with a specialisation constant (a dt
// below; backend/vulkan's dtMode): 0 float32, 1 bf16, 2 f16. A 16-bit
// tensor is bound as a uint array, two elements a uint, the first in the low
// half, so a module that reads and writes 16 bits this way declares no
// 16-bit capability and its float32 variants run on any device.

// widen16 returns the float of the dtype dt element in the low 16 bits of h
// (the bits above are ignored).
float widen16(uint h, uint dt) {
    return uintBitsToFloat(dt == 1u ? fromBF16(h) : fromF16(h));
}

// half16 returns element i of a 16-bit array of dtype dt whose uint i/2 is w.
float half16(uint w, uint i, uint dt) { return widen16(w >> (16u * (i & 1u)), dt); }

// narrow16 returns the bits of dtype dt nearest v.
uint narrow16(float v, uint dt) {
    return dt == 1u ? toBF16(floatBitsToUint(v)) : toF16(floatBitsToUint(v));
}

// LOAD(f, h, g, dt) is element g of a tensor of dtype dt bound both as the
// float array f and as the uint array h.
#define LOAD(f, h, g, dt) ((dt) == 0u ? (f)[g] : half16((h)[(g) / 2u], (g), (dt)))

// BITS16(h, g) is the 16 bits of element g of the uint array h.
#define BITS16(h, g) (((h)[(g) / 2u] >> (16u * ((g) & 1u))) & 0xffffu)

// PUT16(h, g, bits) writes the 16 bits bits to element g of the uint array h
// by atomics, leaving the other half of its uint as it is: for a uint whose
// other half another invocation may write at the same time.
#define PUT16(h, g, bits) { \
    uint sh16_ = 16u * ((g) & 1u); \
    atomicAnd((h)[(g) / 2u], ~(0xffffu << sh16_)); \
    atomicOr((h)[(g) / 2u], (bits) << sh16_); \
}
