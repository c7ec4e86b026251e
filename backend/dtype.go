package backend

import "fmt"

// DType is the element type of a tensor.
type DType uint8

// The element types. F32 works on every backend; F16 and BF16 are storage
// types a backend may add later (it lists them in Info.DTypes); I32 holds the
// row indices of gather and scatter-add.
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
