//go:build glfw

package main

// #cgo CFLAGS: -I${SRCDIR}/../../internal/vkshim -I${SRCDIR}/../../internal/vkshim/third_party
// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	_ "github.com/ijepa-go/ijepa/internal/vkshim" // vkshim.h: rebuild when it changes
	vk "github.com/vulkan-go/vulkan"
)

// Every Vulkan call of the presenter that takes or returns a structure (the
// instance, device, pool, command buffer, fence, semaphore, buffer, memory
// and swapchain infos, the queue families, the device and memory
// properties, the surface's formats and capabilities, the buffer's memory
// requirements, the begin info, image barriers, buffer-image copies, the
// per-frame submit and present) goes through the C functions of shim.h and
// internal/vkshim/vkshim.h, which build or read the Khronos header's
// structures on the C stack: vulkan-go frees its C copies of them from a
// finalizer that can run during the call (see backend/vulkan/shim.go), and a
// frame is submitted and presented many times a second while the viewer's
// loader allocates. vulkan-go stays in use for the calls whose arguments are
// handles, numbers and pointers to Go memory.

// viewFns is the device's table of entry points, in C memory.
type viewFns = C.ijepaViewFns

// handle reads a non-dispatchable handle (64 bits on every platform).
func handle(p unsafe.Pointer) C.uint64_t { return *(*C.uint64_t)(p) }

// out is where a C function stores a non-dispatchable handle.
func out(p unsafe.Pointer) *C.uint64_t { return (*C.uint64_t)(p) }

// cStrings copies ss into C strings; free releases them.
func cStrings(ss []string) (cs []*C.char, free func()) {
	cs = make([]*C.char, len(ss))
	for i, s := range ss {
		cs[i] = C.CString(s)
	}
	return cs, func() {
		for _, c := range cs {
			C.free(unsafe.Pointer(c))
		}
	}
}

// createInstance creates a Vulkan 1.0 instance with the extensions exts.
func createInstance(gipa unsafe.Pointer, exts []string) (vk.Instance, vk.Result) {
	if len(exts) > C.ijepaMaxExtensions {
		return nil, vk.ErrorExtensionNotPresent
	}
	app := C.CString("ijepa-view")
	defer C.free(unsafe.Pointer(app))
	cs, free := cStrings(exts)
	defer free()
	var names [C.ijepaMaxExtensions]*C.char
	copy(names[:], cs)
	var in vk.Instance
	res := C.ijepaCreateInstance(gipa, app, C.uint32_t(vk.MakeVersion(1, 0, 0)), C.uint32_t(len(cs)), &names[0],
		(*unsafe.Pointer)(unsafe.Pointer(&in)))
	return in, vk.Result(res)
}

// queueFamilies returns the flags and queue counts of pd's queue families.
func (p *presenter) queueFamilies(pd vk.PhysicalDevice) (flags, counts []vk.QueueFlags) {
	var f, c [C.ijepaMaxQueueFamilies]C.uint32_t
	n := int(C.ijepaQueueFamilies(p.gipa, unsafe.Pointer(p.inst), unsafe.Pointer(pd), &f[0], &c[0]))
	for i := range n {
		flags = append(flags, vk.QueueFlags(f[i]))
		counts = append(counts, vk.QueueFlags(c[i]))
	}
	return flags, counts
}

// openDevice creates a device on p.pd with one queue of p.family and the
// swapchain extension, and looks up its entry points.
func (p *presenter) openDevice() error {
	ext := C.CString(vk.KhrSwapchainExtensionName)
	defer C.free(unsafe.Pointer(ext))
	names := [1]*C.char{ext}
	var dev vk.Device
	if res := vk.Result(C.ijepaCreateDevice(p.gipa, unsafe.Pointer(p.inst), unsafe.Pointer(p.pd), C.uint32_t(p.family), 1, &names[0],
		(*unsafe.Pointer)(unsafe.Pointer(&dev)))); res != vk.Success {
		return vkErr("create a device on "+p.device, res)
	}
	p.dev = dev
	p.fn = (*C.ijepaViewFns)(C.calloc(1, C.sizeof_ijepaViewFns))
	if p.fn == nil {
		return errors.New("ijepa-view: vulkan: out of host memory")
	}
	if missing := C.ijepaViewLoad(p.gipa, unsafe.Pointer(p.inst), unsafe.Pointer(dev), p.fn); missing != nil {
		return fmt.Errorf("ijepa-view: vulkan: %s has no %s", p.device, C.GoString(missing))
	}
	return nil
}

// freeFns releases the table of entry points.
func (p *presenter) freeFns() {
	if p.fn != nil {
		C.free(unsafe.Pointer(p.fn))
		p.fn = nil
	}
}

func (p *presenter) createCommandPool() (vk.CommandPool, vk.Result) {
	var pool vk.CommandPool
	res := C.ijepaCreateCommandPool(&p.fn.base, unsafe.Pointer(p.dev), C.uint32_t(p.family), out(unsafe.Pointer(&pool)))
	return pool, vk.Result(res)
}

