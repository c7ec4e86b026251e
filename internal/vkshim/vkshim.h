// The C side of backend/vulkan's shim.go and of cmd/ijepa-view's: every
// Vulkan call of theirs that takes a structure builds it here (or in
// cmd/ijepa-view/shim.h), on the C stack, and calls the driver's entry
// point directly. The structures are declared by hand (no Vulkan headers
// needed to build); TestLayout checks them against <vulkan/vulkan.h> where
// it is installed. Non-dispatchable handles are 64-bit, dispatchable
// ones pointers, enums and flags 32-bit, VkDeviceSize 64-bit.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	int32_t sType;
	const void* pNext;
	const char* pApplicationName;
	uint32_t applicationVersion;
	const char* pEngineName;
	uint32_t engineVersion, apiVersion;
} ijepaApplicationInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	const ijepaApplicationInfo* pApplicationInfo;
	uint32_t enabledLayerCount;
	const char* const* ppEnabledLayerNames;
	uint32_t enabledExtensionCount;
	const char* const* ppEnabledExtensionNames;
} ijepaInstanceCreateInfo;

typedef struct {
	uint32_t queueFlags, queueCount, timestampValidBits;
	uint32_t minImageTransferGranularity[3];
} ijepaQueueFamilyProperties;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, queueFamilyIndex, queueCount;
	const float* pQueuePriorities;
} ijepaDeviceQueueCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, queueCreateInfoCount;
	const ijepaDeviceQueueCreateInfo* pQueueCreateInfos;
	uint32_t enabledLayerCount;
	const char* const* ppEnabledLayerNames;
	uint32_t enabledExtensionCount;
	const char* const* ppEnabledExtensionNames;
	const void* pEnabledFeatures;
} ijepaDeviceCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, queueFamilyIndex;
} ijepaCommandPoolCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	uint64_t size;
	uint32_t usage;
	int32_t sharingMode;
	uint32_t queueFamilyIndexCount;
	const uint32_t* pQueueFamilyIndices;
} ijepaBufferCreateInfo;

typedef struct {
	uint64_t size, alignment;
	uint32_t memoryTypeBits;
} ijepaMemoryRequirements;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint64_t allocationSize;
	uint32_t memoryTypeIndex;
} ijepaMemoryAllocateInfo;

typedef struct {
	uint32_t binding;
	int32_t descriptorType;
	uint32_t descriptorCount, stageFlags;
	const void* pImmutableSamplers;
} ijepaDescriptorSetLayoutBinding;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, bindingCount;
	const ijepaDescriptorSetLayoutBinding* pBindings;
} ijepaDescriptorSetLayoutCreateInfo;

typedef struct {
	uint32_t stageFlags, offset, size;
} ijepaPushConstantRange;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, setLayoutCount;
	const uint64_t* pSetLayouts;
	uint32_t pushConstantRangeCount;
	const ijepaPushConstantRange* pPushConstantRanges;
} ijepaPipelineLayoutCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	size_t initialDataSize;
	const void* pInitialData;
} ijepaPipelineCacheCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	size_t codeSize;
	const uint32_t* pCode;
} ijepaShaderModuleCreateInfo;

typedef struct {
	uint32_t constantID, offset;
	size_t size;
} ijepaSpecializationMapEntry;

typedef struct {
	uint32_t mapEntryCount;
	const ijepaSpecializationMapEntry* pMapEntries;
	size_t dataSize;
	const void* pData;
} ijepaSpecializationInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, stage;
	uint64_t module;
	const char* pName;
	const ijepaSpecializationInfo* pSpecializationInfo;
} ijepaPipelineShaderStageCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	ijepaPipelineShaderStageCreateInfo stage;
	uint64_t layout, basePipelineHandle;
	int32_t basePipelineIndex;
} ijepaComputePipelineCreateInfo;

typedef struct {
	int32_t type;
	uint32_t descriptorCount;
} ijepaDescriptorPoolSize;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags, maxSets, poolSizeCount;
	const ijepaDescriptorPoolSize* pPoolSizes;
} ijepaDescriptorPoolCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint64_t descriptorPool;
	uint32_t descriptorSetCount;
	const uint64_t* pSetLayouts;
} ijepaDescriptorSetAllocateInfo;

