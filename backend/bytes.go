package backend

import "unsafe"

// Tensor data crosses the Backend interface as bytes in the host's native
// (little-endian on every supported platform) layout. These helpers view
// typed slices as bytes and back without copying.

// F32Bytes views a float32 slice as bytes.
func F32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*4)
}

// I32Bytes views an int32 slice as bytes.
func I32Bytes(v []int32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*4)
}

// BytesF32 views bytes as a float32 slice; len(b) must be a multiple of 4 and
// b must be 4-byte aligned (any slice from make or from F32Bytes is).
func BytesF32(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// BytesI32 views bytes as an int32 slice, as BytesF32 does.
func BytesI32(b []byte) []int32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// U16Bytes views a uint16 slice (16-bit float bit patterns) as bytes.
func U16Bytes(v []uint16) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*2)
}

// BytesU16 views bytes as a uint16 slice; len(b) must be even and b 2-byte
// aligned.
func BytesU16(b []byte) []uint16 {
	if len(b) < 2 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}