func (p *presenter) allocateCommandBuffer(pool vk.CommandPool) (vk.CommandBuffer, vk.Result) {
	var cmd vk.CommandBuffer
	res := C.ijepaAllocateCommandBuffer(&p.fn.base, unsafe.Pointer(p.dev), handle(unsafe.Pointer(&pool)), (*unsafe.Pointer)(unsafe.Pointer(&cmd)))
	return cmd, vk.Result(res)
}

// createFence creates an unsignalled fence.
func (p *presenter) createFence() (vk.Fence, vk.Result) {
	var f vk.Fence
	res := C.ijepaCreateFence(&p.fn.base, unsafe.Pointer(p.dev), out(unsafe.Pointer(&f)))
	return f, vk.Result(res)
}

func (p *presenter) createSemaphore() (vk.Semaphore, vk.Result) {
	var s vk.Semaphore
	res := C.ijepaCreateSemaphore(p.fn, unsafe.Pointer(p.dev), out(unsafe.Pointer(&s)))
	return s, vk.Result(res)
}

// surfaceFormat is a format and colour space the surface offers.
type surfaceFormat struct {
	format vk.Format
	space  vk.ColorSpace
}

// surfaceFormats lists the formats the surface offers on p.pd.
func (p *presenter) surfaceFormats() ([]surfaceFormat, vk.Result) {
	var fs, ss [C.ijepaMaxSurfaceFormats]C.int32_t
	var n C.uint32_t
	surf := p.surf
	res := vk.Result(C.ijepaSurfaceFormats(p.gipa, unsafe.Pointer(p.inst), unsafe.Pointer(p.pd), handle(unsafe.Pointer(&surf)), &fs[0], &ss[0], &n))
	formats := make([]surfaceFormat, n)
	for i := range formats {
		formats[i] = surfaceFormat{vk.Format(fs[i]), vk.ColorSpace(ss[i])}
	}
	return formats, res
}

// swapchainInfo is what createSwapchain is made of.
type swapchainInfo struct {
	count     uint32
	format    surfaceFormat
	extent    vk.Extent2D
	usage     vk.ImageUsageFlags
	transform vk.SurfaceTransformFlagBits
	alpha     vk.CompositeAlphaFlagBits
	old       vk.Swapchain
}

// newSwapchain creates a FIFO swapchain on the surface.
func (p *presenter) newSwapchain(s swapchainInfo) (vk.Swapchain, vk.Result) {
	surf, old := p.surf, s.old
	var swap vk.Swapchain
	res := C.ijepaCreateSwapchain(p.fn, unsafe.Pointer(p.dev), handle(unsafe.Pointer(&surf)), C.uint32_t(s.count),
		C.int32_t(s.format.format), C.int32_t(s.format.space), C.uint32_t(s.extent.Width), C.uint32_t(s.extent.Height),
		C.uint32_t(s.usage), C.uint32_t(s.transform), C.uint32_t(s.alpha), C.int32_t(vk.PresentModeFifo),
		handle(unsafe.Pointer(&old)), out(unsafe.Pointer(&swap)))
	return swap, vk.Result(res)
}

// createBuffer creates a buffer of size bytes usable as a transfer source
// and destination.
func (p *presenter) createBuffer(size uint64) (vk.Buffer, vk.Result) {
	var buf vk.Buffer
	usage := vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit
	res := C.ijepaCreateBuffer(&p.fn.base, unsafe.Pointer(p.dev), C.uint64_t(size), C.uint32_t(usage), out(unsafe.Pointer(&buf)))
	return buf, vk.Result(res)
}

// memoryRequirements returns the memory size buf needs and the memory
// types that can hold it.
func (p *presenter) memoryRequirements(buf vk.Buffer) (size uint64, types uint32) {
	var t C.uint32_t
	size = uint64(C.ijepaBufferMemoryRequirements(&p.fn.base, unsafe.Pointer(p.dev), handle(unsafe.Pointer(&buf)), &t))
	return size, uint32(t)
}

func (p *presenter) allocateMemory(size uint64, memType uint32) (vk.DeviceMemory, vk.Result) {
	var mem vk.DeviceMemory
	res := C.ijepaAllocateMemory(&p.fn.base, unsafe.Pointer(p.dev), C.uint64_t(size), C.uint32_t(memType), out(unsafe.Pointer(&mem)))
	return mem, vk.Result(res)
}

// beginCommands begins a command buffer for one submission.
func (p *presenter) beginCommands(cmd vk.CommandBuffer) vk.Result {
	return vk.Result(C.ijepaBeginCommandBuffer(&p.fn.base, unsafe.Pointer(cmd)))
}

