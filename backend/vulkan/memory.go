//go:build linux && cgo

package vulkan

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/ijepa-go/ijepa/backend"

	vk "github.com/vulkan-go/vulkan"
)

// span is a byte range of a block. A free span remembers the last barrier
// interval (epoch) and batch (seq) whose work used any of its bytes, so that
// memory can be reused at once: new work on it is ordered after the old by a
// barrier (same command buffer) or by submission order, and the host writes
// it directly only once that batch has finished.
type span struct {
	off, size  uint64
	epoch, seq uint64
}

// block is one device memory allocation with one VkBuffer over all of it,
// from which tensors are sub-allocated.
type block struct {
	id        uint32
	buf       vk.Buffer
	mem       vk.DeviceMemory
	size      uint64
	ptr       unsafe.Pointer // persistent mapping, or nil
	free      []span         // sorted by offset, never adjacent
	dedicated bool           // made for one large tensor; freed when empty
}

// bytes returns the mapped bytes [off, off+n) of a mapped block.
func (b *block) bytes(off, n uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(b.ptr, off)), n)
}

// take carves size bytes out of the first free span that fits (and, with
// hostIdle, whose last use finished by batch done).
func (b *block) take(size uint64, hostIdle bool, done uint64) (span, bool) {
	for i, s := range b.free {
		if s.size < size || hostIdle && s.seq > done {
			continue
		}
		got := span{off: s.off, size: size, epoch: s.epoch, seq: s.seq}
		if s.size == size {
			b.free = append(b.free[:i], b.free[i+1:]...)
		} else {
			b.free[i].off += size
			b.free[i].size -= size
		}
		return got, true
	}
	return span{}, false
}

// give returns a span to the free list, merging it with its neighbours.
func (b *block) give(s span) {
	i := 0
	for i < len(b.free) && b.free[i].off < s.off {
		i++
	}
	merge := func(a, c span) span {
		return span{off: a.off, size: a.size + c.size, epoch: max(a.epoch, c.epoch), seq: max(a.seq, c.seq)}
	}
	if i > 0 && b.free[i-1].off+b.free[i-1].size == s.off {
		i--
		s = merge(b.free[i], s)
		b.free = append(b.free[:i], b.free[i+1:]...)
	}
	if i < len(b.free) && s.off+s.size == b.free[i].off {
		s = merge(s, b.free[i])
		b.free = append(b.free[:i], b.free[i+1:]...)
	}
	b.free = append(b.free, span{})
	copy(b.free[i+1:], b.free[i:])
	b.free[i] = s
}

// empty reports whether nothing of the block is allocated.
func (b *block) empty() bool {
	return len(b.free) == 1 && b.free[0].size == b.size
}

// arena sub-allocates one memory type from blocks that grow from minBlock to
// maxBlock bytes; a request larger than the next block size gets a block of
// its own.
type arena struct {
	name       string
	memType    uint32
	mapped     bool
	blocks     []*block
	nextBlock  uint64
	maxBlock   uint64
	allocated  uint64 // bytes in blocks
	inUse      uint64 // bytes in live spans
	peakInUse  uint64 // most bytes ever in live spans at once
	maxRequest uint64 // largest single request
}

// alignment of every sub-allocation: above any device's
// minStorageBufferOffsetAlignment (at most 256 by the spec), so that a
// tensor's element offset is a multiple of 64 floats.
const alignment = 256

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// errOOM marks device memory exhaustion.
var errOOM = errors.New("out of device memory")

// alloc returns size bytes (rounded up to the alignment) from the arena.
func (b *device) alloc(a *arena, size uint64, hostIdle bool) (*block, span, error) {
	size = alignUp(max(size, 1), alignment)
	if b.faultAlloc {
		b.faultAlloc = false
		return nil, span{}, fmt.Errorf("%w (injected by a test)", errOOM)
	}
	if size > a.maxRequest {
		return nil, span{}, fmt.Errorf("%w: %d bytes is more than the device's largest buffer binding (%d bytes)", errOOM, size, a.maxRequest)
	}
	for _, blk := range a.blocks {
		if s, ok := blk.take(size, hostIdle, b.done); ok {
			a.use(s.size)
			return blk, s, nil
		}
	}
	bs, dedicated := a.nextBlock, false
	if size > bs {
		bs, dedicated = size, true
	}
	blk, err := b.newBlock(a, bs)
	if errors.Is(err, errOOM) {
		// Free the empty blocks and the memory of finished work, and retry.
		b.poll()
		b.trim(true)
		blk, err = b.newBlock(a, bs)
		if errors.Is(err, errOOM) && !dedicated && bs > size {
			bs, dedicated = size, true
			blk, err = b.newBlock(a, bs)
		}
	}
	if err != nil {
		return nil, span{}, err
	}
	blk.dedicated = dedicated
	if !dedicated {
		a.nextBlock = min(2*a.nextBlock, a.maxBlock)
	}
	a.blocks = append(a.blocks, blk)
	s, _ := blk.take(size, false, b.done)
	a.use(s.size)
	return blk, s, nil
}

// use counts n more bytes in live spans.
func (a *arena) use(n uint64) {
	a.inUse += n
	a.peakInUse = max(a.peakInUse, a.inUse)
}

// release returns a span to its block.
func (b *device) release(a *arena, blk *block, s span) {
	a.inUse -= s.size
	blk.give(s)
}

