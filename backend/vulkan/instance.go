//go:build linux && cgo

package vulkan

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ijepa-go/ijepa/backend"
	vk "github.com/vulkan-go/vulkan"
)

// deviceEnv chooses the device a bare "vulkan" opens: an index into Devices'
// list or a substring of the device name.
const deviceEnv = "IJEPA_VULKAN_DEVICE"

// physical is one Vulkan device as found at start-up.
type physical struct {
	pd         vk.PhysicalDevice
	name       string
	kind       string // as backend.Info.Kind
	rank       int    // preference: lower first
	apiVersion vk.Version
	driver     uint32
	vendor     uint32
	// loopLimit is the most loop iterations one invocation may run in all,
	// 0 for no limit: llvmpipe (lavapipe) ends an invocation's loops after
	// 65,535 iterations, counted over all its loops together.
	loopLimit   int
	limits      limits
	memTypes    []memType
	memHeaps    []memHeap
	queueFamily uint32
	subgroup    uint32
	subgroupOps uint32
	// half holds the device's 16-bit features (halfStorage, halfFloat16),
	// enabled when it is opened.
	half     uint32
	unusable string // why the device cannot be opened, or ""
}

// limits are the device limits (VkPhysicalDeviceLimits) the backend uses.
type limits struct {
	MaxStorageBufferRange               uint32
	MaxComputeSharedMemorySize          uint32
	MaxComputeWorkGroupInvocations      uint32
	MaxComputeWorkGroupCount            [3]uint32
	MaxComputeWorkGroupSize             [3]uint32
	MaxPerStageDescriptorStorageBuffers uint32
	MaxBoundDescriptorSets              uint32
	MaxPushConstantsSize                uint32
	Timestamps                          bool // timestampComputeAndGraphics
	TimestampPeriod                     float32
}

// memType and memHeap are a device's memory types and heaps
// (VkMemoryType, VkMemoryHeap).
type memType struct {
	PropertyFlags vk.MemoryPropertyFlags
	HeapIndex     uint32
}

type memHeap struct {
	Size  uint64
	Flags vk.MemoryHeapFlags
}

var (
	instOnce sync.Once
	instErr  error
	inst     vk.Instance
	physList []*physical
)

// instance creates the process's Vulkan instance (no surfaces, no layers)
// and lists its devices, once. The instance lives as long as the process:
// every backend and Devices share it.
func instance() ([]*physical, error) {
	instOnce.Do(func() {
		if instErr = loadVulkan(); instErr != nil {
			return
		}
		in, res := createInstance(vk.Version(vk.MakeVersion(1, 1, 0)))
		switch res {
		case vk.Success:
		case vk.ErrorIncompatibleDriver:
			instErr = errNoDevice
			return
		default:
			instErr = fmt.Errorf("vulkan: cannot create an instance: %v", vk.Error(res))
			return
		}
		if err := vk.InitInstance(in); err != nil {
			instErr = fmt.Errorf("vulkan: %v", err)
			return
		}
		inst = in
		physList, instErr = enumerate(in)
	})
	return physList, instErr
}

func enumerate(in vk.Instance) ([]*physical, error) {
	var n uint32
	if res := vk.EnumeratePhysicalDevices(in, &n, nil); res != vk.Success {
		return nil, fmt.Errorf("vulkan: cannot list devices: %v", vk.Error(res))
	}
	if n == 0 {
		return nil, errNoDevice
	}
	pds := make([]vk.PhysicalDevice, n)
	if res := vk.EnumeratePhysicalDevices(in, &n, pds); res != vk.Success && res != vk.Incomplete {
		return nil, fmt.Errorf("vulkan: cannot list devices: %v", vk.Error(res))
	}
	var out []*physical
	for _, pd := range pds[:n] {
		out = append(out, describe(in, pd))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank < out[j].rank })
	return out, nil
}

