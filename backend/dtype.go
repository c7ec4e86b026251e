package backend

import "fmt"

// DType is the element type of a tensor.
type DType uint8

// The element types. F32 works on every backend; F16 (IEEE binary16) and
// BF16 (bfloat16, the top half of a float32) are the 16-bit types of mixed
// precision, which a backend lists in Info.DTypes where it has them; I32
// holds the row indices of gather and scatter-add.
const (
	F32 DType = iota + 1
	F16
	BF16
	I32
)

var dtypeNames = map[DType]string{F32: "f32", F16: "f16", BF16: "bf16", I32: "i32"}

// String returns the short lower-case name of the type ("f32").
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size returns the size of one element in bytes, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	}
	return 0
}

// Valid reports whether d is one of the declared types.
func (d DType) Valid() bool { return d.Size() > 0 }

// ParseDType returns the dtype named s ("f32", "f16", "bf16", "i32").
func ParseDType(s string) (DType, error) {
	for d, n := range dtypeNames {
		if n == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("backend: unknown dtype %q (want f32, f16, bf16 or i32)", s)
}
