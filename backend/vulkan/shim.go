//go:build linux && cgo

package vulkan

// #cgo CFLAGS: -I${SRCDIR}/../../internal/vkshim -I${SRCDIR}/../../internal/vkshim/third_party
// #include "vkshim.h"
import "C"

import (
	"fmt"
	"unsafe"

	_ "github.com/ijepa-go/ijepa/internal/vkshim" // vkshim.h: rebuild when it changes
	vk "github.com/vulkan-go/vulkan"
)

// Every Vulkan call of the backend that takes or returns a structure
// (create and allocate infos, the begin info, barriers, copy regions,
// descriptor writes, submit infos, the device properties) goes through the C
// functions of internal/vkshim/vkshim.h (shared with cmd/ijepa-view), which
// build or read the structures of the Khronos header on the C stack and call
// the driver's entry point. vulkan-go's
// own wrappers cannot be used for these: they convert each structure (and
// each slice of structures) into C memory whose release is tied to a
// finalizer on a variable of the binding's that is unreachable as soon as
// the conversion returns, so a garbage collection during the call frees the
// memory under the driver (a crash in training, whose data loader allocates
// all the time); the structures without nested slices are instead never
// freed, a leak per call. vulkan-go stays in use for the calls whose
// arguments are handles, numbers and pointers to Go memory (cgo keeps
// those alive for the call).

// deviceFns is a device's table of entry points, in C memory.
type deviceFns struct{ c *C.ijepaDeviceFns }

// loadDevice looks up the entry points of dev.
func loadDevice(dev vk.Device) (deviceFns, error) {
	f := (*C.ijepaDeviceFns)(C.calloc(1, C.sizeof_ijepaDeviceFns))
	if f == nil {
		return deviceFns{}, fmt.Errorf("vulkan: out of host memory")
	}
	if missing := C.ijepaLoadDevice(gipa, unsafe.Pointer(inst), unsafe.Pointer(dev), f); missing != nil {
		C.free(unsafe.Pointer(f))
		return deviceFns{}, fmt.Errorf("vulkan: the driver has no %s", C.GoString(missing))
	}
	return deviceFns{f}, nil
}

// free releases the table.
func (f *deviceFns) free() {
	if f.c != nil {
		C.free(unsafe.Pointer(f.c))
		f.c = nil
	}
}

// handle reads a non-dispatchable handle (64 bits on every platform).
func handle(p unsafe.Pointer) C.uint64_t { return *(*C.uint64_t)(p) }

// out is where a C function stores a non-dispatchable handle.
func out(p unsafe.Pointer) *C.uint64_t { return (*C.uint64_t)(p) }

// createInstance creates a Vulkan instance of apiVersion, without layers
// or extensions.
func createInstance(apiVersion vk.Version) (vk.Instance, vk.Result) {
	var in vk.Instance
	app := C.CString("ijepa")
	defer C.free(unsafe.Pointer(app))
	res := C.ijepaCreateInstance(gipa, app, C.uint32_t(apiVersion), 0, nil, (*unsafe.Pointer)(unsafe.Pointer(&in)))
	return in, vk.Result(res)
}

// computeQueueFamily returns the first queue family of pd (a device of in)
// with a compute queue.
func computeQueueFamily(in vk.Instance, pd vk.PhysicalDevice) (uint32, bool) {
	var flags, counts [C.ijepaMaxQueueFamilies]C.uint32_t
	n := C.ijepaQueueFamilies(gipa, unsafe.Pointer(in), unsafe.Pointer(pd), &flags[0], &counts[0])
	for i := range int(n) {
		if vk.QueueFlags(flags[i])&vk.QueueFlags(vk.QueueComputeBit) != 0 && counts[i] > 0 {
			return uint32(i), true
		}
	}
	return 0, false
}

// properties reads a physical device's name, kind, versions, limits and
// memory types and heaps.
func properties(in vk.Instance, pd vk.PhysicalDevice) *physical {
	var props C.VkPhysicalDeviceProperties
	var mem C.VkPhysicalDeviceMemoryProperties
	C.ijepaProperties(gipa, unsafe.Pointer(in), unsafe.Pointer(pd), &props, &mem)
	l := props.limits
	p := &physical{
		pd:         pd,
		name:       C.GoString(&props.deviceName[0]),
		apiVersion: vk.Version(props.apiVersion),
		driver:     uint32(props.driverVersion),
		vendor:     uint32(props.vendorID),
		limits: limits{
			MaxStorageBufferRange:               uint32(l.maxStorageBufferRange),
			MaxComputeSharedMemorySize:          uint32(l.maxComputeSharedMemorySize),
			MaxComputeWorkGroupInvocations:      uint32(l.maxComputeWorkGroupInvocations),
			MaxPerStageDescriptorStorageBuffers: uint32(l.maxPerStageDescriptorStorageBuffers),
			MaxBoundDescriptorSets:              uint32(l.maxBoundDescriptorSets),
			MaxPushConstantsSize:                uint32(l.maxPushConstantsSize),
			Timestamps:                          l.timestampComputeAndGraphics != 0,
			TimestampPeriod:                     float32(l.timestampPeriod),
		},
	}
	for i := range 3 {
		p.limits.MaxComputeWorkGroupCount[i] = uint32(l.maxComputeWorkGroupCount[i])
		p.limits.MaxComputeWorkGroupSize[i] = uint32(l.maxComputeWorkGroupSize[i])
	}
	switch props.deviceType {
	case C.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		p.kind = "discrete-gpu"
	case C.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
		p.kind = "integrated-gpu"
	case C.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		p.kind = "virtual-gpu"
	case C.VK_PHYSICAL_DEVICE_TYPE_CPU:
		p.kind = "cpu"
	}
	for _, t := range mem.memoryTypes[:mem.memoryTypeCount] {
		p.memTypes = append(p.memTypes, memType{PropertyFlags: vk.MemoryPropertyFlags(t.propertyFlags), HeapIndex: uint32(t.heapIndex)})
	}
	for _, h := range mem.memoryHeaps[:mem.memoryHeapCount] {
		p.memHeaps = append(p.memHeaps, memHeap{Size: uint64(h.size), Flags: vk.MemoryHeapFlags(h.flags)})
	}
	return p
}