typedef struct {
	uint64_t buffer, offset, range;
} ijepaDescriptorBufferInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint64_t dstSet;
	uint32_t dstBinding, dstArrayElement, descriptorCount;
	int32_t descriptorType;
	const void* pImageInfo;
	const ijepaDescriptorBufferInfo* pBufferInfo;
	const void* pTexelBufferView;
} ijepaWriteDescriptorSet;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint64_t commandPool;
	int32_t level;
	uint32_t commandBufferCount;
} ijepaCommandBufferAllocateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
} ijepaFenceCreateInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	const void* pInheritanceInfo;
} ijepaCommandBufferBeginInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t srcAccessMask, dstAccessMask;
} ijepaMemoryBarrier;

typedef struct {
	uint64_t srcOffset, dstOffset, size;
} ijepaBufferCopy;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t waitSemaphoreCount;
	const uint64_t* pWaitSemaphores;
	const uint32_t* pWaitDstStageMask;
	uint32_t commandBufferCount;
	void* const* pCommandBuffers;
	uint32_t signalSemaphoreCount;
	const uint64_t* pSignalSemaphores;
} ijepaSubmitInfo;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
} ijepaSemaphoreCreateInfo;

typedef struct {
	uint32_t width, height;
} ijepaExtent2D;

typedef struct {
	uint32_t width, height, depth;
} ijepaExtent3D;

typedef struct {
	int32_t x, y, z;
} ijepaOffset3D;

typedef struct {
	int32_t format, colorSpace;
} ijepaSurfaceFormatKHR;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t flags;
	uint64_t surface;
	uint32_t minImageCount;
	int32_t imageFormat, imageColorSpace;
	ijepaExtent2D imageExtent;
	uint32_t imageArrayLayers, imageUsage;
	int32_t imageSharingMode;
	uint32_t queueFamilyIndexCount;
	const uint32_t* pQueueFamilyIndices;
	uint32_t preTransform, compositeAlpha;
	int32_t presentMode;
	uint32_t clipped;
	uint64_t oldSwapchain;
} ijepaSwapchainCreateInfoKHR;

typedef struct {
	uint32_t aspectMask, baseMipLevel, levelCount, baseArrayLayer, layerCount;
} ijepaImageSubresourceRange;

typedef struct {
	uint32_t aspectMask, mipLevel, baseArrayLayer, layerCount;
} ijepaImageSubresourceLayers;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t srcAccessMask, dstAccessMask;
	int32_t oldLayout, newLayout;
	uint32_t srcQueueFamilyIndex, dstQueueFamilyIndex;
	uint64_t image;
	ijepaImageSubresourceRange subresourceRange;
} ijepaImageMemoryBarrier;

typedef struct {
	uint64_t bufferOffset;
	uint32_t bufferRowLength, bufferImageHeight;
	ijepaImageSubresourceLayers imageSubresource;
	ijepaOffset3D imageOffset;
	ijepaExtent3D imageExtent;
} ijepaBufferImageCopy;

typedef struct {
	int32_t sType;
	const void* pNext;
	uint32_t waitSemaphoreCount;
	const uint64_t* pWaitSemaphores;
	uint32_t swapchainCount;
	const uint64_t* pSwapchains;
	const uint32_t* pImageIndices;
	int32_t* pResults;
} ijepaPresentInfoKHR;

// The VkStructureType values used here.
enum {
	ijepaSTypeApplicationInfo = 0,
	ijepaSTypeInstanceCreateInfo = 1,
	ijepaSTypeDeviceQueueCreateInfo = 2,
	ijepaSTypeDeviceCreateInfo = 3,
	ijepaSTypeSubmitInfo = 4,
	ijepaSTypeMemoryAllocateInfo = 5,
	ijepaSTypeFenceCreateInfo = 8,
	ijepaSTypeSemaphoreCreateInfo = 9,
	ijepaSTypeBufferCreateInfo = 12,
	ijepaSTypeShaderModuleCreateInfo = 16,
	ijepaSTypePipelineCacheCreateInfo = 17,
	ijepaSTypePipelineShaderStageCreateInfo = 18,
	ijepaSTypeComputePipelineCreateInfo = 29,
	ijepaSTypePipelineLayoutCreateInfo = 30,
	ijepaSTypeDescriptorSetLayoutCreateInfo = 32,
	ijepaSTypeDescriptorPoolCreateInfo = 33,
	ijepaSTypeDescriptorSetAllocateInfo = 34,
	ijepaSTypeWriteDescriptorSet = 35,
	ijepaSTypeCommandPoolCreateInfo = 39,
	ijepaSTypeCommandBufferAllocateInfo = 40,
	ijepaSTypeCommandBufferBeginInfo = 42,
	ijepaSTypeImageMemoryBarrier = 45,
	ijepaSTypeMemoryBarrier = 46,
	ijepaSTypeSwapchainCreateInfoKHR = 1000001000,
	ijepaSTypePresentInfoKHR = 1000001001,
};

