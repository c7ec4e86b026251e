// Package vkshim holds vkshim.h, the C shim through which backend/vulkan
// and cmd/ijepa-view make every Vulkan call that takes or returns a
// structure: github.com/vulkan-go/vulkan frees its C copies of slices of
// structures from a finalizer that can run while the driver still reads
// them (see backend/vulkan/shim.go). The structures are those of the Khronos
// Vulkan headers, vendored unchanged in third_party/ (Vulkan-Headers 1.3.239,
// Apache-2.0, as Debian 12's libvulkan-dev installs them), so the build needs
// no system Vulkan headers and no structure is declared by hand; vkshim.h
// holds the C functions that fill them on the C stack and call the driver's
// entry points.
//
// A cgo package uses it with `#cgo CFLAGS: -I${SRCDIR}/<path>/internal/vkshim
// -I${SRCDIR}/<path>/internal/vkshim/third_party` and `#include "vkshim.h"`, and
// imports this package blank, so that the go command rebuilds it when the
// header changes (it does not track headers included from outside a
// package's directory).
package vkshim
