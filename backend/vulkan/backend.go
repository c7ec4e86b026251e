//go:build linux && cgo

package vulkan

import (
	"fmt"
	"os"

	"github.com/ijepa-go/ijepa/backend"
	vk "github.com/vulkan-go/vulkan"
)

func init() {
	backend.Register(backend.Driver{
		Name: "vulkan",
		Doc:  "Vulkan compute (any GPU vendor, or lavapipe on the CPU); vulkan:N or vulkan:NAME picks a device",
		Open: func(arg string) (backend.Backend, error) {
			b, err := Open(arg)
			if err != nil {
				return nil, err
			}
			return b, nil
		},
		Devices: devices,
	})
}

// syncEnv makes every op submit and wait, so that a device error names the
// op that caused it.
const syncEnv = "IJEPA_VULKAN_SYNC"

// device is a Vulkan device running the op catalogue, under a
// backend.Front that validates every call. Like every backend it is meant
// for one goroutine at a time.
type device struct {
	fault  error // the first device fault (device lost, out of memory in queued work)
	spec   string
	phys   *physical
	dev    vk.Device
	fn     deviceFns // dev's entry points, for the calls that take structures
	queue  vk.Queue
	closed bool

	// Memory.
	devArena, stageArena arena
	nextBlockID          uint32

	// Pipelines and descriptor sets.
	setLayout  vk.DescriptorSetLayout
	pipeLayout vk.PipelineLayout
	pipeCache  vk.PipelineCache
	modules    map[string]vk.ShaderModule
	pipes      map[pipeKey]vk.Pipeline
	sets       map[setKey]setEntry
	pools      []vk.DescriptorPool

	// Recording and submission.
	cmdPool   vk.CommandPool
	cur       *batch   // recording, or nil
	inflight  []*batch // submitted, oldest first
	spare     []*batch // finished, for reuse
	seq       uint64   // the newest batch's number
	done      uint64   // every batch up to this one has finished
	epoch     uint64   // the current barrier interval
	boundPipe vk.Pipeline
	boundSet  vk.DescriptorSet
	syncEach  bool

	// Counters, for tests and benchmarks.
	dispatches, barriers, submits int

	// sharedMatmul makes CPU devices use the shared-memory matmul of GPUs
	// too (tests run both variants on lavapipe).
	sharedMatmul bool

	// Faults injected by tests: the next allocation fails as out of
	// memory; the next fence wait returns this result; an op's dispatches
	// leave out an argument.
	faultAlloc bool
	faultWait  vk.Result
	drop       *dropped
}

// Open opens a device: arg is "" (the IJEPA_VULKAN_DEVICE variable, else the
// preferred device), an index into Devices' list, or a name substring.
func Open(arg string) (*backend.Front, error) {
	d, err := open(arg)
	if err != nil {
		return nil, err
	}
	return backend.NewFront(d), nil
}

func open(arg string) (*device, error) {
	p, err := choose(arg)
	if err != nil {
		return nil, err
	}
	spec := "vulkan"
	if arg != "" {
		spec += ":" + arg
	}
	return openPhysical(p, spec)
}

// openPhysical opens the device p under the registry name spec.
func openPhysical(p *physical, spec string) (*device, error) {
	b := &device{
		spec:        spec,
		phys:        p,
		modules:     map[string]vk.ShaderModule{},
		pipes:       map[pipeKey]vk.Pipeline{},
		sets:        map[setKey]setEntry{},
		syncEach:    os.Getenv(syncEnv) == "1",
		nextBlockID: 1,
	}
	if err := b.init(); err != nil {
		b.destroy()
		return nil, err
	}
	return b, nil
}

func (b *device) init() error {
	p := b.phys
	dev, res := createDevice(p.pd, p.queueFamily, p.half)
	if res != vk.Success {
		return fmt.Errorf("vulkan: %s: %w", p.name, resultErr("create the device", res))
	}
	b.dev = dev
	fn, err := loadDevice(dev)
	if err != nil {
		return fmt.Errorf("vulkan: %s: %w", p.name, err)
	}
	b.fn = fn
	var q vk.Queue
	vk.GetDeviceQueue(dev, p.queueFamily, 0, &q)
	b.queue = q
	pool, res := b.createCommandPool(p.queueFamily)
	if res != vk.Success {
		return resultErr("create a command pool", res)
	}
	b.cmdPool = pool
	if err := b.initLayouts(); err != nil {
		return err
	}
	return b.initMemory()
}

// initMemory chooses the memory types from a probe buffer's requirements
// (the same for every buffer of one usage) and sets the block sizes.
func (b *device) initMemory() error {
	probe, res := b.createBuffer(256)
	if res != vk.Success {
		return resultErr("create a buffer", res)
	}
	_, types := b.memoryRequirements(probe)
	vk.DestroyBuffer(b.dev, probe, nil)
	dev, stage, mapped, err := memoryTypes(b.phys, types)
	if err != nil {
		return err
	}
	maxReq := uint64(b.phys.maxTensorBytes()) + 2*guardBytes
	maxReq = min(maxReq, uint64(b.phys.limits.MaxStorageBufferRange)&^(alignment-1))
	maxBlock := min(maxReq, 256<<20)
	b.devArena = arena{name: "tensor", memType: dev, mapped: mapped, nextBlock: min(32<<20, maxBlock), maxBlock: maxBlock, maxRequest: maxReq}
	b.stageArena = arena{name: "staging", memType: stage, mapped: true, nextBlock: min(8<<20, maxBlock), maxBlock: min(64<<20, maxBlock), maxRequest: maxReq}
	return nil
}