// Other enumerants and flags.
enum {
	ijepaErrorExtensionNotPresent = -7,
	ijepaShaderStageCompute = 0x20,
	ijepaDescriptorTypeStorageBuffer = 7,
	ijepaSharingModeExclusive = 0,
	ijepaCommandBufferLevelPrimary = 0,
	ijepaCommandPoolCreateResetCommandBuffer = 0x2,
	ijepaDescriptorPoolCreateFreeDescriptorSet = 0x1,
	ijepaCommandBufferUsageOneTimeSubmit = 0x1,
	ijepaImageAspectColor = 0x1,
};

#define ijepaQueueFamilyIgnored (~(uint32_t)0) // VK_QUEUE_FAMILY_IGNORED

#define ijepaWholeSize (~(uint64_t)0) // VK_WHOLE_SIZE

enum { ijepaMaxSpec = 32, ijepaMaxBindings = 16, ijepaMaxQueueFamilies = 64, ijepaMaxExtensions = 16 };

typedef void* (*ijepaGetInstanceProcAddr)(void* instance, const char* name);
typedef void* (*ijepaGetDeviceProcAddr)(void* device, const char* name);

typedef int32_t (*ijepaPFNCreateInstance)(const ijepaInstanceCreateInfo*, const void*, void**);
typedef void (*ijepaPFNGetQueueFamilies)(void*, uint32_t*, ijepaQueueFamilyProperties*);
typedef int32_t (*ijepaPFNCreateDevice)(void*, const ijepaDeviceCreateInfo*, const void*, void**);
typedef int32_t (*ijepaPFNCreateCommandPool)(void*, const ijepaCommandPoolCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreateBuffer)(void*, const ijepaBufferCreateInfo*, const void*, uint64_t*);
typedef void (*ijepaPFNGetBufferMemoryRequirements)(void*, uint64_t, ijepaMemoryRequirements*);
typedef int32_t (*ijepaPFNAllocateMemory)(void*, const ijepaMemoryAllocateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreateDescriptorSetLayout)(void*, const ijepaDescriptorSetLayoutCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreatePipelineLayout)(void*, const ijepaPipelineLayoutCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreatePipelineCache)(void*, const ijepaPipelineCacheCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreateShaderModule)(void*, const ijepaShaderModuleCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreateComputePipelines)(void*, uint64_t, uint32_t, const ijepaComputePipelineCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreateDescriptorPool)(void*, const ijepaDescriptorPoolCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNAllocateDescriptorSets)(void*, const ijepaDescriptorSetAllocateInfo*, uint64_t*);
typedef void (*ijepaPFNUpdateDescriptorSets)(void*, uint32_t, const ijepaWriteDescriptorSet*, uint32_t, const void*);
typedef int32_t (*ijepaPFNAllocateCommandBuffers)(void*, const ijepaCommandBufferAllocateInfo*, void**);
typedef int32_t (*ijepaPFNCreateFence)(void*, const ijepaFenceCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNBeginCommandBuffer)(void*, const ijepaCommandBufferBeginInfo*);
typedef void (*ijepaPFNCmdPipelineBarrier)(void*, uint32_t, uint32_t, uint32_t, uint32_t, const ijepaMemoryBarrier*,
	uint32_t, const void*, uint32_t, const void*);
typedef void (*ijepaPFNCmdCopyBuffer)(void*, uint64_t, uint64_t, uint32_t, const ijepaBufferCopy*);
typedef int32_t (*ijepaPFNQueueSubmit)(void*, uint32_t, const ijepaSubmitInfo*, uint64_t);