// subgroup returns the subgroup size of a device and its subgroup
// operations (0 when the device cannot say).
func subgroup(in vk.Instance, pd vk.PhysicalDevice) (size, ops uint32) {
	var o C.uint32_t
	size = uint32(C.ijepaSubgroup(gipa, unsafe.Pointer(in), unsafe.Pointer(pd), &o))
	return size, uint32(o)
}

// createDevice creates a device with one queue of the given family.
func createDevice(pd vk.PhysicalDevice, family uint32) (vk.Device, vk.Result) {
	var dev vk.Device
	res := C.ijepaCreateDevice(gipa, unsafe.Pointer(inst), unsafe.Pointer(pd), C.uint32_t(family), 0, nil, (*unsafe.Pointer)(unsafe.Pointer(&dev)))
	return dev, vk.Result(res)
}

func (b *device) createCommandPool(family uint32) (vk.CommandPool, vk.Result) {
	var pool vk.CommandPool
	res := C.ijepaCreateCommandPool(b.fn.c, unsafe.Pointer(b.dev), C.uint32_t(family), out(unsafe.Pointer(&pool)))
	return pool, vk.Result(res)
}

// createBuffer creates a buffer of size bytes for bufferUsage.
func (b *device) createBuffer(size uint64) (vk.Buffer, vk.Result) {
	var buf vk.Buffer
	res := C.ijepaCreateBuffer(b.fn.c, unsafe.Pointer(b.dev), C.uint64_t(size), C.uint32_t(bufferUsage), out(unsafe.Pointer(&buf)))
	return buf, vk.Result(res)
}

// memoryRequirements returns the memory size a buffer needs and the memory
// types that can hold it.
func (b *device) memoryRequirements(buf vk.Buffer) (size uint64, types uint32) {
	var t C.uint32_t
	size = uint64(C.ijepaBufferMemoryRequirements(b.fn.c, unsafe.Pointer(b.dev), handle(unsafe.Pointer(&buf)), &t))
	return size, uint32(t)
}

func (b *device) allocateMemory(size uint64, memType uint32) (vk.DeviceMemory, vk.Result) {
	var mem vk.DeviceMemory
	res := C.ijepaAllocateMemory(b.fn.c, unsafe.Pointer(b.dev), C.uint64_t(size), C.uint32_t(memType), out(unsafe.Pointer(&mem)))
	return mem, vk.Result(res)
}

// createSetLayout creates the layout of maxBindings storage buffers.
func (b *device) createSetLayout() (vk.DescriptorSetLayout, vk.Result) {
	var l vk.DescriptorSetLayout
	res := C.ijepaCreateSetLayout(b.fn.c, unsafe.Pointer(b.dev), maxBindings, out(unsafe.Pointer(&l)))
	return l, vk.Result(res)
}

// createPipelineLayout creates the layout of one set and pushBytes of push
// constants.
func (b *device) createPipelineLayout(set vk.DescriptorSetLayout) (vk.PipelineLayout, vk.Result) {
	var l vk.PipelineLayout
	res := C.ijepaCreatePipelineLayout(b.fn.c, unsafe.Pointer(b.dev), handle(unsafe.Pointer(&set)), pushBytes, out(unsafe.Pointer(&l)))
	return l, vk.Result(res)
}

func (b *device) createPipelineCache() (vk.PipelineCache, vk.Result) {
	var c vk.PipelineCache
	res := C.ijepaCreatePipelineCache(b.fn.c, unsafe.Pointer(b.dev), out(unsafe.Pointer(&c)))
	return c, vk.Result(res)
}

