//go:build glfw

package main

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"
	vk "github.com/vulkan-go/vulkan"
)

// presenter shows CPU-drawn frames in a GLFW window through a Vulkan
// swapchain on the window's surface: each frame is written into a
// host-visible buffer and copied into the acquired swapchain image
// (vkCmdCopyBufferToImage), which is then presented. No shaders, no render
// pass: the frame is the image the viz package drew, byte for byte. With
// readback, the swapchain image is also copied back to the host after the
// frame is written into it and before it is presented, which is how the
// tests see what the window shows.
//
// Vulkan is found through GLFW's loader (glfwGetInstanceProcAddress), so
// neither libvulkan-dev nor a GL library is needed; any Vulkan device with a
// queue that can present to the window will do (lavapipe under Xvfb in CI).
// The calls that take structures go through C (shim.go).
type presenter struct {
	win    *glfw.Window
	gipa   unsafe.Pointer // vkGetInstanceProcAddr
	fn     *viewFns
	inst   vk.Instance
	surf   vk.Surface
	pd     vk.PhysicalDevice
	dev    vk.Device
	queue  vk.Queue
	family uint32
	device string // the device's name

	pool      vk.CommandPool
	cmd       vk.CommandBuffer
	fence     vk.Fence
	acquired  vk.Semaphore
	rendered  vk.Semaphore
	memTypes  []vk.MemoryType
	swap      vk.Swapchain
	images    []vk.Image
	format    vk.Format
	bgra      bool
	extent    vk.Extent2D
	canRead   bool
	upload    hostBuffer
	download  hostBuffer
	destroyed bool
}

// hostBuffer is a buffer in host-visible, coherent memory, mapped.
type hostBuffer struct {
	buf  vk.Buffer
	mem  vk.DeviceMemory
	size uint64
	ptr  unsafe.Pointer
}

func vkErr(what string, res vk.Result) error {
	return fmt.Errorf("ijepa-view: vulkan: %s: %v", what, vk.Error(res))
}

// newPresenter sets up Vulkan for win (created with the NoAPI client hint).
func newPresenter(win *glfw.Window) (p *presenter, err error) {
	if !glfw.VulkanSupported() {
		return nil, errors.New("ijepa-view: GLFW found no Vulkan loader (install libvulkan1 and a Vulkan driver, e.g. mesa-vulkan-drivers)")
	}
	gipa := glfw.GetVulkanGetInstanceProcAddress()
	vk.SetGetInstanceProcAddr(gipa)
	if err := vk.Init(); err != nil {
		return nil, fmt.Errorf("ijepa-view: vulkan: %v", err)
	}
	p = &presenter{win: win, gipa: gipa}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	exts := win.GetRequiredInstanceExtensions()
	if len(exts) == 0 {
		return nil, errors.New("ijepa-view: the Vulkan loader has no surface extension for this window system")
	}
	inst, res := createInstance(gipa, exts)
	if res != vk.Success {
		return nil, vkErr("create an instance", res)
	}
	if err := vk.InitInstance(inst); err != nil {
		vk.DestroyInstance(inst, nil)
		return nil, fmt.Errorf("ijepa-view: vulkan: %v", err)
	}
	p.inst = inst
	sp, err := win.CreateWindowSurface(inst, nil)
	if err != nil {
		return nil, fmt.Errorf("ijepa-view: %v", err)
	}
	p.surf = vk.SurfaceFromPointer(sp)
	if err := p.chooseDevice(); err != nil {
		return nil, err
	}
	if err := p.createDevice(); err != nil {
		return nil, err
	}
	if err := p.createSwapchain(); err != nil {
		return nil, err
	}
	return p, nil
}

// chooseDevice picks the first device, GPUs before CPUs, with a queue
// family that can present to the surface and copy (graphics, compute or
// transfer).
func (p *presenter) chooseDevice() error {
	var n uint32
	if res := vk.EnumeratePhysicalDevices(p.inst, &n, nil); res != vk.Success {
		return vkErr("list devices", res)
	}
	pds := make([]vk.PhysicalDevice, n)
	if n > 0 {
		if res := vk.EnumeratePhysicalDevices(p.inst, &n, pds); res != vk.Success && res != vk.Incomplete {
			return vkErr("list devices", res)
		}
	}
	best := -1
	for _, pd := range pds[:n] {
		name, rank, types := p.deviceInfo(pd)
		flags, counts := p.queueFamilies(pd)
		for i := range flags {
			copyFlags := vk.QueueFlags(vk.QueueGraphicsBit | vk.QueueComputeBit | vk.QueueTransferBit)
			if counts[i] == 0 || flags[i]&copyFlags == 0 {
				continue
			}
			var ok vk.Bool32
			if vk.GetPhysicalDeviceSurfaceSupport(pd, uint32(i), p.surf, &ok) != vk.Success || ok != vk.True {
				continue
			}
			if best < 0 || rank < best {
				best, p.pd, p.family = rank, pd, uint32(i)
				p.device, p.memTypes = name, types
			}
			break
		}
	}
	if best < 0 {
		return fmt.Errorf("ijepa-view: none of the %d Vulkan devices can present to this window", n)
	}
	return nil
}

