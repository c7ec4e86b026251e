// The C side of backend/vulkan's shim.go and of cmd/ijepa-view's: every
// Vulkan call of theirs that takes or returns a structure builds or reads
// it here (or in cmd/ijepa-view/shim.h), on the C stack, and calls the
// driver's entry point directly. The structures and constants are the
// Khronos header's (third_party/, vendored: the build needs no system Vulkan
// headers). Go passes non-dispatchable handles as uint64_t (their size on
// every platform) and dispatchable ones as pointers; IJEPA_H converts.

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vulkan/vulkan_core.h"

// IJEPA_H turns a handle from Go (a uint64_t) into the header's type T.
#define IJEPA_H(T, h) ((T)(uintptr_t)(h))

enum { ijepaMaxSpec = 32, ijepaMaxBindings = 16, ijepaMaxQueueFamilies = 64, ijepaMaxExtensions = 16 };

// ijepaProc looks up an instance-level entry point through gipa, the
// loader's vkGetInstanceProcAddr.
static PFN_vkVoidFunction ijepaProc(void* gipa, void* instance, const char* name) {
	return ((PFN_vkGetInstanceProcAddr)gipa)((VkInstance)instance, name);
}

// ijepaDeviceFns holds a device's entry points, looked up once.
typedef struct {
	PFN_vkCreateCommandPool createCommandPool;
	PFN_vkCreateBuffer createBuffer;
	PFN_vkGetBufferMemoryRequirements getBufferMemoryRequirements;
	PFN_vkAllocateMemory allocateMemory;
	PFN_vkCreateDescriptorSetLayout createDescriptorSetLayout;
	PFN_vkCreatePipelineLayout createPipelineLayout;
	PFN_vkCreatePipelineCache createPipelineCache;
	PFN_vkCreateShaderModule createShaderModule;
	PFN_vkCreateComputePipelines createComputePipelines;
	PFN_vkCreateDescriptorPool createDescriptorPool;
	PFN_vkAllocateDescriptorSets allocateDescriptorSets;
	PFN_vkUpdateDescriptorSets updateDescriptorSets;
	PFN_vkAllocateCommandBuffers allocateCommandBuffers;
	PFN_vkCreateFence createFence;
	PFN_vkBeginCommandBuffer beginCommandBuffer;
	PFN_vkCmdPipelineBarrier cmdPipelineBarrier;
	PFN_vkCmdCopyBuffer cmdCopyBuffer;
	PFN_vkQueueSubmit queueSubmit;
} ijepaDeviceFns;

// ijepaLoadDevice fills f with device's entry points and returns NULL, or
// the name of the first one the driver does not have.
static const char* ijepaLoadDevice(void* gipa, void* instance, void* device, ijepaDeviceFns* f) {
	PFN_vkGetDeviceProcAddr gdpa = (PFN_vkGetDeviceProcAddr)ijepaProc(gipa, instance, "vkGetDeviceProcAddr");
	if (gdpa == NULL) {
		return "vkGetDeviceProcAddr";
	}
#define IJEPA_LOAD(field, name) \
	if ((f->field = (__typeof__(f->field))gdpa((VkDevice)device, name)) == NULL) { \
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
	PFN_vkCreateInstance create = (PFN_vkCreateInstance)ijepaProc(gipa, NULL, "vkCreateInstance");
	if (create == NULL) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	VkApplicationInfo ai = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = app, .pEngineName = "ijepa", .apiVersion = apiVersion};
	VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &ai,
		.enabledExtensionCount = nExt, .ppEnabledExtensionNames = nExt > 0 ? exts : NULL};
	return create(&ci, NULL, (VkInstance*)instance);
}

// ijepaQueueFamilies stores the flags and queue counts of up to
// ijepaMaxQueueFamilies queue families and returns how many it stored.
static uint32_t ijepaQueueFamilies(void* gipa, void* instance, void* pd, uint32_t* flags, uint32_t* counts) {
	PFN_vkGetPhysicalDeviceQueueFamilyProperties get = (PFN_vkGetPhysicalDeviceQueueFamilyProperties)ijepaProc(gipa, instance,
		"vkGetPhysicalDeviceQueueFamilyProperties");
	if (get == NULL) {
		return 0;
	}
	VkQueueFamilyProperties qs[ijepaMaxQueueFamilies];
	uint32_t n = ijepaMaxQueueFamilies;
	get((VkPhysicalDevice)pd, &n, qs);
	for (uint32_t i = 0; i < n; i++) {
		flags[i] = qs[i].queueFlags;
		counts[i] = qs[i].queueCount;
	}
	return n;
}