// ijepaDeviceFns holds a device's entry points, looked up once.
typedef struct {
	ijepaPFNCreateCommandPool createCommandPool;
	ijepaPFNCreateBuffer createBuffer;
	ijepaPFNGetBufferMemoryRequirements getBufferMemoryRequirements;
	ijepaPFNAllocateMemory allocateMemory;
	ijepaPFNCreateDescriptorSetLayout createDescriptorSetLayout;
	ijepaPFNCreatePipelineLayout createPipelineLayout;
	ijepaPFNCreatePipelineCache createPipelineCache;
	ijepaPFNCreateShaderModule createShaderModule;
	ijepaPFNCreateComputePipelines createComputePipelines;
	ijepaPFNCreateDescriptorPool createDescriptorPool;
	ijepaPFNAllocateDescriptorSets allocateDescriptorSets;
	ijepaPFNUpdateDescriptorSets updateDescriptorSets;
	ijepaPFNAllocateCommandBuffers allocateCommandBuffers;
	ijepaPFNCreateFence createFence;
	ijepaPFNBeginCommandBuffer beginCommandBuffer;
	ijepaPFNCmdPipelineBarrier cmdPipelineBarrier;
	ijepaPFNCmdCopyBuffer cmdCopyBuffer;
	ijepaPFNQueueSubmit queueSubmit;
} ijepaDeviceFns;

// ijepaLoadDevice fills f with device's entry points and returns NULL, or
// the name of the first one the driver does not have.
static const char* ijepaLoadDevice(void* gipa, void* instance, void* device, ijepaDeviceFns* f) {
	ijepaGetDeviceProcAddr gdpa = (ijepaGetDeviceProcAddr)((ijepaGetInstanceProcAddr)gipa)(instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) {
		return "vkGetDeviceProcAddr";
	}
#define IJEPA_LOAD(field, name) \
	if ((f->field = (__typeof__(f->field))gdpa(device, name)) == NULL) { \
		return name; \
	}
	IJEPA_LOAD(createCommandPool, "vkCreateCommandPool")
	IJEPA_LOAD(createBuffer, "vkCreateBuffer")
	IJEPA_LOAD(getBufferMemoryRequirements, "vkGetBufferMemoryRequirements")
	IJEPA_LOAD(allocateMemory, "vkAllocateMemory")
	IJEPA_LOAD(createDescriptorSetLayout, "vkCreateDescriptorSetLayout")
	IJEPA_LOAD(createPipelineLayout, "vkCreatePipelineLayout")
	IJEPA_LOAD(createPipelineCache, "vkCreatePipelineCache")
	IJEPA_LOAD(createShaderModule, "vkCreateShaderModule")
	IJEPA_LOAD(createComputePipelines, "vkCreateComputePipelines")
	IJEPA_LOAD(createDescriptorPool, "vkCreateDescriptorPool")
	IJEPA_LOAD(allocateDescriptorSets, "vkAllocateDescriptorSets")
	IJEPA_LOAD(updateDescriptorSets, "vkUpdateDescriptorSets")
	IJEPA_LOAD(allocateCommandBuffers, "vkAllocateCommandBuffers")
	IJEPA_LOAD(createFence, "vkCreateFence")
	IJEPA_LOAD(beginCommandBuffer, "vkBeginCommandBuffer")
	IJEPA_LOAD(cmdPipelineBarrier, "vkCmdPipelineBarrier")
	IJEPA_LOAD(cmdCopyBuffer, "vkCmdCopyBuffer")
	IJEPA_LOAD(queueSubmit, "vkQueueSubmit")
#undef IJEPA_LOAD
	return NULL;
}

// ijepaCreateInstance creates an instance named app, without layers, with
// the nExt extensions exts (C strings).
static int32_t ijepaCreateInstance(void* gipa, const char* app, uint32_t apiVersion, uint32_t nExt, const char* const* exts, void** instance) {
	ijepaPFNCreateInstance create = (ijepaPFNCreateInstance)((ijepaGetInstanceProcAddr)gipa)(NULL, "vkCreateInstance");
	if (create == NULL) {
		return ijepaErrorExtensionNotPresent;
	}
	ijepaApplicationInfo ai = {ijepaSTypeApplicationInfo, NULL, app, 0, "ijepa", 0, apiVersion};
	ijepaInstanceCreateInfo ci = {ijepaSTypeInstanceCreateInfo, NULL, 0, &ai, 0, NULL, nExt, nExt > 0 ? exts : NULL};
	return create(&ci, NULL, instance);
}

