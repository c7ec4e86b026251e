// The viewer's C shim: the Vulkan calls of present.go that take or return a
// structure and that internal/vkshim/vkshim.h (shared with backend/vulkan)
// has no function for: semaphores, the swapchain and the surface's
// capabilities, image barriers and copies, and presentation. See shim.go.

#include "vkshim.h"

enum { ijepaMaxSurfaceFormats = 64 };

// ijepaViewFns holds the viewer's device entry points, looked up once.
typedef struct {
	ijepaDeviceFns base;
	PFN_vkCreateSemaphore createSemaphore;
	PFN_vkCreateSwapchainKHR createSwapchain;
	PFN_vkCmdCopyBufferToImage cmdCopyBufferToImage;
	PFN_vkCmdCopyImageToBuffer cmdCopyImageToBuffer;
	PFN_vkQueuePresentKHR queuePresent;
} ijepaViewFns;

// ijepaViewLoad fills f with device's entry points and returns NULL, or the
// name of the first one the driver does not have.
static const char* ijepaViewLoad(void* gipa, void* instance, void* device, ijepaViewFns* f) {
	const char* missing = ijepaLoadDevice(gipa, instance, device, &f->base);
	if (missing != NULL) {
		return missing;
	}
	PFN_vkGetDeviceProcAddr gdpa = (PFN_vkGetDeviceProcAddr)ijepaProc(gipa, instance, "vkGetDeviceProcAddr");
#define IJEPA_LOAD(field, name) \
	if ((f->field = (__typeof__(f->field))gdpa((VkDevice)device, name)) == NULL) { \
		return name; \
	}
	IJEPA_LOAD(createSemaphore, "vkCreateSemaphore")
	IJEPA_LOAD(createSwapchain, "vkCreateSwapchainKHR")
	IJEPA_LOAD(cmdCopyBufferToImage, "vkCmdCopyBufferToImage")
	IJEPA_LOAD(cmdCopyImageToBuffer, "vkCmdCopyImageToBuffer")
	IJEPA_LOAD(queuePresent, "vkQueuePresentKHR")
#undef IJEPA_LOAD
	return NULL;
}

// ijepaSurfaceFormats stores the formats and colour spaces of up to
// ijepaMaxSurfaceFormats formats of surface on pd in *n of them.
static int32_t ijepaSurfaceFormats(void* gipa, void* instance, void* pd, uint64_t surface, int32_t* formats, int32_t* spaces, uint32_t* n) {
	PFN_vkGetPhysicalDeviceSurfaceFormatsKHR get = (PFN_vkGetPhysicalDeviceSurfaceFormatsKHR)ijepaProc(gipa, instance,
		"vkGetPhysicalDeviceSurfaceFormatsKHR");
	*n = 0;
	if (get == NULL) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	VkSurfaceFormatKHR fs[ijepaMaxSurfaceFormats];
	uint32_t count = ijepaMaxSurfaceFormats;
	int32_t res = get((VkPhysicalDevice)pd, IJEPA_H(VkSurfaceKHR, surface), &count, fs);
	if (res < 0) {
		return res;
	}
	for (uint32_t i = 0; i < count; i++) {
		formats[i] = fs[i].format;
		spaces[i] = fs[i].colorSpace;
	}
	*n = count;
	return res;
}