func (p *presenter) createDevice() error {
	if err := p.openDevice(); err != nil {
		return err
	}
	var q vk.Queue
	vk.GetDeviceQueue(p.dev, p.family, 0, &q)
	p.queue = q
	pool, res := p.createCommandPool()
	if res != vk.Success {
		return vkErr("create a command pool", res)
	}
	p.pool = pool
	if p.cmd, res = p.allocateCommandBuffer(pool); res != vk.Success {
		return vkErr("allocate a command buffer", res)
	}
	if p.fence, res = p.createFence(); res != vk.Success {
		return vkErr("create a fence", res)
	}
	for _, s := range []*vk.Semaphore{&p.acquired, &p.rendered} {
		if *s, res = p.createSemaphore(); res != vk.Success {
			return vkErr("create a semaphore", res)
		}
	}
	return nil
}

// createSwapchain (re)creates the swapchain at the surface's current size.
func (p *presenter) createSwapchain() error {
	caps, res := p.surfaceCapabilities()
	if res != vk.Success {
		return vkErr("read the surface's capabilities", res)
	}
	usage := vk.ImageUsageFlags(vk.ImageUsageTransferDstBit)
	if caps.SupportedUsageFlags&usage == 0 {
		return errors.New("ijepa-view: the window's swapchain images cannot be copied into (no TRANSFER_DST usage)")
	}
	p.canRead = caps.SupportedUsageFlags&vk.ImageUsageFlags(vk.ImageUsageTransferSrcBit) != 0
	if p.canRead {
		usage |= vk.ImageUsageFlags(vk.ImageUsageTransferSrcBit)
	}
	ext := caps.CurrentExtent
	if ext.Width == ^uint32(0) {
		w, h := p.win.GetFramebufferSize()
		ext.Width = min(max(uint32(w), caps.MinImageExtent.Width), caps.MaxImageExtent.Width)
		ext.Height = min(max(uint32(h), caps.MinImageExtent.Height), caps.MaxImageExtent.Height)
	}
	if ext.Width == 0 || ext.Height == 0 {
		p.extent = ext // minimised: nothing to present to
		return nil
	}

	formats, res := p.surfaceFormats()
	if res != vk.Success && res != vk.Incomplete {
		return vkErr("list the surface's formats", res)
	}
	var chosen *surfaceFormat
	for _, want := range []vk.Format{vk.FormatB8g8r8a8Unorm, vk.FormatR8g8b8a8Unorm, vk.FormatB8g8r8a8Srgb, vk.FormatR8g8b8a8Srgb} {
		for i := range formats {
			if formats[i].format == want && chosen == nil {
				chosen = &formats[i]
			}
		}
	}
	if chosen == nil {
		return fmt.Errorf("ijepa-view: the window offers no 8-bit RGBA or BGRA format (%d formats)", len(formats))
	}
	p.format = chosen.format
	p.bgra = chosen.format == vk.FormatB8g8r8a8Unorm || chosen.format == vk.FormatB8g8r8a8Srgb

	alpha := vk.CompositeAlphaOpaqueBit
	for _, a := range []vk.CompositeAlphaFlagBits{vk.CompositeAlphaOpaqueBit, vk.CompositeAlphaInheritBit, vk.CompositeAlphaPreMultipliedBit, vk.CompositeAlphaPostMultipliedBit} {
		if caps.SupportedCompositeAlpha&vk.CompositeAlphaFlags(a) != 0 {
			alpha = a
			break
		}
	}
	count := max(caps.MinImageCount, 2)
	if caps.MaxImageCount > 0 {
		count = min(count, caps.MaxImageCount)
	}
	old := p.swap
	swap, res := p.newSwapchain(swapchainInfo{
		count:     count,
		format:    *chosen,
		extent:    ext,
		usage:     usage,
		transform: caps.CurrentTransform,
		alpha:     alpha,
		old:       old,
	})
	if res != vk.Success {
		return vkErr("create a swapchain", res)
	}
	if old != vk.NullSwapchain {
		vk.DestroySwapchain(p.dev, old, nil)
	}
	p.swap, p.extent = swap, ext
	var ni uint32
	vk.GetSwapchainImages(p.dev, swap, &ni, nil)
	p.images = make([]vk.Image, ni)
	if res := vk.GetSwapchainImages(p.dev, swap, &ni, p.images); res != vk.Success {
		return vkErr("list the swapchain's images", res)
	}
	return nil
}

