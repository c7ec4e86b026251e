//go:build cgo && !linux

package vulkan

const cgoState = "1"
