//go:build !linux || !cgo

package vulkan

import (
	"errors"
	"runtime"

	"github.com/ijepa-go/ijepa/backend"
)

// errUnavailable says why this build has no Vulkan backend.
var errUnavailable = errors.New("vulkan: this build has no Vulkan backend (it needs linux and cgo; this is " +
	runtime.GOOS + " with CGO_ENABLED=" + cgoState + ")")

func init() {
	backend.Register(backend.Driver{
		Name:    "vulkan",
		Doc:     "Vulkan compute (any GPU vendor, or lavapipe on the CPU)",
		Open:    func(string) (backend.Backend, error) { return nil, errUnavailable },
		Devices: func() ([]backend.Info, error) { return nil, errUnavailable },
	})
}

// Stats returns zero counters: this build has no Vulkan backend.
func Stats(backend.Backend) MemoryStats { return MemoryStats{} }