// Info describes the device.
func (b *device) Info() backend.Info {
	info := b.phys.info(b.spec)
	mode := "staged transfers"
	if b.devArena.mapped {
		mode = "mapped device memory"
	}
	info.Limits = append(info.Limits, [2]string{"host access", mode})
	return info
}

// fail records err as the device's fault, which the Front makes sticky, and
// returns it.
func (b *device) fail(err error) error {
	if b.fault == nil {
		b.fault = err
	}
	return err
}

// Err returns the device's first fault.
func (b *device) Err() error { return b.fault }

// mem is the Storage.Impl of a Vulkan tensor: where its data lies, and the
// last use of its memory by queued work.
type mem struct {
	blk        *block
	s          span   // the whole allocation, guards included
	off, size  uint64 // the data's byte offset in blk and byte size
	guard      uint64 // guard bytes on each side of the data
	readEpoch  uint64 // barrier interval of the last queued read
	writeEpoch uint64 // barrier interval of the last queued write
	seq        uint64 // batch of the last queued use

	// For index tensors: the values last written (index tensors are only
	// written from the host) and the scatter_add plan built from them.
	host []int32
	csr  *csr
}

// elem returns the tensor's element offset in its block (a push constant),
// in 4-byte elements.
func (m *mem) elem() uint32 { return uint32(m.off / 4) }

// elemOf returns the tensor's offset in its block in elements of dtype dt.
func (m *mem) elemOf(dt backend.DType) uint32 { return uint32(m.off / uint64(dt.Size())) }

// guardBytes surround a guarded tensor on each side.
const guardBytes = 256

// guardWord is the guard pattern (a float NaN payload, an unlikely int).
const guardWord = 0x7fa5a5a5

func (b *device) newMem(t *backend.Tensor, guard uint64) (*mem, error) {
	size := uint64(t.Bytes())
	blk, s, err := b.alloc(&b.devArena, size+2*guard, false)
	if err != nil {
		return nil, err
	}
	return &mem{blk: blk, s: s, off: s.off + guard, size: size, guard: guard, readEpoch: s.epoch, writeEpoch: s.epoch, seq: s.seq}, nil
}

// Alloc allocates a tensor's memory in a block; its contents are undefined
// until written. A guarded tensor gets guardBytes of a known pattern on each
// side, for the conformance suite.
func (b *device) Alloc(t *backend.Tensor, guarded bool) (any, error) {
	if !guarded {
		return b.newMem(t, 0)
	}
	m, err := b.newMem(t, guardBytes)
	if err != nil {
		return nil, err
	}
	pat := make([]byte, guardBytes)
	for i := 0; i < len(pat); i += 4 {
		pat[i], pat[i+1], pat[i+2], pat[i+3] = 0xa5, 0xa5, 0xa5, 0x7f
	}
	for _, off := range []uint64{m.off - guardBytes, m.off + m.size} {
		if err := b.upload(m, off, pat); err != nil {
			b.freeScratch(m)
			return nil, err
		}
	}
	return m, nil
}

// CheckGuards waits for queued work and reports whether a guard of t was
// overwritten.
func (b *device) CheckGuards(t *backend.Tensor) error {
	m := t.Storage().Impl.(*mem)
	if m.guard == 0 {
		return fmt.Errorf("%v was not allocated with guards", t)
	}
	for _, side := range []struct {
		name string
		off  uint64
	}{{"before", m.off - guardBytes}, {"after", m.off + m.size}} {
		got := make([]byte, guardBytes)
		if err := b.download(m, side.off, got); err != nil {
			return err
		}
		for i := 0; i < len(got); i += 4 {
			w := uint32(got[i]) | uint32(got[i+1])<<8 | uint32(got[i+2])<<16 | uint32(got[i+3])<<24
			if w != guardWord {
				k := i / 4
				if side.name == "before" {
					k = guardBytes/4 - k
				}
				return fmt.Errorf("guard of %v overwritten %d elements %s the data", t, k, side.name)
			}
		}
	}
	return nil
}

// Write copies src into t: directly into mapped memory when no queued work
// uses t, else through staging memory and a transfer queued in order.
func (b *device) Write(t *backend.Tensor, src []byte) error {
	m := t.Storage().Impl.(*mem)
	if t.DType() == backend.I32 {
		m.host = append(m.host[:0], backend.BytesI32(src)...)
		b.dropPlan(m)
	}
	return b.upload(m, m.off, src)
}