// ijepaQueueFamilies stores the flags and queue counts of up to
// ijepaMaxQueueFamilies queue families and returns how many it stored.
static uint32_t ijepaQueueFamilies(void* gipa, void* instance, void* pd, uint32_t* flags, uint32_t* counts) {
	ijepaPFNGetQueueFamilies get = (ijepaPFNGetQueueFamilies)((ijepaGetInstanceProcAddr)gipa)(instance,
		"vkGetPhysicalDeviceQueueFamilyProperties");
	if (get == NULL) {
		return 0;
	}
	ijepaQueueFamilyProperties qs[ijepaMaxQueueFamilies];
	uint32_t n = ijepaMaxQueueFamilies;
	get(pd, &n, qs);
	for (uint32_t i = 0; i < n; i++) {
		flags[i] = qs[i].queueFlags;
		counts[i] = qs[i].queueCount;
	}
	return n;
}

// ijepaCreateDevice creates a device with one queue of family and the nExt
// extensions exts (C strings).
static int32_t ijepaCreateDevice(void* gipa, void* instance, void* pd, uint32_t family, uint32_t nExt, const char* const* exts, void** device) {
	ijepaPFNCreateDevice create = (ijepaPFNCreateDevice)((ijepaGetInstanceProcAddr)gipa)(instance, "vkCreateDevice");
	if (create == NULL) {
		return ijepaErrorExtensionNotPresent;
	}
	float priority = 1;
	ijepaDeviceQueueCreateInfo q = {ijepaSTypeDeviceQueueCreateInfo, NULL, 0, family, 1, &priority};
	ijepaDeviceCreateInfo ci;
	memset(&ci, 0, sizeof ci);
	ci.sType = ijepaSTypeDeviceCreateInfo;
	ci.queueCreateInfoCount = 1;
	ci.pQueueCreateInfos = &q;
	ci.enabledExtensionCount = nExt;
	ci.ppEnabledExtensionNames = nExt > 0 ? exts : NULL;
	return create(pd, &ci, NULL, device);
}

// ijepaCreateCommandPool creates a pool of resettable command buffers.
static int32_t ijepaCreateCommandPool(const ijepaDeviceFns* f, void* device, uint32_t family, uint64_t* pool) {
	ijepaCommandPoolCreateInfo ci = {ijepaSTypeCommandPoolCreateInfo, NULL, ijepaCommandPoolCreateResetCommandBuffer, family};
	return f->createCommandPool(device, &ci, NULL, pool);
}

// ijepaCreateBuffer creates an exclusive buffer.
static int32_t ijepaCreateBuffer(const ijepaDeviceFns* f, void* device, uint64_t size, uint32_t usage, uint64_t* buffer) {
	ijepaBufferCreateInfo ci = {ijepaSTypeBufferCreateInfo, NULL, 0, size, usage, ijepaSharingModeExclusive, 0, NULL};
	return f->createBuffer(device, &ci, NULL, buffer);
}

// ijepaBufferMemoryRequirements returns a buffer's memory size and its
// memory type bits in *types.
static uint64_t ijepaBufferMemoryRequirements(const ijepaDeviceFns* f, void* device, uint64_t buffer, uint32_t* types) {
	ijepaMemoryRequirements req;
	memset(&req, 0, sizeof req);
	f->getBufferMemoryRequirements(device, buffer, &req);
	*types = req.memoryTypeBits;
	return req.size;
}

static int32_t ijepaAllocateMemory(const ijepaDeviceFns* f, void* device, uint64_t size, uint32_t type, uint64_t* memory) {
	ijepaMemoryAllocateInfo ai = {ijepaSTypeMemoryAllocateInfo, NULL, size, type};
	return f->allocateMemory(device, &ai, NULL, memory);
}

