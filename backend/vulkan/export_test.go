//go:build linux && cgo

package vulkan

import "github.com/ijepa-go/ijepa/backend"

// SetSharedMatmul makes a CPU device run the shared-memory matmul of GPUs
// instead of the register-tiled variant, for the benchmarks that compare
// the two.
func SetSharedMatmul(b *backend.Front, on bool) { b.Device().(*device).sharedMatmul = on }