// ijepaProperties fills *props and *mem with a physical device's properties
// and memory properties; it returns 0, or VK_ERROR_EXTENSION_NOT_PRESENT when
// the loader lacks the queries.
static int32_t ijepaProperties(void* gipa, void* instance, void* pd, VkPhysicalDeviceProperties* props, VkPhysicalDeviceMemoryProperties* mem) {
	PFN_vkGetPhysicalDeviceProperties getProps = (PFN_vkGetPhysicalDeviceProperties)ijepaProc(gipa, instance, "vkGetPhysicalDeviceProperties");
	PFN_vkGetPhysicalDeviceMemoryProperties getMem = (PFN_vkGetPhysicalDeviceMemoryProperties)ijepaProc(gipa, instance,
		"vkGetPhysicalDeviceMemoryProperties");
	memset(props, 0, sizeof *props);
	memset(mem, 0, sizeof *mem);
	if (getProps == NULL || getMem == NULL) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	getProps((VkPhysicalDevice)pd, props);
	getMem((VkPhysicalDevice)pd, mem);
	return 0;
}

// ijepaSubgroup returns the subgroup size of a physical device, and in *ops
// its subgroup operations when the compute stage has them, through
// vkGetPhysicalDeviceProperties2 (Vulkan 1.1); 0 when that is missing.
static uint32_t ijepaSubgroup(void* gipa, void* instance, void* pd, uint32_t* ops) {
	PFN_vkGetPhysicalDeviceProperties2 get = (PFN_vkGetPhysicalDeviceProperties2)ijepaProc(gipa, instance, "vkGetPhysicalDeviceProperties2");
	*ops = 0;
	if (get == NULL) {
		return 0;
	}
	VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
	VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
	get((VkPhysicalDevice)pd, &p2);
	if (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
		*ops = sg.supportedOperations;
	}
	return sg.subgroupSize;
}

// ijepaCreateDevice creates a device with one queue of family and the nExt
// extensions exts (C strings).
static int32_t ijepaCreateDevice(void* gipa, void* instance, void* pd, uint32_t family, uint32_t nExt, const char* const* exts, void** device) {
	PFN_vkCreateDevice create = (PFN_vkCreateDevice)ijepaProc(gipa, instance, "vkCreateDevice");
	if (create == NULL) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	float priority = 1;
	VkDeviceQueueCreateInfo q = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = family,
		.queueCount = 1, .pQueuePriorities = &priority};
	VkDeviceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &q,
		.enabledExtensionCount = nExt, .ppEnabledExtensionNames = nExt > 0 ? exts : NULL};
	return create((VkPhysicalDevice)pd, &ci, NULL, (VkDevice*)device);
}

// ijepaCreateCommandPool creates a pool of resettable command buffers.
static int32_t ijepaCreateCommandPool(const ijepaDeviceFns* f, void* device, uint32_t family, uint64_t* pool) {
	VkCommandPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, .queueFamilyIndex = family};
	return f->createCommandPool((VkDevice)device, &ci, NULL, (VkCommandPool*)pool);
}

// ijepaCreateBuffer creates an exclusive buffer.
static int32_t ijepaCreateBuffer(const ijepaDeviceFns* f, void* device, uint64_t size, uint32_t usage, uint64_t* buffer) {
	VkBufferCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .usage = usage,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE};
	return f->createBuffer((VkDevice)device, &ci, NULL, (VkBuffer*)buffer);
}

// ijepaBufferMemoryRequirements returns a buffer's memory size and its
// memory type bits in *types.
static uint64_t ijepaBufferMemoryRequirements(const ijepaDeviceFns* f, void* device, uint64_t buffer, uint32_t* types) {
	VkMemoryRequirements req;
	memset(&req, 0, sizeof req);
	f->getBufferMemoryRequirements((VkDevice)device, IJEPA_H(VkBuffer, buffer), &req);
	*types = req.memoryTypeBits;
	return req.size;
}