// ijepaCreateSetLayout creates a layout of n storage buffers (bindings 0 to
// n-1) for compute shaders.
static int32_t ijepaCreateSetLayout(const ijepaDeviceFns* f, void* device, uint32_t n, uint64_t* layout) {
	if (n > ijepaMaxBindings) {
		return ijepaErrorExtensionNotPresent;
	}
	ijepaDescriptorSetLayoutBinding bs[ijepaMaxBindings];
	for (uint32_t i = 0; i < n; i++) {
		ijepaDescriptorSetLayoutBinding b = {i, ijepaDescriptorTypeStorageBuffer, 1, ijepaShaderStageCompute, NULL};
		bs[i] = b;
	}
	ijepaDescriptorSetLayoutCreateInfo ci = {ijepaSTypeDescriptorSetLayoutCreateInfo, NULL, 0, n, bs};
	return f->createDescriptorSetLayout(device, &ci, NULL, layout);
}

// ijepaCreatePipelineLayout creates a layout of one set and push bytes of
// compute push constants.
static int32_t ijepaCreatePipelineLayout(const ijepaDeviceFns* f, void* device, uint64_t setLayout, uint32_t push, uint64_t* layout) {
	ijepaPushConstantRange r = {ijepaShaderStageCompute, 0, push};
	ijepaPipelineLayoutCreateInfo ci = {ijepaSTypePipelineLayoutCreateInfo, NULL, 0, 1, &setLayout, 1, &r};
	return f->createPipelineLayout(device, &ci, NULL, layout);
}

static int32_t ijepaCreatePipelineCache(const ijepaDeviceFns* f, void* device, uint64_t* cache) {
	ijepaPipelineCacheCreateInfo ci = {ijepaSTypePipelineCacheCreateInfo, NULL, 0, 0, NULL};
	return f->createPipelineCache(device, &ci, NULL, cache);
}

// ijepaCreateShaderModule creates a module of n 32-bit SPIR-V words.
static int32_t ijepaCreateShaderModule(const ijepaDeviceFns* f, void* device, const uint32_t* code, size_t n, uint64_t* module) {
	ijepaShaderModuleCreateInfo ci = {ijepaSTypeShaderModuleCreateInfo, NULL, 0, 4 * n, code};
	return f->createShaderModule(device, &ci, NULL, module);
}