// ijepaSurfaceCapabilities fills *caps with surface's capabilities on pd.
static int32_t ijepaSurfaceCapabilities(void* gipa, void* instance, void* pd, uint64_t surface, VkSurfaceCapabilitiesKHR* caps) {
	PFN_vkGetPhysicalDeviceSurfaceCapabilitiesKHR get = (PFN_vkGetPhysicalDeviceSurfaceCapabilitiesKHR)ijepaProc(gipa, instance,
		"vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
	memset(caps, 0, sizeof *caps);
	if (get == NULL) {
		return VK_ERROR_EXTENSION_NOT_PRESENT;
	}
	return get((VkPhysicalDevice)pd, IJEPA_H(VkSurfaceKHR, surface), caps);
}

static int32_t ijepaCreateSemaphore(const ijepaViewFns* f, void* device, uint64_t* sem) {
	VkSemaphoreCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
	return f->createSemaphore((VkDevice)device, &ci, NULL, (VkSemaphore*)sem);
}

// ijepaCreateSwapchain creates an exclusive, unclipped swapchain of count
// single-layer images on surface, replacing old (which may be 0).
static int32_t ijepaCreateSwapchain(const ijepaViewFns* f, void* device, uint64_t surface, uint32_t count, int32_t format,
		int32_t space, uint32_t width, uint32_t height, uint32_t usage, uint32_t transform, uint32_t alpha,
		int32_t presentMode, uint64_t old, uint64_t* swap) {
	VkSwapchainCreateInfoKHR ci = {
		.sType = VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR,
		.surface = IJEPA_H(VkSurfaceKHR, surface),
		.minImageCount = count,
		.imageFormat = format,
		.imageColorSpace = space,
		.imageExtent = {.width = width, .height = height},
		.imageArrayLayers = 1,
		.imageUsage = usage,
		.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE,
		.preTransform = transform,
		.compositeAlpha = alpha,
		.presentMode = presentMode,
		.oldSwapchain = IJEPA_H(VkSwapchainKHR, old),
	};
	return f->createSwapchain((VkDevice)device, &ci, NULL, (VkSwapchainKHR*)swap);
}

// ijepaCmdImageBarrier records a pipeline barrier of one image barrier: the
// colour of image moves from layout from to layout to.
static void ijepaCmdImageBarrier(const ijepaViewFns* f, void* cmd, uint64_t image, int32_t from, int32_t to,
		uint32_t srcAccess, uint32_t dstAccess, uint32_t srcStages, uint32_t dstStages) {
	VkImageMemoryBarrier b = {
		.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
		.srcAccessMask = srcAccess,
		.dstAccessMask = dstAccess,
		.oldLayout = from,
		.newLayout = to,
		.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
		.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
		.image = IJEPA_H(VkImage, image),
		.subresourceRange = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .levelCount = 1, .layerCount = 1},
	};
	f->base.cmdPipelineBarrier((VkCommandBuffer)cmd, srcStages, dstStages, 0, 0, NULL, 0, NULL, 1, &b);
}

// ijepaImageCopy is the copy of a whole width x height colour image to or
// from a tightly packed buffer.
static VkBufferImageCopy ijepaImageCopy(uint32_t width, uint32_t height) {
	VkBufferImageCopy r = {
		.imageSubresource = {.aspectMask = VK_IMAGE_ASPECT_COLOR_BIT, .layerCount = 1},
		.imageExtent = {.width = width, .height = height, .depth = 1},
	};
	return r;
}

static void ijepaCmdCopyBufferToImage(const ijepaViewFns* f, void* cmd, uint64_t buffer, uint64_t image, int32_t layout, uint32_t width, uint32_t height) {
	VkBufferImageCopy r = ijepaImageCopy(width, height);
	f->cmdCopyBufferToImage((VkCommandBuffer)cmd, IJEPA_H(VkBuffer, buffer), IJEPA_H(VkImage, image), layout, 1, &r);
}

static void ijepaCmdCopyImageToBuffer(const ijepaViewFns* f, void* cmd, uint64_t image, int32_t layout, uint64_t buffer, uint32_t width, uint32_t height) {
	VkBufferImageCopy r = ijepaImageCopy(width, height);
	f->cmdCopyImageToBuffer((VkCommandBuffer)cmd, IJEPA_H(VkImage, image), layout, IJEPA_H(VkBuffer, buffer), 1, &r);
}

// ijepaPresent presents image index of swap once semaphore wait is signalled.
static int32_t ijepaPresent(const ijepaViewFns* f, void* queue, uint64_t wait, uint64_t swap, uint32_t index) {
	VkSemaphore w = IJEPA_H(VkSemaphore, wait);
	VkSwapchainKHR s = IJEPA_H(VkSwapchainKHR, swap);
	VkPresentInfoKHR pi = {.sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, .waitSemaphoreCount = 1, .pWaitSemaphores = &w,
		.swapchainCount = 1, .pSwapchains = &s, .pImageIndices = &index};
	return f->queuePresent((VkQueue)queue, &pi);
}
