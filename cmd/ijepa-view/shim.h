// The viewer's C shim: the Vulkan calls of present.go that take a structure
// and that internal/vkshim/vkshim.h (shared with backend/vulkan, which also
// declares every structure used here) has no function for: semaphores, the
// swapchain, image barriers and copies, and presentation. See shim.go.

#include "vkshim.h"

typedef int32_t (*ijepaPFNCreateSemaphore)(void*, const ijepaSemaphoreCreateInfo*, const void*, uint64_t*);
typedef int32_t (*ijepaPFNCreateSwapchainKHR)(void*, const ijepaSwapchainCreateInfoKHR*, const void*, uint64_t*);
typedef void (*ijepaPFNCmdCopyBufferToImage)(void*, uint64_t, uint64_t, int32_t, uint32_t, const ijepaBufferImageCopy*);
typedef void (*ijepaPFNCmdCopyImageToBuffer)(void*, uint64_t, int32_t, uint64_t, uint32_t, const ijepaBufferImageCopy*);
typedef int32_t (*ijepaPFNQueuePresentKHR)(void*, const ijepaPresentInfoKHR*);
typedef int32_t (*ijepaPFNGetSurfaceFormatsKHR)(void*, uint64_t, uint32_t*, ijepaSurfaceFormatKHR*);

enum { ijepaMaxSurfaceFormats = 64 };

// ijepaViewFns holds the viewer's device entry points, looked up once.
typedef struct {
	ijepaDeviceFns base;
	ijepaPFNCreateSemaphore createSemaphore;
	ijepaPFNCreateSwapchainKHR createSwapchain;
	ijepaPFNCmdCopyBufferToImage cmdCopyBufferToImage;
	ijepaPFNCmdCopyImageToBuffer cmdCopyImageToBuffer;
	ijepaPFNQueuePresentKHR queuePresent;
} ijepaViewFns;

// ijepaViewLoad fills f with device's entry points and returns NULL, or the
// name of the first one the driver does not have.
static const char* ijepaViewLoad(void* gipa, void* instance, void* device, ijepaViewFns* f) {
	const char* missing = ijepaLoadDevice(gipa, instance, device, &f->base);
	if (missing != NULL) {
		return missing;
	}
	ijepaGetDeviceProcAddr gdpa = (ijepaGetDeviceProcAddr)((ijepaGetInstanceProcAddr)gipa)(instance, "vkGetDeviceProcAddr");
#define IJEPA_LOAD(field, name) \
	if ((f->field = (__typeof__(f->field))gdpa(device, name)) == NULL) { \
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
	ijepaPFNGetSurfaceFormatsKHR get = (ijepaPFNGetSurfaceFormatsKHR)((ijepaGetInstanceProcAddr)gipa)(instance,
		"vkGetPhysicalDeviceSurfaceFormatsKHR");
	*n = 0;
	if (get == NULL) {
		return ijepaErrorExtensionNotPresent;
	}
	ijepaSurfaceFormatKHR fs[ijepaMaxSurfaceFormats];
	uint32_t count = ijepaMaxSurfaceFormats;
	int32_t res = get(pd, surface, &count, fs);
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

static int32_t ijepaCreateSemaphore(const ijepaViewFns* f, void* device, uint64_t* sem) {
	ijepaSemaphoreCreateInfo ci = {ijepaSTypeSemaphoreCreateInfo, NULL, 0};
	return f->createSemaphore(device, &ci, NULL, sem);
}

// ijepaCreateSwapchain creates an exclusive, unclipped swapchain of count
// single-layer images on surface, replacing old (which may be 0).
static int32_t ijepaCreateSwapchain(const ijepaViewFns* f, void* device, uint64_t surface, uint32_t count, int32_t format,
		int32_t space, uint32_t width, uint32_t height, uint32_t usage, uint32_t transform, uint32_t alpha,
		int32_t presentMode, uint64_t old, uint64_t* swap) {
	ijepaSwapchainCreateInfoKHR ci;
	memset(&ci, 0, sizeof ci);
	ci.sType = ijepaSTypeSwapchainCreateInfoKHR;
	ci.surface = surface;
	ci.minImageCount = count;
	ci.imageFormat = format;
	ci.imageColorSpace = space;
	ci.imageExtent.width = width;
	ci.imageExtent.height = height;
	ci.imageArrayLayers = 1;
	ci.imageUsage = usage;
	ci.imageSharingMode = ijepaSharingModeExclusive;
	ci.preTransform = transform;
	ci.compositeAlpha = alpha;
	ci.presentMode = presentMode;
	ci.oldSwapchain = old;
	return f->createSwapchain(device, &ci, NULL, swap);
}

// ijepaCmdImageBarrier records a pipeline barrier of one image barrier: the
// colour of image moves from layout from to layout to.
static void ijepaCmdImageBarrier(const ijepaViewFns* f, void* cmd, uint64_t image, int32_t from, int32_t to,
		uint32_t srcAccess, uint32_t dstAccess, uint32_t srcStages, uint32_t dstStages) {
	ijepaImageMemoryBarrier b;
	memset(&b, 0, sizeof b);
	b.sType = ijepaSTypeImageMemoryBarrier;
	b.srcAccessMask = srcAccess;
	b.dstAccessMask = dstAccess;
	b.oldLayout = from;
	b.newLayout = to;
	b.srcQueueFamilyIndex = ijepaQueueFamilyIgnored;
	b.dstQueueFamilyIndex = ijepaQueueFamilyIgnored;
	b.image = image;
	b.subresourceRange.aspectMask = ijepaImageAspectColor;
	b.subresourceRange.levelCount = 1;
	b.subresourceRange.layerCount = 1;
	f->base.cmdPipelineBarrier(cmd, srcStages, dstStages, 0, 0, NULL, 0, NULL, 1, &b);
}

// ijepaImageCopy is the copy of a whole width x height colour image to or
// from a tightly packed buffer.
static ijepaBufferImageCopy ijepaImageCopy(uint32_t width, uint32_t height) {
	ijepaBufferImageCopy r;
	memset(&r, 0, sizeof r);
	r.imageSubresource.aspectMask = ijepaImageAspectColor;
	r.imageSubresource.layerCount = 1;
	r.imageExtent.width = width;
	r.imageExtent.height = height;
	r.imageExtent.depth = 1;
	return r;
}

static void ijepaCmdCopyBufferToImage(const ijepaViewFns* f, void* cmd, uint64_t buffer, uint64_t image, int32_t layout, uint32_t width, uint32_t height) {
	ijepaBufferImageCopy r = ijepaImageCopy(width, height);
	f->cmdCopyBufferToImage(cmd, buffer, image, layout, 1, &r);
}

static void ijepaCmdCopyImageToBuffer(const ijepaViewFns* f, void* cmd, uint64_t image, int32_t layout, uint64_t buffer, uint32_t width, uint32_t height) {
	ijepaBufferImageCopy r = ijepaImageCopy(width, height);
	f->cmdCopyImageToBuffer(cmd, image, layout, buffer, 1, &r);
}

// ijepaPresent presents image index of swap once semaphore wait is signalled.
static int32_t ijepaPresent(const ijepaViewFns* f, void* queue, uint64_t wait, uint64_t swap, uint32_t index) {
	ijepaPresentInfoKHR pi = {ijepaSTypePresentInfoKHR, NULL, 1, &wait, 1, &swap, &index, NULL};
	return f->queuePresent(queue, &pi);
}
