//go:build linux && cgo

package vulkan

/*
#include <stdint.h>
#include <stddef.h>
#include <string.h>

// The structures of vkCreateComputePipelines, declared by hand as in
// loader.go (no Vulkan headers needed to build): non-dispatchable handles
// are 64-bit, dispatchable ones pointers, enums and flags 32-bit.
typedef struct {
	uint32_t constantID, offset;
	size_t size;
} ijepaSpecEntry;

typedef struct {
	uint32_t mapEntryCount;
	const ijepaSpecEntry* pMapEntries;
	size_t dataSize;
	const void* pData;
} ijepaSpecInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, stage;
	uint64_t module;
	const char* pName;
	const ijepaSpecInfo* pSpecializationInfo;
} ijepaStageInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	ijepaStageInfo stage;
	uint64_t layout, basePipelineHandle;
	int32_t basePipelineIndex;
} ijepaComputeInfo;

typedef void* (*ijepaGetInstanceProc)(void* instance, const char* name);
typedef void* (*ijepaGetDeviceProc)(void* device, const char* name);
typedef int32_t (*ijepaCreateCompute)(void* device, uint64_t cache, uint32_t n,
	const ijepaComputeInfo* infos, const void* allocator, uint64_t* pipelines);

enum { ijepaMaxSpec = 32 };

// ijepaCreateComputePipeline creates the compute pipeline of module's
// "main" with nspec 32-bit specialisation constants (constant i = spec[i])
// and returns the VkResult; -7 (VK_ERROR_EXTENSION_NOT_PRESENT) when the
// entry point cannot be found. Every structure lives on this stack frame.
static int32_t ijepaCreateComputePipeline(void* gipa, void* instance, void* device, uint64_t cache,
		uint64_t module, uint64_t layout, uint32_t nspec, const uint32_t* spec, uint64_t* pipeline) {
	ijepaGetDeviceProc gdpa = (ijepaGetDeviceProc)((ijepaGetInstanceProc)gipa)(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL || nspec > ijepaMaxSpec) {
		return -7;
	}
	ijepaCreateCompute create = (ijepaCreateCompute)gdpa(device, "vkCreateComputePipelines");
	if (create == NULL) {
		return -7;
	}
	uint32_t data[ijepaMaxSpec];
	ijepaSpecEntry entries[ijepaMaxSpec];
	for (uint32_t i = 0; i < nspec; i++) {
		data[i] = spec[i];
		entries[i].constantID = i;
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	ijepaSpecInfo si = {nspec, entries, 4 * (size_t)nspec, data};
	ijepaComputeInfo ci;
	memset(&ci, 0, sizeof ci);
	ci.sType = 29; // VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
	ci.stage.sType = 18; // VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
	ci.stage.stage = 0x20; // VK_SHADER_STAGE_COMPUTE_BIT
	ci.stage.module = module;
	ci.stage.pName = "main";
	ci.stage.pSpecializationInfo = nspec > 0 ? &si : NULL;
	ci.layout = layout;
	ci.basePipelineIndex = -1;
	return create(device, cache, 1, &ci, NULL, pipeline);
}
*/
import "C"

import (
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// createComputePipeline calls vkCreateComputePipelines with structures
// built in C. The binding's own CreateComputePipelines cannot be used: it
// converts the create info into C memory that a finalizer frees as soon as
// the garbage collector runs, which it may do while the driver is still
// compiling the pipeline (lavapipe compiles with LLVM, for milliseconds)
// — a crash in training, whose data loader allocates all the time.
func createComputePipeline(dev vk.Device, cache vk.PipelineCache, mod vk.ShaderModule, layout vk.PipelineLayout, spec []uint32) (vk.Pipeline, vk.Result) {
	var data [maxSpec]uint32
	copy(data[:], spec)
	var pipe vk.Pipeline
	res := C.ijepaCreateComputePipeline(gipa, unsafe.Pointer(inst), unsafe.Pointer(dev),
		C.uint64_t(handle(unsafe.Pointer(&cache))), C.uint64_t(handle(unsafe.Pointer(&mod))), C.uint64_t(handle(unsafe.Pointer(&layout))),
		C.uint32_t(len(spec)), (*C.uint32_t)(unsafe.Pointer(&data[0])), (*C.uint64_t)(unsafe.Pointer(&pipe)))
	return pipe, vk.Result(res)
}

// handle reads a non-dispatchable handle (64 bits on every platform).
func handle(p unsafe.Pointer) uint64 { return *(*uint64)(p) }