static int32_t ijepaAllocateMemory(const ijepaDeviceFns* f, void* device, uint64_t size, uint32_t type, uint64_t* memory) {
	VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = size, .memoryTypeIndex = type};
	return f->allocateMemory((VkDevice)device, &ai, NULL, (VkDeviceMemory*)memory);
}

// ijepaCreateSetLayout creates a layout of n storage buffers (bindings 0 to
// n-1) for compute shaders.
static int32_t ijepaCreateSetLayout(const ijepaDeviceFns* f, void* device, uint32_t n, uint64_t* layout) {
	if (n > ijepaMaxBindings) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	VkDescriptorSetLayoutBinding bs[ijepaMaxBindings];
	for (uint32_t i = 0; i < n; i++) {
		VkDescriptorSetLayoutBinding b = {.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
			.descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
		bs[i] = b;
	}
	VkDescriptorSetLayoutCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = n, .pBindings = bs};
	return f->createDescriptorSetLayout((VkDevice)device, &ci, NULL, (VkDescriptorSetLayout*)layout);
}

// ijepaCreatePipelineLayout creates a layout of one set and push bytes of
// compute push constants.
static int32_t ijepaCreatePipelineLayout(const ijepaDeviceFns* f, void* device, uint64_t setLayout, uint32_t push, uint64_t* layout) {
	VkDescriptorSetLayout set = IJEPA_H(VkDescriptorSetLayout, setLayout);
	VkPushConstantRange r = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = push};
	VkPipelineLayoutCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1, .pSetLayouts = &set,
		.pushConstantRangeCount = 1, .pPushConstantRanges = &r};
	return f->createPipelineLayout((VkDevice)device, &ci, NULL, (VkPipelineLayout*)layout);
}

static int32_t ijepaCreatePipelineCache(const ijepaDeviceFns* f, void* device, uint64_t* cache) {
	VkPipelineCacheCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
	return f->createPipelineCache((VkDevice)device, &ci, NULL, (VkPipelineCache*)cache);
}

// ijepaCreateShaderModule creates a module of n 32-bit SPIR-V words.
static int32_t ijepaCreateShaderModule(const ijepaDeviceFns* f, void* device, const uint32_t* code, size_t n, uint64_t* module) {
	VkShaderModuleCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = 4 * n, .pCode = code};
	return f->createShaderModule((VkDevice)device, &ci, NULL, (VkShaderModule*)module);
}

// ijepaCreateComputePipeline creates the compute pipeline of module's
// "main" with nspec 32-bit specialisation constants (constant i = spec[i]).
static int32_t ijepaCreateComputePipeline(const ijepaDeviceFns* f, void* device, uint64_t cache,
		uint64_t module, uint64_t layout, uint32_t nspec, const uint32_t* spec, uint64_t* pipeline) {
	if (nspec > ijepaMaxSpec) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	uint32_t data[ijepaMaxSpec];
	VkSpecializationMapEntry entries[ijepaMaxSpec];
	for (uint32_t i = 0; i < nspec; i++) {
		data[i] = spec[i];
		entries[i].constantID = i;
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	VkSpecializationInfo si = {.mapEntryCount = nspec, .pMapEntries = entries, .dataSize = 4 * (size_t)nspec, .pData = data};
	VkComputePipelineCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT,
			.module = IJEPA_H(VkShaderModule, module),
			.pName = "main",
			.pSpecializationInfo = nspec > 0 ? &si : NULL,
		},
		.layout = IJEPA_H(VkPipelineLayout, layout),
		.basePipelineIndex = -1,
	};
	return f->createComputePipelines((VkDevice)device, IJEPA_H(VkPipelineCache, cache), 1, &ci, NULL, (VkPipeline*)pipeline);
}

// ijepaCreateDescriptorPool creates a pool of maxSets sets (which may be
// freed) holding storage buffers in all.
static int32_t ijepaCreateDescriptorPool(const ijepaDeviceFns* f, void* device, uint32_t maxSets, uint32_t buffers, uint64_t* pool) {
	VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = buffers};
	VkDescriptorPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT, .maxSets = maxSets, .poolSizeCount = 1, .pPoolSizes = &size};
	return f->createDescriptorPool((VkDevice)device, &ci, NULL, (VkDescriptorPool*)pool);
}