// ijepaCreateComputePipeline creates the compute pipeline of module's
// "main" with nspec 32-bit specialisation constants (constant i = spec[i]).
static int32_t ijepaCreateComputePipeline(const ijepaDeviceFns* f, void* device, uint64_t cache,
		uint64_t module, uint64_t layout, uint32_t nspec, const uint32_t* spec, uint64_t* pipeline) {
	if (nspec > ijepaMaxSpec) {
		return ijepaErrorExtensionNotPresent;
	}
	uint32_t data[ijepaMaxSpec];
	ijepaSpecializationMapEntry entries[ijepaMaxSpec];
	for (uint32_t i = 0; i < nspec; i++) {
		data[i] = spec[i];
		entries[i].constantID = i;
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	ijepaSpecializationInfo si = {nspec, entries, 4 * (size_t)nspec, data};
	ijepaComputePipelineCreateInfo ci;
	memset(&ci, 0, sizeof ci);
	ci.sType = ijepaSTypeComputePipelineCreateInfo;
	ci.stage.sType = ijepaSTypePipelineShaderStageCreateInfo;
	ci.stage.stage = ijepaShaderStageCompute;
	ci.stage.module = module;
	ci.stage.pName = "main";
	ci.stage.pSpecializationInfo = nspec > 0 ? &si : NULL;
	ci.layout = layout;
	ci.basePipelineIndex = -1;
	return f->createComputePipelines(device, cache, 1, &ci, NULL, pipeline);
}

// ijepaCreateDescriptorPool creates a pool of maxSets sets (which may be
// freed) holding storage buffers in all.
static int32_t ijepaCreateDescriptorPool(const ijepaDeviceFns* f, void* device, uint32_t maxSets, uint32_t buffers, uint64_t* pool) {
	ijepaDescriptorPoolSize size = {ijepaDescriptorTypeStorageBuffer, buffers};
	ijepaDescriptorPoolCreateInfo ci = {ijepaSTypeDescriptorPoolCreateInfo, NULL,
		ijepaDescriptorPoolCreateFreeDescriptorSet, maxSets, 1, &size};
	return f->createDescriptorPool(device, &ci, NULL, pool);
}

static int32_t ijepaAllocateDescriptorSet(const ijepaDeviceFns* f, void* device, uint64_t pool, uint64_t layout, uint64_t* set) {
	ijepaDescriptorSetAllocateInfo ai = {ijepaSTypeDescriptorSetAllocateInfo, NULL, pool, 1, &layout};
	return f->allocateDescriptorSets(device, &ai, set);
}

// ijepaWriteBuffers binds the whole of buffers[i] at binding i of set, for
// i below n.
static void ijepaWriteBuffers(const ijepaDeviceFns* f, void* device, uint64_t set, uint32_t n, const uint64_t* buffers) {
	if (n > ijepaMaxBindings) {
		return;
	}
	ijepaDescriptorBufferInfo infos[ijepaMaxBindings];
	for (uint32_t i = 0; i < n; i++) {
		ijepaDescriptorBufferInfo info = {buffers[i], 0, ijepaWholeSize};
		infos[i] = info;
	}
	ijepaWriteDescriptorSet w = {ijepaSTypeWriteDescriptorSet, NULL, set, 0, 0, n, ijepaDescriptorTypeStorageBuffer, NULL, infos, NULL};
	f->updateDescriptorSets(device, 1, &w, 0, NULL);
}

static int32_t ijepaAllocateCommandBuffer(const ijepaDeviceFns* f, void* device, uint64_t pool, void** cmd) {
	ijepaCommandBufferAllocateInfo ai = {ijepaSTypeCommandBufferAllocateInfo, NULL, pool, ijepaCommandBufferLevelPrimary, 1};
	return f->allocateCommandBuffers(device, &ai, cmd);
}

// ijepaCreateFence creates an unsignalled fence.
static int32_t ijepaCreateFence(const ijepaDeviceFns* f, void* device, uint64_t* fence) {
	ijepaFenceCreateInfo ci = {ijepaSTypeFenceCreateInfo, NULL, 0};
	return f->createFence(device, &ci, NULL, fence);
}

// ijepaBeginCommandBuffer begins a command buffer for one submission.
static int32_t ijepaBeginCommandBuffer(const ijepaDeviceFns* f, void* cmd) {
	ijepaCommandBufferBeginInfo bi = {ijepaSTypeCommandBufferBeginInfo, NULL, ijepaCommandBufferUsageOneTimeSubmit, NULL};
	return f->beginCommandBuffer(cmd, &bi);
}

// ijepaCmdBarrier records a pipeline barrier of one global memory barrier.
static void ijepaCmdBarrier(const ijepaDeviceFns* f, void* cmd, uint32_t srcStages, uint32_t dstStages, uint32_t srcAccess, uint32_t dstAccess) {
	ijepaMemoryBarrier mb = {ijepaSTypeMemoryBarrier, NULL, srcAccess, dstAccess};
	f->cmdPipelineBarrier(cmd, srcStages, dstStages, 0, 1, &mb, 0, NULL, 0, NULL);
}

// ijepaCmdCopy records a copy of size bytes between buffers.
static void ijepaCmdCopy(const ijepaDeviceFns* f, void* cmd, uint64_t src, uint64_t srcOffset, uint64_t dst, uint64_t dstOffset, uint64_t size) {
	ijepaBufferCopy r = {srcOffset, dstOffset, size};
	f->cmdCopyBuffer(cmd, src, dst, 1, &r);
}

// ijepaSubmit submits one command buffer, signalling fence. When they are
// not 0 (VK_NULL_HANDLE), it waits for semaphore wait at the stages
// waitStages and signals semaphore signal.
static int32_t ijepaSubmit(const ijepaDeviceFns* f, void* queue, void* cmd, uint64_t wait, uint32_t waitStages, uint64_t signal, uint64_t fence) {
	ijepaSubmitInfo si;
	memset(&si, 0, sizeof si);
	si.sType = ijepaSTypeSubmitInfo;
	if (wait != 0) {
		si.waitSemaphoreCount = 1;
		si.pWaitSemaphores = &wait;
		si.pWaitDstStageMask = &waitStages;
	}
	si.commandBufferCount = 1;
	si.pCommandBuffers = &cmd;
	if (signal != 0) {
		si.signalSemaphoreCount = 1;
		si.pSignalSemaphores = &signal;
	}
	return f->queueSubmit(queue, 1, &si, fence);
}
