// Package vulkan is the Vulkan compute backend: the op catalogue of package
// backend as GLSL compute kernels (package shaders, embedded as SPIR-V) on any
// Vulkan 1.1 device — a discrete or integrated GPU of any vendor, or Mesa's
// lavapipe on the CPU — through github.com/vulkan-go/vulkan.
//
// Opening: the Vulkan loader (libvulkan.so.1) is loaded at run time, so the
// program builds and runs without it; with no loader or no device, the
// driver's Devices and Open return one clear error and the other backends keep
// working. Devices are listed discrete GPUs first, then integrated, virtual
// and CPU devices; "vulkan" opens the first, "vulkan:N" the Nth of that list
// and "vulkan:NAME" the first whose name contains NAME. The environment
// variable IJEPA_VULKAN_DEVICE (an index or a name) chooses for a bare
// "vulkan".
//
// Execution follows the asynchronous contract: Run validates a call on the
// host and records its dispatches into a command buffer, with a pipeline
// barrier only where a dispatch touches memory that an earlier dispatch of
// the same barrier interval wrote (or writes memory it read). The command
// buffer is submitted when it is full, or by Read and Sync; several may be in
// flight. Device errors (device lost, out of memory) become the sticky error,
// naming the ops of the failed batch; IJEPA_VULKAN_SYNC=1 submits and waits
// after every op, so that such an error names exactly the op that failed.
//
// Memory: tensors are sub-allocated from large device-local blocks (one
// VkBuffer each), so a tensor is a block and a byte offset; kernels bind whole
// blocks and receive element offsets as push constants, so descriptor sets
// depend only on which blocks a dispatch touches and are created once and
// cached. Where device-local memory is host-visible (integrated GPUs,
// lavapipe) it stays mapped and idle tensors are written and read directly;
// otherwise, and for tensors that queued work still uses, data goes through
// host-visible staging memory and transfer commands. A released tensor's
// memory is reused at once: each free range remembers the barrier interval
// and the batch that last used it, so that new work on it waits behind the
// old.
package vulkan