func describe(in vk.Instance, pd vk.PhysicalDevice) *physical {
	p := properties(in, pd)
	if p.vendor == 0x10005 && strings.Contains(p.name, "llvmpipe") {
		p.loopLimit = 65535
	}
	switch p.kind {
	case "discrete-gpu":
		p.rank = 0
	case "integrated-gpu":
		p.rank = 1
	case "virtual-gpu":
		p.rank = 2
	case "cpu":
		p.rank = 4
	default:
		p.kind, p.rank = "other", 3
	}

	var found bool
	p.queueFamily, found = computeQueueFamily(in, pd)
	p.subgroup, p.subgroupOps = subgroup(in, pd)
	p.half = halfFeatures(in, pd, p.apiVersion.Major() > 1 || p.apiVersion.Minor() >= 2)

	l := p.limits
	switch {
	case p.apiVersion.Major() == 1 && p.apiVersion.Minor() < 1:
		p.unusable = fmt.Sprintf("Vulkan %v, the kernels need 1.1", p.apiVersion)
	case !found:
		p.unusable = "no compute queue"
	case l.MaxPerStageDescriptorStorageBuffers < maxBindings || l.MaxBoundDescriptorSets < 1:
		p.unusable = fmt.Sprintf("%d storage buffers per stage, the kernels need %d", l.MaxPerStageDescriptorStorageBuffers, maxBindings)
	case l.MaxPushConstantsSize < pushBytes:
		p.unusable = fmt.Sprintf("%d bytes of push constants, the kernels need %d", l.MaxPushConstantsSize, pushBytes)
	case l.MaxComputeWorkGroupInvocations < 256 || l.MaxComputeWorkGroupSize[0] < 256:
		p.unusable = fmt.Sprintf("workgroups of %d invocations, the kernels need 256", l.MaxComputeWorkGroupInvocations)
	case l.MaxComputeSharedMemorySize < 16384:
		p.unusable = fmt.Sprintf("%d bytes of shared memory, the kernels need 16384", l.MaxComputeSharedMemorySize)
	}
	return p
}

// deviceMemory returns the size of the largest device-local heap.
func (p *physical) deviceMemory() int64 {
	var best uint64
	for _, h := range p.memHeaps {
		if h.Flags&vk.MemoryHeapFlags(vk.MemoryHeapDeviceLocalBit) != 0 && uint64(h.Size) > best {
			best = uint64(h.Size)
		}
	}
	return int64(best)
}

// maxTensorBytes is the largest tensor: one storage-buffer binding.
func (p *physical) maxTensorBytes() int64 {
	return int64(p.limits.MaxStorageBufferRange) &^ 255
}

// info describes the device as backend.Info; spec is how to open it.
func (p *physical) info(spec string) backend.Info {
	l := p.limits
	limits := [][2]string{
		{"vulkan", fmt.Sprintf("%v (driver %#x)", p.apiVersion, p.driver)},
	}
	if p.subgroup > 0 {
		limits = append(limits, [2]string{"subgroup size", fmt.Sprint(p.subgroup)})
	}
	limits = append(limits,
		[2]string{"shared memory", fmt.Sprintf("%d B", l.MaxComputeSharedMemorySize)},
		[2]string{"workgroup", fmt.Sprintf("%d invocations, %dx%dx%d", l.MaxComputeWorkGroupInvocations,
			l.MaxComputeWorkGroupSize[0], l.MaxComputeWorkGroupSize[1], l.MaxComputeWorkGroupSize[2])},
		[2]string{"workgroup count", fmt.Sprintf("%dx%dx%d", l.MaxComputeWorkGroupCount[0], l.MaxComputeWorkGroupCount[1], l.MaxComputeWorkGroupCount[2])},
		[2]string{"storage buffer range", fmt.Sprintf("%d B", l.MaxStorageBufferRange)},
		[2]string{"push constants", fmt.Sprintf("%d B", l.MaxPushConstantsSize)},
	)
	var heaps []string
	for _, h := range p.memHeaps {
		s := fmt.Sprintf("%.1f GiB", float64(h.Size)/(1<<30))
		if h.Flags&vk.MemoryHeapFlags(vk.MemoryHeapDeviceLocalBit) != 0 {
			s += " device-local"
		}
		heaps = append(heaps, s)
	}
	limits = append(limits, [2]string{"memory heaps", strings.Join(heaps, ", ")})
	if l.Timestamps {
		limits = append(limits, [2]string{"timestamps", fmt.Sprintf("%g ns per tick", l.TimestampPeriod)})
	}
	limits = append(limits, [2]string{"16-bit", p.halfNote()})
	if p.unusable != "" {
		limits = append(limits, [2]string{"unusable", p.unusable})
	}
	info := backend.Info{
		Backend:        spec,
		Device:         p.name,
		Kind:           p.kind,
		Memory:         p.deviceMemory(),
		MaxTensorBytes: p.maxTensorBytes(),
		DTypes:         p.dtypes(),
		Ops:            ops(),
		Guards:         true,
		Limits:         limits,
	}
	if p.unusable != "" {
		info.Ops = nil
	}
	return info
}