// size is the size frames must be drawn at: the swapchain's, after
// recreating it if the window's framebuffer changed size.
func (p *presenter) size() (int, int, error) {
	w, h := p.win.GetFramebufferSize()
	if uint32(w) != p.extent.Width || uint32(h) != p.extent.Height || p.swap == vk.NullSwapchain {
		if res := vk.DeviceWaitIdle(p.dev); res != vk.Success {
			return 0, 0, vkErr("wait for the device", res)
		}
		if err := p.createSwapchain(); err != nil {
			return 0, 0, err
		}
	}
	return int(p.extent.Width), int(p.extent.Height), nil
}

// errOutOfDate says the swapchain no longer matches the window: draw again
// at the new size.
var errOutOfDate = errors.New("ijepa-view: the swapchain is out of date")

// hostVisible ensures b holds at least size bytes of mapped, host-visible,
// coherent memory usable as a transfer source and destination.
func (p *presenter) hostVisible(b *hostBuffer, size uint64) error {
	if b.size >= size {
		return nil
	}
	p.freeBuffer(b)
	buf, res := p.createBuffer(size)
	if res != vk.Success {
		return vkErr("create a buffer", res)
	}
	reqSize, reqTypes := p.memoryRequirements(buf)
	want := vk.MemoryPropertyFlags(vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit)
	idx := -1
	for i, t := range p.memTypes {
		if reqTypes&(1<<uint(i)) != 0 && t.PropertyFlags&want == want {
			idx = i
			break
		}
	}
	if idx < 0 {
		vk.DestroyBuffer(p.dev, buf, nil)
		return errors.New("ijepa-view: vulkan: no host-visible, coherent memory for the frame")
	}
	mem, res := p.allocateMemory(reqSize, uint32(idx))
	if res != vk.Success {
		vk.DestroyBuffer(p.dev, buf, nil)
		return vkErr("allocate memory for the frame", res)
	}
	if res := vk.BindBufferMemory(p.dev, buf, mem, 0); res != vk.Success {
		vk.DestroyBuffer(p.dev, buf, nil)
		vk.FreeMemory(p.dev, mem, nil)
		return vkErr("bind the frame's memory", res)
	}
	var ptr unsafe.Pointer
	if res := vk.MapMemory(p.dev, mem, 0, vk.DeviceSize(size), 0, &ptr); res != vk.Success {
		vk.DestroyBuffer(p.dev, buf, nil)
		vk.FreeMemory(p.dev, mem, nil)
		return vkErr("map the frame's memory", res)
	}
	*b = hostBuffer{buf: buf, mem: mem, size: size, ptr: ptr}
	return nil
}

func (p *presenter) freeBuffer(b *hostBuffer) {
	if b.size == 0 {
		return
	}
	vk.UnmapMemory(p.dev, b.mem)
	vk.DestroyBuffer(p.dev, b.buf, nil)
	vk.FreeMemory(p.dev, b.mem, nil)
	*b = hostBuffer{}
}

