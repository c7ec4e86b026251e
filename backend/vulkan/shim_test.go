//go:build linux && cgo

package vulkan

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// whileGCRuns runs f while another goroutine runs the garbage collector
// without pause (as in training, where the data loader allocates all the
// time). Through vulkan-go's wrappers, whose C copies of the structures
// finalizers free, the driver could then read freed memory.
func whileGCRuns(t *testing.T, f func()) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()
	f()
}

// Pipelines are created while the garbage collector runs: the create info
// must stay valid for the whole of the driver's compilation (milliseconds
// on lavapipe). Through the binding's CreateComputePipelines this crashed.
func TestPipelinesWhileGCRuns(t *testing.T) {
	b := open(t)
	const n = 24
	whileGCRuns(t, func() {
		for i := uint32(1); i <= n; i++ {
			// Distinct workgroup sizes: a pipeline (and a compilation) each.
			if _, err := b.pipeline("gelu", i, i%2); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(b.pipes) < n {
		t.Errorf("%d pipelines, want at least %d", len(b.pipes), n)
	}
}

// The per-op and per-submit calls run hundreds of times while the garbage
// collector runs: staged writes and reads (buffer copies), dispatches with
// barriers, descriptor sets allocated and written anew each round, copies,
// begins and submits; every round's result is checked.
func TestHotPathsWhileGCRuns(t *testing.T) {
	b := open(t)
	b.devArena.mapped = false // every write and read is a copy command
	const n, rounds = 1024, 300
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	inc := fromF32(t, b, ones, n)
	x, _ := b.New(backend.F32, n)
	y, _ := b.New(backend.F32, n)
	submits, barriers, dispatches := b.submits, b.barriers, b.dispatches
	whileGCRuns(t, func() {
		for r := range rounds {
			start := make([]float32, n)
			for i := range start {
				start[i] = float32(r)
			}
			backend.WriteF32(b, x, start)
			backend.Axpy(b, x, inc, 1)
			backend.Axpy(b, x, inc, 2)
			backend.Copy(b, y, x)
			backend.Scale(b, x, y, 2)
			got := readF32(t, b, x)
			want := float32(2 * (r + 3))
			for i, v := range got {
				if v != want {
					t.Fatalf("round %d: x[%d] = %g, want %g", r, i, v, want)
				}
			}
			// Nothing is queued after a read: forget the descriptor sets,
			// so that the next round allocates and writes them again.
			for _, blk := range b.devArena.blocks {
				b.dropSets(blk.id)
			}
		}
	})
	if got := b.submits - submits; got < rounds {
		t.Errorf("%d submits in %d rounds, want at least one a round", got, rounds)
	}
	if got := b.barriers - barriers; got < 3*rounds {
		t.Errorf("%d barriers in %d rounds, want at least 3 a round", got, rounds)
	}
	if got := b.dispatches - dispatches; got != 3*rounds {
		t.Errorf("%d dispatches in %d rounds, want %d", got, rounds, 3*rounds)
	}
}

// Devices, with their pools, layouts and memory, are created and closed
// while the garbage collector runs.
func TestOpenWhileGCRuns(t *testing.T) {
	open(t) // skips where there is no device
	whileGCRuns(t, func() {
		for range 4 {
			b, err := Open("")
			if err != nil {
				t.Fatal(err)
			}
			x := fromF32(t, b, []float32{1, 2, 3}, 3)
			backend.Scale(b, x, x, 2)
			if got := readF32(t, b, x); got[2] != 6 {
				t.Errorf("x = %v, want [2 4 6]", got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// shimStructs are the structures of shim.h (ijepaNAME for VkNAME) and the
// fields of each.
var shimStructs = map[string][]string{
	"ApplicationInfo":               {"sType", "pNext", "pApplicationName", "applicationVersion", "pEngineName", "engineVersion", "apiVersion"},
	"InstanceCreateInfo":            {"sType", "pNext", "flags", "pApplicationInfo", "enabledLayerCount", "ppEnabledLayerNames", "enabledExtensionCount", "ppEnabledExtensionNames"},
	"QueueFamilyProperties":         {"queueFlags", "queueCount", "timestampValidBits", "minImageTransferGranularity"},
	"DeviceQueueCreateInfo":         {"sType", "pNext", "flags", "queueFamilyIndex", "queueCount", "pQueuePriorities"},
	"DeviceCreateInfo":              {"sType", "pNext", "flags", "queueCreateInfoCount", "pQueueCreateInfos", "enabledLayerCount", "ppEnabledLayerNames", "enabledExtensionCount", "ppEnabledExtensionNames", "pEnabledFeatures"},
	"CommandPoolCreateInfo":         {"sType", "pNext", "flags", "queueFamilyIndex"},
	"BufferCreateInfo":              {"sType", "pNext", "flags", "size", "usage", "sharingMode", "queueFamilyIndexCount", "pQueueFamilyIndices"},
	"MemoryRequirements":            {"size", "alignment", "memoryTypeBits"},
	"MemoryAllocateInfo":            {"sType", "pNext", "allocationSize", "memoryTypeIndex"},
	"DescriptorSetLayoutBinding":    {"binding", "descriptorType", "descriptorCount", "stageFlags", "pImmutableSamplers"},
	"DescriptorSetLayoutCreateInfo": {"sType", "pNext", "flags", "bindingCount", "pBindings"},
	"PushConstantRange":             {"stageFlags", "offset", "size"},
	"PipelineLayoutCreateInfo":      {"sType", "pNext", "flags", "setLayoutCount", "pSetLayouts", "pushConstantRangeCount", "pPushConstantRanges"},
	"PipelineCacheCreateInfo":       {"sType", "pNext", "flags", "initialDataSize", "pInitialData"},
	"ShaderModuleCreateInfo":        {"sType", "pNext", "flags", "codeSize", "pCode"},
	"SpecializationMapEntry":        {"constantID", "offset", "size"},
	"SpecializationInfo":            {"mapEntryCount", "pMapEntries", "dataSize", "pData"},
	"PipelineShaderStageCreateInfo": {"sType", "pNext", "flags", "stage", "module", "pName", "pSpecializationInfo"},
	"ComputePipelineCreateInfo":     {"sType", "pNext", "flags", "stage", "layout", "basePipelineHandle", "basePipelineIndex"},
	"DescriptorPoolSize":            {"type", "descriptorCount"},
	"DescriptorPoolCreateInfo":      {"sType", "pNext", "flags", "maxSets", "poolSizeCount", "pPoolSizes"},
	"DescriptorSetAllocateInfo":     {"sType", "pNext", "descriptorPool", "descriptorSetCount", "pSetLayouts"},
	"DescriptorBufferInfo":          {"buffer", "offset", "range"},
	"WriteDescriptorSet":            {"sType", "pNext", "dstSet", "dstBinding", "dstArrayElement", "descriptorCount", "descriptorType", "pImageInfo", "pBufferInfo", "pTexelBufferView"},
	"CommandBufferAllocateInfo":     {"sType", "pNext", "commandPool", "level", "commandBufferCount"},
	"FenceCreateInfo":               {"sType", "pNext", "flags"},
	"CommandBufferBeginInfo":        {"sType", "pNext", "flags", "pInheritanceInfo"},
	"MemoryBarrier":                 {"sType", "pNext", "srcAccessMask", "dstAccessMask"},
	"BufferCopy":                    {"srcOffset", "dstOffset", "size"},
	"SubmitInfo":                    {"sType", "pNext", "waitSemaphoreCount", "pWaitSemaphores", "pWaitDstStageMask", "commandBufferCount", "pCommandBuffers", "signalSemaphoreCount", "pSignalSemaphores"},
}

// shimEnums are shim.h's constants and the Vulkan enumerants they stand for.
var shimEnums = map[string]string{
	"ijepaSTypeApplicationInfo":                  "VK_STRUCTURE_TYPE_APPLICATION_INFO",
	"ijepaSTypeInstanceCreateInfo":               "VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO",
	"ijepaSTypeDeviceQueueCreateInfo":            "VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO",
	"ijepaSTypeDeviceCreateInfo":                 "VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO",
	"ijepaSTypeSubmitInfo":                       "VK_STRUCTURE_TYPE_SUBMIT_INFO",
	"ijepaSTypeMemoryAllocateInfo":               "VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO",
	"ijepaSTypeFenceCreateInfo":                  "VK_STRUCTURE_TYPE_FENCE_CREATE_INFO",
	"ijepaSTypeBufferCreateInfo":                 "VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO",
	"ijepaSTypeShaderModuleCreateInfo":           "VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO",
	"ijepaSTypePipelineCacheCreateInfo":          "VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO",
	"ijepaSTypePipelineShaderStageCreateInfo":    "VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO",
	"ijepaSTypeComputePipelineCreateInfo":        "VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO",
	"ijepaSTypePipelineLayoutCreateInfo":         "VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO",
	"ijepaSTypeDescriptorSetLayoutCreateInfo":    "VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO",
	"ijepaSTypeDescriptorPoolCreateInfo":         "VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO",
	"ijepaSTypeDescriptorSetAllocateInfo":        "VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO",
	"ijepaSTypeWriteDescriptorSet":               "VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET",
	"ijepaSTypeCommandPoolCreateInfo":            "VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO",
	"ijepaSTypeCommandBufferAllocateInfo":        "VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO",
	"ijepaSTypeCommandBufferBeginInfo":           "VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO",
	"ijepaSTypeMemoryBarrier":                    "VK_STRUCTURE_TYPE_MEMORY_BARRIER",
	"ijepaErrorExtensionNotPresent":              "VK_ERROR_EXTENSION_NOT_PRESENT",
	"ijepaShaderStageCompute":                    "VK_SHADER_STAGE_COMPUTE_BIT",
	"ijepaDescriptorTypeStorageBuffer":           "VK_DESCRIPTOR_TYPE_STORAGE_BUFFER",
	"ijepaSharingModeExclusive":                  "VK_SHARING_MODE_EXCLUSIVE",
	"ijepaCommandBufferLevelPrimary":             "VK_COMMAND_BUFFER_LEVEL_PRIMARY",
	"ijepaCommandPoolCreateResetCommandBuffer":   "VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT",
	"ijepaDescriptorPoolCreateFreeDescriptorSet": "VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT",
	"ijepaCommandBufferUsageOneTimeSubmit":       "VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT",
	"ijepaWholeSize":                             "VK_WHOLE_SIZE",
}

// shim.h's hand-written structures and constants agree with the Vulkan
// headers, where they are installed (the build does not need them): a C
// program asserts every size, alignment, field offset and field size, and
// every constant. (The entry points' signatures are checked by use: the
// other tests call each of them.)
func TestShimLayout(t *testing.T) {
	const header = "/usr/include/vulkan/vulkan.h"
	if _, err := os.Stat(header); err != nil {
		t.Skipf("no Vulkan headers (%s) to check shim.h against", header)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to check shim.h with")
	}
	shim, err := filepath.Abs("shim.h")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	fmt.Fprintf(&src, "#include <vulkan/vulkan.h>\n#include %q\n", shim)
	check := func(cond, what string) {
		fmt.Fprintf(&src, "_Static_assert(%s, %q);\n", cond, what)
	}
	for name, fields := range shimStructs {
		ours, theirs := "ijepa"+name, "Vk"+name
		check(fmt.Sprintf("sizeof(%s) == sizeof(%s)", ours, theirs), ours+": size")
		check(fmt.Sprintf("_Alignof(%s) == _Alignof(%s)", ours, theirs), ours+": alignment")
		for _, f := range fields {
			check(fmt.Sprintf("offsetof(%s, %s) == offsetof(%s, %s)", ours, f, theirs, f), ours+"."+f+": offset")
			check(fmt.Sprintf("sizeof(((%s*)0)->%s) == sizeof(((%s*)0)->%s)", ours, f, theirs, f), ours+"."+f+": size")
		}
	}
	for ours, theirs := range shimEnums {
		check(fmt.Sprintf("(int64_t)%s == (int64_t)%s", ours, theirs), ours)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "check.c")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-std=gnu11", "-Wall", "-Werror", "-Wno-unused-function", "-fsyntax-only", file).CombinedOutput(); err != nil {
		t.Fatalf("shim.h disagrees with %s: %v\n%s", header, err, out)
	}
	t.Logf("%d structures and %d constants agree with %s", len(shimStructs), len(shimEnums), header)
}
