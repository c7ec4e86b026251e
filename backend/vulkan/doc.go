// Package vulkan is the Vulkan compute backend: the op catalogue of package
// backend as GLSL compute kernels (package shaders, embedded as SPIR-V) on any
// Vulkan 1.1 device — a discrete or integrated GPU of any vendor, or Mesa's
// lavapipe on the CPU — through github.com/vulkan-go/vulkan, except for the
// calls that take structures, which go through the C functions of
// internal/vkshim/vkshim.h (see shim.go for why).
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
//
// Kernels (package shaders): one GLSL file per op family, specialised per
// call by workgroup and tile sizes; shapes and element offsets go in push
// constants. Row ops take a workgroup per row with shared-memory
// reductions; sums to a scalar and column sums run in two deterministic
// passes; scatter_add follows a plan the host builds from the indices (index
// tensors are only written from the host), so it needs no atomics. The
// matmul tiles through shared memory on GPUs; on CPU devices (lavapipe) it
// runs a register-tiled variant that shares rows across a subgroup, because
// there every memory access is a loop over the SIMD lanes. llvmpipe also
// stops an invocation after 65,535 loop iterations in all, so on it the
// backend refuses (ErrUnsupported) the rare shapes that would need more.
//
// Environment: IJEPA_VULKAN_DEVICE chooses the device; IJEPA_VULKAN_SYNC=1
// waits after every op; IJEPA_VULKAN_LOADER names the loader library to load
// instead of libvulkan.so.1. The loader's own variables apply as usual
// (VK_DRIVER_FILES, VK_LOADER_DRIVERS_SELECT='*lvp*' for lavapipe).
package vulkan
