//go:build cgo && amd64

package half

/*
#cgo CFLAGS: -O2
#include <stdint.h>
int ijepa_half_avx2(void);
long ijepa_half_f32_to_bf16(uint16_t *dst, const float *src, long n);
long ijepa_half_bf16_to_f32(float *dst, const uint16_t *src, long n);
long ijepa_half_f32_to_f16(uint16_t *dst, const float *src, long n);
long ijepa_half_f16_to_f32(float *dst, const uint16_t *src, long n);
*/
import "C"

// The implementation levels: plain Go, and C for AVX2 with F16C.
const (
	levelGo = iota
	levelAVX2
)

var levelNames = []string{"Go", "C, AVX2+F16C"}

// maxLevel is the best level the CPU runs; level the one in use (tests
// lower it to check plain Go on every machine).
var (
	maxLevel = int(C.ijepa_half_avx2())
	level    = maxLevel
)

// minC is the length below which the slice functions stay in Go: a cgo call
// costs tens of nanoseconds.
const minC = 64

// The fast functions convert a prefix of src, at least minC long, in C.
func fastF32ToBF16(dst []uint16, src []float32) int {
	return int(C.ijepa_half_f32_to_bf16(p16(dst), p32(src), C.long(len(src))))
}

func fastBF16ToF32(dst []float32, src []uint16) int {
	return int(C.ijepa_half_bf16_to_f32(p32(dst), p16(src), C.long(len(src))))
}

func fastF32ToF16(dst []uint16, src []float32) int {
	return int(C.ijepa_half_f32_to_f16(p16(dst), p32(src), C.long(len(src))))
}

func fastF16ToF32(dst []float32, src []uint16) int {
	return int(C.ijepa_half_f16_to_f32(p32(dst), p16(src), C.long(len(src))))
}

// p16 and p32 return a non-empty slice's first element for C.
func p16(s []uint16) *C.uint16_t { return (*C.uint16_t)(&s[0]) }
func p32(s []float32) *C.float   { return (*C.float)(&s[0]) }