static int32_t ijepaAllocateDescriptorSet(const ijepaDeviceFns* f, void* device, uint64_t pool, uint64_t layout, uint64_t* set) {
	VkDescriptorSetLayout l = IJEPA_H(VkDescriptorSetLayout, layout);
	VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
		.descriptorPool = IJEPA_H(VkDescriptorPool, pool), .descriptorSetCount = 1, .pSetLayouts = &l};
	return f->allocateDescriptorSets((VkDevice)device, &ai, (VkDescriptorSet*)set);
}

// ijepaWriteBuffers binds the whole of buffers[i] at binding i of set, for
// i below n.
static void ijepaWriteBuffers(const ijepaDeviceFns* f, void* device, uint64_t set, uint32_t n, const uint64_t* buffers) {
	if (n > ijepaMaxBindings) {
		return;
	}
	VkDescriptorBufferInfo infos[ijepaMaxBindings];
	for (uint32_t i = 0; i < n; i++) {
		VkDescriptorBufferInfo info = {.buffer = IJEPA_H(VkBuffer, buffers[i]), .offset = 0, .range = VK_WHOLE_SIZE};
		infos[i] = info;
	}
	VkWriteDescriptorSet w = {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = IJEPA_H(VkDescriptorSet, set),
		.descriptorCount = n, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = infos};
	f->updateDescriptorSets((VkDevice)device, 1, &w, 0, NULL);
}

static int32_t ijepaAllocateCommandBuffer(const ijepaDeviceFns* f, void* device, uint64_t pool, void** cmd) {
	VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = IJEPA_H(VkCommandPool, pool), .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
	return f->allocateCommandBuffers((VkDevice)device, &ai, (VkCommandBuffer*)cmd);
}

// ijepaCreateFence creates an unsignalled fence.
static int32_t ijepaCreateFence(const ijepaDeviceFns* f, void* device, uint64_t* fence) {
	VkFenceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
	return f->createFence((VkDevice)device, &ci, NULL, (VkFence*)fence);
}

// ijepaBeginCommandBuffer begins a command buffer for one submission.
static int32_t ijepaBeginCommandBuffer(const ijepaDeviceFns* f, void* cmd) {
	VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
	return f->beginCommandBuffer((VkCommandBuffer)cmd, &bi);
}

// ijepaCmdBarrier records a pipeline barrier of one global memory barrier.
static void ijepaCmdBarrier(const ijepaDeviceFns* f, void* cmd, uint32_t srcStages, uint32_t dstStages, uint32_t srcAccess, uint32_t dstAccess) {
	VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = srcAccess, .dstAccessMask = dstAccess};
	f->cmdPipelineBarrier((VkCommandBuffer)cmd, srcStages, dstStages, 0, 1, &mb, 0, NULL, 0, NULL);
}

// ijepaCmdCopy records a copy of size bytes between buffers.
static void ijepaCmdCopy(const ijepaDeviceFns* f, void* cmd, uint64_t src, uint64_t srcOffset, uint64_t dst, uint64_t dstOffset, uint64_t size) {
	VkBufferCopy r = {.srcOffset = srcOffset, .dstOffset = dstOffset, .size = size};
	f->cmdCopyBuffer((VkCommandBuffer)cmd, IJEPA_H(VkBuffer, src), IJEPA_H(VkBuffer, dst), 1, &r);
}

// ijepaSubmit submits one command buffer, signalling fence. When they are
// not 0 (VK_NULL_HANDLE), it waits for semaphore wait at the stages
// waitStages and signals semaphore signal.
static int32_t ijepaSubmit(const ijepaDeviceFns* f, void* queue, void* cmd, uint64_t wait, uint32_t waitStages, uint64_t signal, uint64_t fence) {
	VkSemaphore w = IJEPA_H(VkSemaphore, wait), s = IJEPA_H(VkSemaphore, signal);
	VkCommandBuffer c = (VkCommandBuffer)cmd;
	VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &c};
	if (wait != 0) {
		si.waitSemaphoreCount = 1;
		si.pWaitSemaphores = &w;
		si.pWaitDstStageMask = &waitStages;
	}
	if (signal != 0) {
		si.signalSemaphoreCount = 1;
		si.pSignalSemaphores = &s;
	}
	return f->queueSubmit((VkQueue)queue, 1, &si, IJEPA_H(VkFence, fence));
}