// upload copies data to byte offset off of m's block.
func (b *device) upload(m *mem, off uint64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if m.blk.ptr != nil && m.seq <= b.done {
		copy(m.blk.bytes(off, uint64(len(data))), data)
		return nil
	}
	sblk, s, err := b.alloc(&b.stageArena, uint64(len(data)), true)
	if err != nil {
		return err
	}
	copy(sblk.bytes(s.off, uint64(len(data))), data)
	if err := b.begin(); err != nil {
		b.release(&b.stageArena, sblk, s)
		return err
	}
	b.cur.staging = append(b.cur.staging, stagingSpan{sblk, s})
	b.access(nil, []*mem{m})
	b.cmdCopy(b.cur.cmd, sblk, s.off, m.blk, off, uint64(len(data)))
	b.cur.cmds++
	return b.endOp()
}

// Read waits for all queued work and copies t's data into dst.
func (b *device) Read(t *backend.Tensor, dst []byte) error {
	m := t.Storage().Impl.(*mem)
	return b.download(m, m.off, dst)
}

// download waits for queued work and copies bytes from off of m's block.
func (b *device) download(m *mem, off uint64, dst []byte) error {
	if err := b.flush(); err != nil {
		return err
	}
	if len(dst) == 0 {
		return nil
	}
	if m.blk.ptr != nil {
		copy(dst, m.blk.bytes(off, uint64(len(dst))))
		return nil
	}
	sblk, s, err := b.alloc(&b.stageArena, uint64(len(dst)), true)
	if err != nil {
		return b.fail(fmt.Errorf("read: %w", err))
	}
	if err := b.begin(); err != nil {
		b.release(&b.stageArena, sblk, s)
		return err
	}
	b.cur.staging = append(b.cur.staging, stagingSpan{sblk, s})
	b.access([]*mem{m}, nil)
	b.cmdCopy(b.cur.cmd, m.blk, off, sblk, s.off, uint64(len(dst)))
	b.cur.cmds++
	b.cur.after = append(b.cur.after, func(ok bool) {
		if ok {
			copy(dst, sblk.bytes(s.off, uint64(len(dst))))
		}
	})
	return b.flush()
}

// Run records a call. A call with f16 or bf16 arguments runs as its float32
// call between casts (backend.Widen) unless its op's kernel reads 16-bit
// tensors itself (reads16, widens): cast, matmul, and the elementwise and
// row ops a 16-bit training step calls in 16 bits, which convert in the
// shader, compute in float32 and round once.
func (b *device) Run(c backend.Call) error {
	if widens(c) {
		return backend.Widen(b, c)
	}
	if err := b.begin(); err != nil {
		return nil // a device fault, which the Front finds through Err
	}
	b.cur.ops = append(b.cur.ops, c)
	if err := b.record(c); err != nil {
		return err
	}
	b.endOp()
	return nil
}

// Sync submits queued work and waits for it.
func (b *device) Sync() error {
	b.flush()
	return b.fault
}

// Free returns a storage's memory to its block at once, remembering its
// last use (see span).
func (b *device) Free(st *backend.Storage) {
	m, ok := st.Impl.(*mem)
	if !ok || m == nil || b.closed {
		return
	}
	b.dropPlan(m)
	s := m.s
	s.epoch, s.seq = max(m.readEpoch, m.writeEpoch), m.seq
	b.release(&b.devArena, m.blk, s)
}

// Close waits for queued work, frees every resource and returns the sticky
// error.
func (b *device) Close() error {
	if b.closed {
		return b.fault
	}
	if b.fault == nil {
		b.flush()
	}
	b.destroy()
	b.closed = true
	return b.fault
}

// destroy frees every Vulkan object of the backend.
func (b *device) destroy() {
	if b.dev == nil {
		return
	}
	vk.DeviceWaitIdle(b.dev)
	for _, bt := range append(append(b.spare, b.inflight...), b.cur) {
		if bt != nil && bt.fence != nil {
			vk.DestroyFence(b.dev, bt.fence, nil)
		}
	}
	b.cur, b.inflight, b.spare = nil, nil, nil
	if b.cmdPool != nil {
		vk.DestroyCommandPool(b.dev, b.cmdPool, nil)
	}
	for _, p := range b.pipes {
		vk.DestroyPipeline(b.dev, p, nil)
	}
	for _, m := range b.modules {
		vk.DestroyShaderModule(b.dev, m, nil)
	}
	for _, p := range b.pools {
		vk.DestroyDescriptorPool(b.dev, p, nil)
	}
	b.sets = map[setKey]setEntry{}
	for _, a := range []*arena{&b.devArena, &b.stageArena} {
		for len(a.blocks) > 0 {
			b.destroyBlock(a, a.blocks[0])
		}
	}
	if b.pipeCache != nil {
		vk.DestroyPipelineCache(b.dev, b.pipeCache, nil)
	}
	if b.pipeLayout != nil {
		vk.DestroyPipelineLayout(b.dev, b.pipeLayout, nil)
	}
	if b.setLayout != nil {
		vk.DestroyDescriptorSetLayout(b.dev, b.setLayout, nil)
	}
	vk.DestroyDevice(b.dev, nil)
	b.dev = nil
	b.fn.free()
}
