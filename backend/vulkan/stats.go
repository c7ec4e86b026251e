package vulkan

// MemoryStats are the counters of a Vulkan backend's tensor memory (device
// memory; staging buffers are not counted).
type MemoryStats struct {
	// InUse is the bytes of live tensors now (each rounded up to the
	// sub-allocation alignment, guards included).
	InUse int64
	// PeakInUse is the most bytes live tensors ever held at once: the
	// model's tensors and every call's scratch (a 16-bit call's float32
	// copies included).
	PeakInUse int64
	// Allocated is the bytes of the blocks tensors are sub-allocated from.
	Allocated int64
}
