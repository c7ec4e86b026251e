//go:build !cgo

package vulkan

const cgoState = "0"
