// Package vkshim holds vkshim.h, the C shim through which backend/vulkan
// and cmd/ijepa-view make every Vulkan call that takes a structure:
// github.com/vulkan-go/vulkan frees its C copies of slices of structures
// from a finalizer that can run while the driver still reads them (see
// backend/vulkan/shim.go). The header declares the structures by hand (the
// build needs no Vulkan headers; TestLayout checks them against
// <vulkan/vulkan.h> where it is installed) and the C functions that fill
// them on the C stack and call the driver's entry points.
//
// A cgo package uses it with `#cgo CFLAGS: -I${SRCDIR}/<path>/internal/vkshim`
// and `#include "vkshim.h"`, and imports this package blank, so that the go
// command rebuilds it when the header changes (it does not track headers
// included from outside a package's directory).
package vkshim