// present shows frame, which must be the size size returned. With readback
// it returns the swapchain image as it was presented (nil if the surface
// does not allow reading its images back). errOutOfDate means the window
// changed size: call size and draw again.
func (p *presenter) present(frame *image.RGBA, readback bool) (*image.RGBA, error) {
	w, h := uint32(frame.Rect.Dx()), uint32(frame.Rect.Dy())
	if w != p.extent.Width || h != p.extent.Height {
		return nil, fmt.Errorf("ijepa-view: a %dx%d frame for a %dx%d swapchain", w, h, p.extent.Width, p.extent.Height)
	}
	if w == 0 || h == 0 {
		return nil, nil
	}
	readback = readback && p.canRead
	n := uint64(w) * uint64(h) * 4
	if err := p.hostVisible(&p.upload, n); err != nil {
		return nil, err
	}
	if readback {
		if err := p.hostVisible(&p.download, n); err != nil {
			return nil, err
		}
	}
	toDevice(unsafe.Slice((*byte)(p.upload.ptr), n), frame, p.bgra)

	var index uint32
	switch res := vk.AcquireNextImage(p.dev, p.swap, ^uint64(0), p.acquired, vk.NullFence, &index); res {
	case vk.Success, vk.Suboptimal:
	case vk.ErrorOutOfDate:
		p.extent = vk.Extent2D{}
		return nil, errOutOfDate
	default:
		return nil, vkErr("acquire a swapchain image", res)
	}
	img := p.images[index]
	cmd := p.cmd
	if res := vk.ResetCommandBuffer(cmd, 0); res != vk.Success {
		return nil, vkErr("reset the command buffer", res)
	}
	if res := p.beginCommands(cmd); res != vk.Success {
		return nil, vkErr("begin the command buffer", res)
	}
	p.barrier(cmd, img, vk.ImageLayoutUndefined, vk.ImageLayoutTransferDstOptimal,
		0, vk.AccessTransferWriteBit, vk.PipelineStageTopOfPipeBit, vk.PipelineStageTransferBit)
	p.copyToImage(cmd, p.upload.buf, img, vk.ImageLayoutTransferDstOptimal, w, h)
	last := vk.ImageLayoutTransferDstOptimal
	if readback {
		p.barrier(cmd, img, last, vk.ImageLayoutTransferSrcOptimal,
			vk.AccessTransferWriteBit, vk.AccessTransferReadBit, vk.PipelineStageTransferBit, vk.PipelineStageTransferBit)
		p.copyFromImage(cmd, img, vk.ImageLayoutTransferSrcOptimal, p.download.buf, w, h)
		last = vk.ImageLayoutTransferSrcOptimal
	}
	p.barrier(cmd, img, last, vk.ImageLayoutPresentSrc,
		vk.AccessTransferWriteBit|vk.AccessTransferReadBit, vk.AccessMemoryReadBit, vk.PipelineStageTransferBit, vk.PipelineStageBottomOfPipeBit)
	if res := vk.EndCommandBuffer(cmd); res != vk.Success {
		return nil, vkErr("end the command buffer", res)
	}
	if res := vk.ResetFences(p.dev, 1, []vk.Fence{p.fence}); res != vk.Success {
		return nil, vkErr("reset the fence", res)
	}
	if res := p.submit(cmd, p.acquired, p.rendered, p.fence); res != vk.Success {
		return nil, vkErr("submit the frame", res)
	}
	res := p.presentImage(p.rendered, index)
	// Wait for the copies either way: the buffers are reused next frame.
	if r := vk.WaitForFences(p.dev, 1, []vk.Fence{p.fence}, vk.True, ^uint64(0)); r != vk.Success {
		return nil, vkErr("wait for the frame", r)
	}
	switch res {
	case vk.Success:
	case vk.Suboptimal, vk.ErrorOutOfDate:
		p.extent = vk.Extent2D{} // recreate before the next frame
	default:
		return nil, vkErr("present the frame", res)
	}
	if !readback {
		return nil, nil
	}
	out := image.NewRGBA(image.Rect(0, 0, int(w), int(h)))
	fromDevice(out, unsafe.Slice((*byte)(p.download.ptr), n), p.bgra)
	return out, nil
}

// toDevice writes frame into dst as tightly packed RGBA or BGRA pixels,
// opaque.
func toDevice(dst []byte, frame *image.RGBA, bgra bool) {
	w, h := frame.Rect.Dx(), frame.Rect.Dy()
	for y := 0; y < h; y++ {
		src := frame.Pix[frame.PixOffset(frame.Rect.Min.X, frame.Rect.Min.Y+y):]
		row := dst[y*w*4 : (y+1)*w*4]
		for x := 0; x < w; x++ {
			r, g, b := src[4*x], src[4*x+1], src[4*x+2]
			if bgra {
				r, b = b, r
			}
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = r, g, b, 255
		}
	}
}

// fromDevice is toDevice's inverse.
func fromDevice(out *image.RGBA, src []byte, bgra bool) {
	copy(out.Pix, src)
	if bgra {
		for i := 0; i < len(out.Pix); i += 4 {
			out.Pix[i], out.Pix[i+2] = out.Pix[i+2], out.Pix[i]
		}
	}
}

// close frees everything, waiting for the device first.
func (p *presenter) close() {
	if p.destroyed {
		return
	}
	p.destroyed = true
	if p.dev != nil {
		vk.DeviceWaitIdle(p.dev)
		p.freeBuffer(&p.upload)
		p.freeBuffer(&p.download)
		if p.swap != vk.NullSwapchain {
			vk.DestroySwapchain(p.dev, p.swap, nil)
		}
		for _, s := range []vk.Semaphore{p.acquired, p.rendered} {
			if s != vk.NullSemaphore {
				vk.DestroySemaphore(p.dev, s, nil)
			}
		}
		if p.fence != vk.NullFence {
			vk.DestroyFence(p.dev, p.fence, nil)
		}
		if p.pool != vk.NullCommandPool {
			vk.DestroyCommandPool(p.dev, p.pool, nil)
		}
		vk.DestroyDevice(p.dev, nil)
	}
	p.freeFns()
	if p.inst != nil {
		if p.surf != vk.NullSurface {
			vk.DestroySurface(p.inst, p.surf, nil)
		}
		vk.DestroyInstance(p.inst, nil)
	}
}