// newBlock allocates and binds (and maps, for a mapped arena) a block.
func (b *device) newBlock(a *arena, size uint64) (*block, error) {
	buf, res := b.createBuffer(size)
	if res != vk.Success {
		return nil, resultErr("create a buffer", res)
	}
	reqSize, types := b.memoryRequirements(buf)
	if types&(1<<a.memType) == 0 {
		vk.DestroyBuffer(b.dev, buf, nil)
		return nil, fmt.Errorf("vulkan: memory type %d cannot hold a storage buffer", a.memType)
	}
	mem, res := b.allocateMemory(reqSize, a.memType)
	if res != vk.Success {
		vk.DestroyBuffer(b.dev, buf, nil)
		if res == vk.ErrorOutOfDeviceMemory || res == vk.ErrorOutOfHostMemory {
			return nil, fmt.Errorf("%w: cannot allocate a block of %d MiB for %s memory (%d MiB allocated, %d MiB in use)",
				errOOM, size>>20, a.name, a.allocated>>20, a.inUse>>20)
		}
		return nil, resultErr("allocate memory", res)
	}
	if res := vk.BindBufferMemory(b.dev, buf, mem, 0); res != vk.Success {
		vk.DestroyBuffer(b.dev, buf, nil)
		vk.FreeMemory(b.dev, mem, nil)
		return nil, resultErr("bind buffer memory", res)
	}
	blk := &block{id: b.nextBlockID, buf: buf, mem: mem, size: size, free: []span{{off: 0, size: size}}}
	b.nextBlockID++
	if a.mapped {
		var p unsafe.Pointer
		if res := vk.MapMemory(b.dev, mem, 0, vk.DeviceSize(size), 0, &p); res != vk.Success {
			vk.DestroyBuffer(b.dev, buf, nil)
			vk.FreeMemory(b.dev, mem, nil)
			return nil, resultErr("map memory", res)
		}
		blk.ptr = p
	}
	a.allocated += size
	return blk, nil
}

// destroyBlock frees a block; no queued work may use it.
func (b *device) destroyBlock(a *arena, blk *block) {
	b.dropSets(blk.id)
	if blk.ptr != nil {
		vk.UnmapMemory(b.dev, blk.mem)
	}
	vk.DestroyBuffer(b.dev, blk.buf, nil)
	vk.FreeMemory(b.dev, blk.mem, nil)
	a.allocated -= blk.size
	for i, x := range a.blocks {
		if x == blk {
			a.blocks = append(a.blocks[:i], a.blocks[i+1:]...)
			break
		}
	}
}

// trim frees empty dedicated blocks whose last use has finished, and with
// all, every empty block.
func (b *device) trim(all bool) {
	for _, a := range []*arena{&b.devArena, &b.stageArena} {
		for _, blk := range append([]*block(nil), a.blocks...) {
			if blk.empty() && (blk.dedicated || all) && blk.free[0].seq <= b.done {
				b.destroyBlock(a, blk)
			}
		}
	}
}

const bufferUsage = vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit | vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit)

// memoryTypes chooses the memory type of tensors and of staging memory among
// those a storage buffer allows (bits): for tensors, device-local on the
// largest device-local heap, mapped when it is host-visible and coherent and
// the device is not a discrete GPU (whose BAR memory is slow to read) or the
// type is host-cached; for staging, host-visible and coherent, host-cached
// if possible.
func memoryTypes(p *physical, bits uint32) (dev, stage uint32, devMapped bool, err error) {
	has := func(t memType, f vk.MemoryPropertyFlagBits) bool {
		return t.PropertyFlags&vk.MemoryPropertyFlags(f) == vk.MemoryPropertyFlags(f)
	}
	hostCoherent := vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
	devIdx, devScore := -1, -1
	stageIdx, stageScore := -1, -1
	for i, t := range p.memTypes {
		if bits&(1<<uint(i)) == 0 {
			continue
		}
		heap := p.memHeaps[t.HeapIndex].Size
		score := 0
		if has(t, vk.MemoryPropertyDeviceLocalBit) {
			score = 4
			if int64(heap) == p.deviceMemory() {
				score += 2
			}
		}
		if has(t, hostCoherent) {
			score++
		}
		if score > devScore {
			devIdx, devScore = i, score
		}
		if has(t, hostCoherent) {
			s := 1
			if has(t, vk.MemoryPropertyHostCachedBit) {
				s += 2
			}
			if s > stageScore {
				stageIdx, stageScore = i, s
			}
		}
	}
	if devIdx < 0 || stageIdx < 0 {
		return 0, 0, false, fmt.Errorf("vulkan: %s has no memory type for storage buffers and staging", p.name)
	}
	t := p.memTypes[devIdx]
	devMapped = has(t, hostCoherent) && (p.kind != "discrete-gpu" || has(t, vk.MemoryPropertyHostCachedBit))
	return uint32(devIdx), uint32(stageIdx), devMapped, nil
}

// resultErr formats a failed Vulkan call.
func resultErr(what string, res vk.Result) error {
	switch res {
	case vk.ErrorDeviceLost:
		return fmt.Errorf("vulkan: %s: %w", what, errDeviceLost)
	case vk.ErrorOutOfDeviceMemory, vk.ErrorOutOfHostMemory:
		return fmt.Errorf("vulkan: %s: %w (%v)", what, errOOM, vk.Error(res))
	}
	return fmt.Errorf("vulkan: %s: %v (VkResult %d)", what, vk.Error(res), int32(res))
}

// errDeviceLost marks a lost device; the backend cannot be used afterwards.
var errDeviceLost = errors.New("device lost (VK_ERROR_DEVICE_LOST)")

// Stats returns the tensor memory counters of b, a Vulkan backend (zero for
// any other backend).
func Stats(b backend.Backend) MemoryStats {
	if f, ok := b.(*backend.Front); ok {
		if d, ok := f.Device().(*device); ok {
			a := &d.devArena
			return MemoryStats{InUse: int64(a.inUse), PeakInUse: int64(a.peakInUse), Allocated: int64(a.allocated)}
		}
	}
	return MemoryStats{}
}