// barrier records a barrier that moves img from layout from to layout to.
func (p *presenter) barrier(cmd vk.CommandBuffer, img vk.Image, from, to vk.ImageLayout, src, dst vk.AccessFlagBits, srcStage, dstStage vk.PipelineStageFlagBits) {
	C.ijepaCmdImageBarrier(p.fn, unsafe.Pointer(cmd), handle(unsafe.Pointer(&img)), C.int32_t(from), C.int32_t(to),
		C.uint32_t(src), C.uint32_t(dst), C.uint32_t(srcStage), C.uint32_t(dstStage))
}

// copyToImage records a copy of a tightly packed w x h image from buf into
// img, which is in layout.
func (p *presenter) copyToImage(cmd vk.CommandBuffer, buf vk.Buffer, img vk.Image, layout vk.ImageLayout, w, h uint32) {
	C.ijepaCmdCopyBufferToImage(p.fn, unsafe.Pointer(cmd), handle(unsafe.Pointer(&buf)), handle(unsafe.Pointer(&img)),
		C.int32_t(layout), C.uint32_t(w), C.uint32_t(h))
}

// copyFromImage is copyToImage's inverse.
func (p *presenter) copyFromImage(cmd vk.CommandBuffer, img vk.Image, layout vk.ImageLayout, buf vk.Buffer, w, h uint32) {
	C.ijepaCmdCopyImageToBuffer(p.fn, unsafe.Pointer(cmd), handle(unsafe.Pointer(&img)), C.int32_t(layout),
		handle(unsafe.Pointer(&buf)), C.uint32_t(w), C.uint32_t(h))
}

// submit submits cmd, which waits for semaphore wait before its transfers,
// signals semaphore signal and then fence.
func (p *presenter) submit(cmd vk.CommandBuffer, wait, signal vk.Semaphore, fence vk.Fence) vk.Result {
	return vk.Result(C.ijepaSubmit(&p.fn.base, unsafe.Pointer(p.queue), unsafe.Pointer(cmd), handle(unsafe.Pointer(&wait)),
		C.uint32_t(vk.PipelineStageTransferBit), handle(unsafe.Pointer(&signal)), handle(unsafe.Pointer(&fence))))
}

// presentImage presents image index of the swapchain once wait is signalled.
func (p *presenter) presentImage(wait vk.Semaphore, index uint32) vk.Result {
	swap := p.swap
	return vk.Result(C.ijepaPresent(p.fn, unsafe.Pointer(p.queue), handle(unsafe.Pointer(&wait)), handle(unsafe.Pointer(&swap)), C.uint32_t(index)))
}

// deviceInfo returns a physical device's name, its preference rank
// (discrete GPUs first) and its memory types.
func (p *presenter) deviceInfo(pd vk.PhysicalDevice) (name string, rank int, types []vk.MemoryType) {
	var props C.VkPhysicalDeviceProperties
	var mem C.VkPhysicalDeviceMemoryProperties
	C.ijepaProperties(p.gipa, unsafe.Pointer(p.inst), unsafe.Pointer(pd), &props, &mem)
	switch props.deviceType {
	case C.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		rank = 0
	case C.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
		rank = 1
	case C.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		rank = 2
	default:
		rank = 3
	}
	for _, t := range mem.memoryTypes[:mem.memoryTypeCount] {
		types = append(types, vk.MemoryType{PropertyFlags: vk.MemoryPropertyFlags(t.propertyFlags), HeapIndex: uint32(t.heapIndex)})
	}
	return C.GoString(&props.deviceName[0]), rank, types
}

// surfaceCapabilities returns the capabilities of the window's surface on
// the chosen device.
func (p *presenter) surfaceCapabilities() (vk.SurfaceCapabilities, vk.Result) {
	var c C.VkSurfaceCapabilitiesKHR
	surf := p.surf
	res := vk.Result(C.ijepaSurfaceCapabilities(p.gipa, unsafe.Pointer(p.inst), unsafe.Pointer(p.pd), handle(unsafe.Pointer(&surf)), &c))
	ext := func(e C.VkExtent2D) vk.Extent2D { return vk.Extent2D{Width: uint32(e.width), Height: uint32(e.height)} }
	return vk.SurfaceCapabilities{
		MinImageCount:           uint32(c.minImageCount),
		MaxImageCount:           uint32(c.maxImageCount),
		CurrentExtent:           ext(c.currentExtent),
		MinImageExtent:          ext(c.minImageExtent),
		MaxImageExtent:          ext(c.maxImageExtent),
		MaxImageArrayLayers:     uint32(c.maxImageArrayLayers),
		SupportedTransforms:     vk.SurfaceTransformFlags(c.supportedTransforms),
		CurrentTransform:        vk.SurfaceTransformFlagBits(c.currentTransform),
		SupportedCompositeAlpha: vk.CompositeAlphaFlags(c.supportedCompositeAlpha),
		SupportedUsageFlags:     vk.ImageUsageFlags(c.supportedUsageFlags),
	}, res
}
