// Package half converts between float32 (or float64) and the two 16-bit
// floating-point formats of the backend contract: bfloat16 (the top 16 bits
// of a float32: sign, 8-bit exponent, 7-bit mantissa) and IEEE 754 binary16
// ("f16": sign, 5-bit exponent, 10-bit mantissa, largest finite 65504,
// subnormals below 2^-14). Values of either format are held as their bit
// patterns in a uint16.
//
// Rounding to a 16-bit format is IEEE round to nearest, ties to even, in
// one step from the given value (a float64 is not rounded to float32
// first), with subnormals produced exactly, never flushed; a value too
// large for the format rounds to infinity (for binary16: from 65520 up);
// infinities and signed zeros are kept; a NaN stays a NaN of the same sign
// with the top bits of its payload, made quiet. Widening is exact: a
// bfloat16 becomes the float32 with the same top 16 bits, a binary16 the
// float32 of the same value (a NaN quiet, as F16C's vcvtph2ps gives it).
//
// The slice functions give the same bits as the scalar ones. Built with cgo
// on x86-64, they run C for AVX2 and F16C when the CPU has them (checked at
// run time; Impl names the choice), else plain Go.
package half

import "math"

// Impl names the slice conversions' implementation in use ("C, AVX2+F16C").
func Impl() string { return levelNames[level] }

// BF16FromFloat32 rounds f to the nearest bfloat16.
func BF16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// BF16ToFloat32 returns the float32 whose top 16 bits are h and low bits zero.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16FromFloat32 rounds f to the nearest binary16.
func F16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN: quiet, top 9 payload bits kept
		return sign | 0x7e00 | uint16(a>>13)&0x3ff
	case a >= 0x477ff000: // 65520 (halfway from 65504 to 2^16) and above: infinity
		return sign | 0x7c00
	case a >= 0x38800000: // 2^-14 and above: normal; rebias the exponent by 127-15
		a -= 112 << 23
		return sign | uint16((a+0xfff+(a>>13)&1)>>13)
	}
	// Below 2^-14 the result is a multiple of 2^-24, the spacing of float32s
	// in [0.5, 1): adding 0.5 rounds |f| to it, ties to even, in one float32
	// addition, and leaves the multiple in the low mantissa bits.
	return sign | uint16(math.Float32bits(math.Float32frombits(a)+0.5)-0x3f000000)
}

// F16ToFloat32 returns the float32 of the binary16 h.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	e, m := uint32(h>>10)&0x1f, uint32(h&0x3ff)
	switch e {
	case 0: // zero or subnormal: m * 2^-24, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(m)*0x1p-24))
	case 0x1f:
		if m != 0 {
			return math.Float32frombits(sign | 0x7fc00000 | m<<13)
		}
		return math.Float32frombits(sign | 0x7f800000)
	}
	return math.Float32frombits(sign | (e+112)<<23 | m<<13)
}

// BF16FromFloat64 rounds f to the nearest bfloat16 in one step.
func BF16FromFloat64(f float64) uint16 { return bf16.fromFloat64(f) }

// F16FromFloat64 rounds f to the nearest binary16 in one step.
func F16FromFloat64(f float64) uint16 { return f16.fromFloat64(f) }

// format describes a 16-bit binary floating-point format.
type format struct {
	mant uint // stored mantissa bits
	bias int  // exponent bias; exponent field 0 is subnormal, all ones Inf/NaN
}

var (
	bf16 = format{mant: 7, bias: 127}
	f16  = format{mant: 10, bias: 15}
)

// fromFloat64 rounds x to the format, to nearest with ties to even.
func (ft format) fromFloat64(x float64) uint16 {
	b := math.Float64bits(x)
	sign := uint16(b>>48) & 0x8000
	inf := uint16(1)<<15 - uint16(1)<<ft.mant // exponent field all ones
	e := int(b>>52) & 0x7ff
	m := b & (1<<52 - 1)
	if e == 0x7ff {
		if m != 0 {
			return sign | inf | 1<<(ft.mant-1) | uint16(m>>(52-ft.mant))
		}
		return sign | inf
	}
	if e == 0 { // float64 zero or subnormal: far below half of the smallest 16-bit subnormal
		return sign
	}
	e -= 1023
	emin := 1 - ft.bias
	if e > ft.bias {
		return sign | inf
	}
	// x = sig * 2^(e-52); the result's spacing is 2^(te - mant), te the
	// exponent of x or, below the normal range, emin.
	sig := m | 1<<52
	te := max(e, emin)
	shift := uint(52 - int(ft.mant) + te - e)
	if shift > 60 { // x < 2^-7 of the spacing: rounds to zero
		return sign
	}
	q, rem, half := sig>>shift, sig&(1<<shift-1), uint64(1)<<(shift-1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	// The exponent field is te - emin + 1 for a normal result: q's leading
	// bit (1<<mant) adds the 1, carries included; a subnormal has q < 1<<mant.
	code := uint64(te-emin)<<ft.mant + q
	if code >= uint64(inf) {
		return sign | inf
	}
	return sign | uint16(code)
}

// BF16FromFloat32s sets dst[i] to the bfloat16 nearest src[i]. The slices
// have one length.
func BF16FromFloat32s(dst []uint16, src []float32) {
	convert("BF16FromFloat32s", dst, src, fastF32ToBF16, BF16FromFloat32)
}

// BF16ToFloat32s sets dst[i] to the float32 of the bfloat16 src[i]. The
// slices have one length.
func BF16ToFloat32s(dst []float32, src []uint16) {
	convert("BF16ToFloat32s", dst, src, fastBF16ToF32, BF16ToFloat32)
}

// F16FromFloat32s sets dst[i] to the binary16 nearest src[i]. The slices
// have one length.
func F16FromFloat32s(dst []uint16, src []float32) {
	convert("F16FromFloat32s", dst, src, fastF32ToF16, F16FromFloat32)
}

// F16ToFloat32s sets dst[i] to the float32 of the binary16 src[i]. The
// slices have one length.
func F16ToFloat32s(dst []float32, src []uint16) {
	convert("F16ToFloat32s", dst, src, fastF16ToF32, F16ToFloat32)
}

// convert runs fast, which converts a prefix of src and returns its length,
// where the level in use has C code and src is long enough to pay for the
// call, then one on each of the rest.
func convert[D, S any](name string, dst []D, src []S, fast func([]D, []S) int, one func(S) D) {
	if len(dst) != len(src) {
		panic("half: " + name + ": lengths differ")
	}
	i := 0
	if level != levelGo && len(src) >= minC {
		i = fast(dst, src)
	}
	for ; i < len(src); i++ {
		dst[i] = one(src[i])
	}
}