// dtypes are the dtypes the device holds: f16 and bf16 where it has
// storageBuffer16BitAccess (kernels convert 16-bit values to and from
// float32 with integer arithmetic, so shaderFloat16 is not needed).
func (p *physical) dtypes() []backend.DType {
	if p.half&halfStorage != 0 {
		return []backend.DType{backend.F32, backend.F16, backend.BF16, backend.I32}
	}
	return []backend.DType{backend.F32, backend.I32}
}

// halfNote describes the device's 16-bit features for `ijepa backends`.
func (p *physical) halfNote() string {
	yes := func(bit uint32) string {
		if p.half&bit != 0 {
			return "yes"
		}
		return "no"
	}
	s := fmt.Sprintf("storageBuffer16BitAccess %s, shaderFloat16 %s: ", yes(halfStorage), yes(halfFloat16))
	if p.half&halfStorage == 0 {
		return s + "f16 and bf16 unsupported"
	}
	return s + "f16 and bf16 stored as 16 bits, computed in float32 (the kernels of the ops a training step runs in 16 bits read and write them; other ops cast in, cast out)"
}

// devices lists the devices as backend.Info, in preference order.
func devices() ([]backend.Info, error) {
	list, err := instance()
	if err != nil {
		return nil, err
	}
	out := make([]backend.Info, len(list))
	for i, p := range list {
		out[i] = p.info(fmt.Sprintf("vulkan:%d", i))
	}
	return out, nil
}

// choose returns the device an open argument names: "" for the default
// (deviceEnv, else the first usable device), an index, or a name substring.
func choose(arg string) (*physical, error) {
	list, err := instance()
	if err != nil {
		return nil, err
	}
	from := ""
	if arg == "" {
		arg, from = os.Getenv(deviceEnv), " (from "+deviceEnv+")"
	}
	names := make([]string, len(list))
	for i, p := range list {
		names[i] = fmt.Sprintf("%d: %s", i, p.name)
	}
	var p *physical
	switch i, err := strconv.Atoi(arg); {
	case arg == "":
		for _, q := range list {
			if q.unusable == "" {
				p = q
				break
			}
		}
		if p == nil {
			return nil, fmt.Errorf("vulkan: no usable device (%s): %s", strings.Join(names, "; "), list[0].unusable)
		}
	case err == nil:
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("vulkan: no device %d%s; the devices are %s", i, from, strings.Join(names, "; "))
		}
		p = list[i]
	default:
		for _, q := range list {
			if strings.Contains(strings.ToLower(q.name), strings.ToLower(arg)) {
				p = q
				break
			}
		}
		if p == nil {
			return nil, fmt.Errorf("vulkan: no device named %q%s; the devices are %s", arg, from, strings.Join(names, "; "))
		}
	}
	if p.unusable != "" {
		return nil, fmt.Errorf("vulkan: device %s cannot run the kernels: %s", p.name, p.unusable)
	}
	return p, nil
}