// createShaderModule creates a module of SPIR-V words (code is Go memory
// without pointers, which cgo keeps in place for the call).
func (b *device) createShaderModule(code []uint32) (vk.ShaderModule, vk.Result) {
	if len(code) == 0 {
		return nil, vk.ErrorInvalidShaderNv
	}
	var m vk.ShaderModule
	res := C.ijepaCreateShaderModule(b.fn.c, unsafe.Pointer(b.dev), (*C.uint32_t)(unsafe.Pointer(&code[0])), C.size_t(len(code)), out(unsafe.Pointer(&m)))
	return m, vk.Result(res)
}

// createComputePipeline creates the pipeline of mod's "main" with the given
// specialisation constants (constant i = spec[i]).
func (b *device) createComputePipeline(mod vk.ShaderModule, spec []uint32) (vk.Pipeline, vk.Result) {
	var data [maxSpec]uint32
	copy(data[:], spec)
	cache, layout := b.pipeCache, b.pipeLayout
	var pipe vk.Pipeline
	res := C.ijepaCreateComputePipeline(b.fn.c, unsafe.Pointer(b.dev), handle(unsafe.Pointer(&cache)), handle(unsafe.Pointer(&mod)),
		handle(unsafe.Pointer(&layout)), C.uint32_t(len(spec)), (*C.uint32_t)(unsafe.Pointer(&data[0])), out(unsafe.Pointer(&pipe)))
	return pipe, vk.Result(res)
}

// createDescriptorPool creates a pool of setsPerPool sets of maxBindings
// storage buffers, which may be freed one by one.
func (b *device) createDescriptorPool() (vk.DescriptorPool, vk.Result) {
	var pool vk.DescriptorPool
	res := C.ijepaCreateDescriptorPool(b.fn.c, unsafe.Pointer(b.dev), setsPerPool, setsPerPool*maxBindings, out(unsafe.Pointer(&pool)))
	return pool, vk.Result(res)
}

// allocateSet allocates a set of the backend's set layout from pool.
func (b *device) allocateSet(pool vk.DescriptorPool) (vk.DescriptorSet, vk.Result) {
	layout := b.setLayout
	var set vk.DescriptorSet
	res := C.ijepaAllocateDescriptorSet(b.fn.c, unsafe.Pointer(b.dev), handle(unsafe.Pointer(&pool)), handle(unsafe.Pointer(&layout)), out(unsafe.Pointer(&set)))
	return set, vk.Result(res)
}

// writeSet binds the whole of bufs[i] at binding i of set.
func (b *device) writeSet(set vk.DescriptorSet, bufs *[maxBindings]vk.Buffer) {
	var hs [maxBindings]C.uint64_t
	for i := range bufs {
		hs[i] = handle(unsafe.Pointer(&bufs[i]))
	}
	C.ijepaWriteBuffers(b.fn.c, unsafe.Pointer(b.dev), handle(unsafe.Pointer(&set)), maxBindings, &hs[0])
}

// allocateCommandBuffer allocates a primary command buffer.
func (b *device) allocateCommandBuffer() (vk.CommandBuffer, vk.Result) {
	pool := b.cmdPool
	var cmd vk.CommandBuffer
	res := C.ijepaAllocateCommandBuffer(b.fn.c, unsafe.Pointer(b.dev), handle(unsafe.Pointer(&pool)), (*unsafe.Pointer)(unsafe.Pointer(&cmd)))
	return cmd, vk.Result(res)
}

// createFence creates an unsignalled fence.
func (b *device) createFence() (vk.Fence, vk.Result) {
	var f vk.Fence
	res := C.ijepaCreateFence(b.fn.c, unsafe.Pointer(b.dev), out(unsafe.Pointer(&f)))
	return f, vk.Result(res)
}

// beginCommands begins a command buffer for one submission.
func (b *device) beginCommands(cmd vk.CommandBuffer) vk.Result {
	return vk.Result(C.ijepaBeginCommandBuffer(b.fn.c, unsafe.Pointer(cmd)))
}

// cmdBarrier records a pipeline barrier of one global memory barrier.
func (b *device) cmdBarrier(cmd vk.CommandBuffer, srcStages, dstStages vk.PipelineStageFlags, srcAccess, dstAccess vk.AccessFlags) {
	C.ijepaCmdBarrier(b.fn.c, unsafe.Pointer(cmd), C.uint32_t(srcStages), C.uint32_t(dstStages), C.uint32_t(srcAccess), C.uint32_t(dstAccess))
}

// cmdCopy records a copy of n bytes between blocks.
func (b *device) cmdCopy(cmd vk.CommandBuffer, src *block, srcOff uint64, dst *block, dstOff, n uint64) {
	C.ijepaCmdCopy(b.fn.c, unsafe.Pointer(cmd), handle(unsafe.Pointer(&src.buf)), C.uint64_t(srcOff),
		handle(unsafe.Pointer(&dst.buf)), C.uint64_t(dstOff), C.uint64_t(n))
}

// queueSubmit submits one command buffer that signals fence when done.
func (b *device) queueSubmit(cmd vk.CommandBuffer, fence vk.Fence) vk.Result {
	return vk.Result(C.ijepaSubmit(b.fn.c, unsafe.Pointer(b.queue), unsafe.Pointer(cmd), 0, 0, 0, handle(unsafe.Pointer(&fence))))
}
