//go:build linux && cgo

package vulkan

// SetSharedMatmul makes a CPU device run the shared-memory matmul of GPUs
// instead of the register-tiled variant, for the benchmarks that compare
// the two.
func SetSharedMatmul(b *Backend, on bool) { b.sharedMatmul = on }
