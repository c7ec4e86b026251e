//go:build !cgo || !amd64

package bf16gemm

// Without cgo on x86-64 there is no AMX kernel.
const amxBuilt = false

func amxInit() bool { return false }

func gemm(int, bool, bool, int, int, int, []uint16, int, int, []uint16, int, int, []float32, int, int) bool {
	panic("bf16gemm: built without the AMX kernel")
}
