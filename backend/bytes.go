package backend

import "unsafe"

// Tensor data crosses the Backend interface as bytes in the host's native
// (little-endian on every supported platform) layout. These helpers view
// typed slices as bytes and back without copying.

// F32Bytes views a float32 slice as bytes.
func F32Bytes(v []float32) []byte { return asBytes(v) }

// I32Bytes views an int32 slice as bytes.
func I32Bytes(v []int32) []byte { return asBytes(v) }

// U16Bytes views a uint16 slice (16-bit float bit patterns) as bytes.
func U16Bytes(v []uint16) []byte { return asBytes(v) }

// BytesF32 views bytes as a float32 slice; len(b) must be a multiple of 4 and
// b must be 4-byte aligned (any slice from make or from F32Bytes is).
func BytesF32(b []byte) []float32 { return fromBytes[float32](b) }

// BytesI32 views bytes as an int32 slice, as BytesF32 does.
func BytesI32(b []byte) []int32 { return fromBytes[int32](b) }

// BytesU16 views bytes as a uint16 slice; len(b) must be even and b 2-byte
// aligned.
func BytesU16(b []byte) []uint16 { return fromBytes[uint16](b) }

// asBytes views the elements of v as bytes (nil for none).
func asBytes[T float32 | int32 | uint16](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0])))
}

// fromBytes views b as elements of T (nil when b holds less than one).
func fromBytes[T float32 | int32 | uint16](b []byte) []T {
	var z T
	n := int(unsafe.Sizeof(z))
	if len(b) < n {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/n)
}
