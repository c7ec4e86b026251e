//go:build linux && cgo

package vulkan

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/ijepa-go/ijepa/backend"
	vk "github.com/vulkan-go/vulkan"
)

// batch is one command buffer: recorded, then submitted with a fence.
type batch struct {
	seq     uint64
	cmd     vk.CommandBuffer
	fence   vk.Fence
	cmds    int             // commands recorded (dispatches, copies, fills)
	ops     []backend.Call  // the ops recorded, for error messages
	staging []stagingSpan   // staging memory to free when the batch is done
	after   []func(ok bool) // work to do when the batch is done (downloads)
}

type stagingSpan struct {
	blk *block
	s   span
}

// Batching limits: a command buffer is submitted when it holds batchCmds
// commands; at most maxInFlight are queued before the host waits.
const (
	batchCmds   = 256
	maxInFlight = 3
)

// fenceWait is how long one wait for a fence lasts before it is repeated
// (a wait never gives up; device loss ends it with an error).
const fenceWait = 10_000_000_000 // ns

// begin makes sure a command buffer is recording.
func (b *device) begin() error {
	if b.cur != nil {
		return nil
	}
	if len(b.inflight) >= maxInFlight {
		if err := b.waitOldest(); err != nil {
			return err
		}
	}
	var bt *batch
	if n := len(b.spare); n > 0 {
		bt, b.spare = b.spare[n-1], b.spare[:n-1]
		if res := vk.ResetCommandBuffer(bt.cmd, 0); res != vk.Success {
			return b.fail(resultErr("reset a command buffer", res))
		}
	} else {
		bt = &batch{}
		cmd, res := b.allocateCommandBuffer()
		if res != vk.Success {
			return b.fail(resultErr("allocate a command buffer", res))
		}
		bt.cmd = cmd
		fence, res := b.createFence()
		if res != vk.Success {
			return b.fail(resultErr("create a fence", res))
		}
		bt.fence = fence
	}
	if res := b.beginCommands(bt.cmd); res != vk.Success {
		return b.fail(resultErr("begin a command buffer", res))
	}
	b.seq++
	bt.seq = b.seq
	b.cur = bt
	b.boundPipe, b.boundSet = nil, nil
	// Work of earlier command buffers (submitted before this one) is
	// ordered before this one's by this barrier.
	if len(b.inflight) > 0 {
		b.barrier()
	} else {
		b.epoch++
	}
	return nil
}

// barrier records a full compute/transfer memory barrier and starts a new
// barrier interval.
func (b *device) barrier() {
	stages := vk.PipelineStageFlags(vk.PipelineStageComputeShaderBit | vk.PipelineStageTransferBit)
	b.cmdBarrier(b.cur.cmd, stages, stages,
		vk.AccessFlags(vk.AccessShaderWriteBit|vk.AccessTransferWriteBit),
		vk.AccessFlags(vk.AccessShaderReadBit|vk.AccessShaderWriteBit|vk.AccessTransferReadBit|vk.AccessTransferWriteBit))
	b.epoch++
	b.barriers++
}

// access declares that the next commands read and write the given tensors'
// memory; it records a barrier first if one of them conflicts with a command
// since the last barrier (read after write, write after read or write).
func (b *device) access(reads, writes []*mem) {
	need := false
	for _, m := range reads {
		need = need || m.writeEpoch == b.epoch
	}
	for _, m := range writes {
		need = need || m.writeEpoch == b.epoch || m.readEpoch == b.epoch
	}
	if need {
		b.barrier()
	}
	for _, m := range reads {
		m.readEpoch, m.seq = b.epoch, b.seq
	}
	for _, m := range writes {
		m.writeEpoch, m.seq = b.epoch, b.seq
	}
}

// dispatch records one kernel dispatch. binds[i] is bound at binding i (nil:
// whatever binding 0 holds); pc points to size bytes of push constants.
func (b *device) dispatch(pipe vk.Pipeline, binds []*mem, pc unsafe.Pointer, size uintptr, gx, gy, gz int) error {
	if gx <= 0 || gy <= 0 || gz <= 0 {
		return nil
	}
	lim := b.phys.limits.MaxComputeWorkGroupCount
	if uint32(gx) > lim[0] || uint32(gy) > lim[1] || uint32(gz) > lim[2] {
		return fmt.Errorf("%w: %dx%dx%d workgroups exceed the device's %dx%dx%d", backend.ErrUnsupported, gx, gy, gz, lim[0], lim[1], lim[2])
	}
	var blocks [maxBindings]*block
	for i, m := range binds {
		if m != nil {
			blocks[i] = m.blk
		}
	}
	set, err := b.descriptorSet(blocks[:len(binds)])
	if err != nil {
		return err
	}
	cmd := b.cur.cmd
	if pipe != b.boundPipe {
		vk.CmdBindPipeline(cmd, vk.PipelineBindPointCompute, pipe)
		b.boundPipe = pipe
	}
	if set != b.boundSet {
		vk.CmdBindDescriptorSets(cmd, vk.PipelineBindPointCompute, b.pipeLayout, 0, 1, []vk.DescriptorSet{set}, 0, nil)
		b.boundSet = set
	}
	vk.CmdPushConstants(cmd, b.pipeLayout, vk.ShaderStageFlags(vk.ShaderStageComputeBit), 0, uint32(size), pc)
	vk.CmdDispatch(cmd, uint32(gx), uint32(gy), uint32(gz))
	b.cur.cmds++
	b.dispatches++
	return nil
}

// submit ends and submits the recording command buffer, if it holds
// anything.
func (b *device) submit() error {
	bt := b.cur
	if bt == nil {
		return nil
	}
	b.cur = nil
	// Make device writes visible to the host once the fence signals.
	b.cmdBarrier(bt.cmd,
		vk.PipelineStageFlags(vk.PipelineStageComputeShaderBit|vk.PipelineStageTransferBit),
		vk.PipelineStageFlags(vk.PipelineStageHostBit),
		vk.AccessFlags(vk.AccessShaderWriteBit|vk.AccessTransferWriteBit),
		vk.AccessFlags(vk.AccessHostReadBit))
	if res := vk.EndCommandBuffer(bt.cmd); res != vk.Success {
		b.inflight = append(b.inflight, bt) // so that its memory is reclaimed
		return b.fail(b.batchErr(bt, resultErr("end a command buffer", res)))
	}
	if res := b.queueSubmit(bt.cmd, bt.fence); res != vk.Success {
		return b.fail(b.batchErr(bt, resultErr("submit", res)))
	}
	b.inflight = append(b.inflight, bt)
	b.submits++
	return nil
}

// waitOldest waits for the oldest submitted batch and retires it.
func (b *device) waitOldest() error {
	bt := b.inflight[0]
	for {
		res := vk.WaitForFences(b.dev, 1, []vk.Fence{bt.fence}, vk.True, fenceWait)
		if b.faultWait != vk.Success {
			res, b.faultWait = b.faultWait, vk.Success
		}
		if res == vk.Timeout {
			continue
		}
		if res != vk.Success {
			err := b.batchErr(bt, resultErr("wait for the device", res))
			b.retire(false)
			return b.fail(err)
		}
		b.retire(true)
		return nil
	}
}

// poll retires the submitted batches that have finished, without waiting.
func (b *device) poll() {
	for len(b.inflight) > 0 {
		res := vk.GetFenceStatus(b.dev, b.inflight[0].fence)
		if res == vk.NotReady {
			return
		}
		if res != vk.Success {
			err := b.batchErr(b.inflight[0], resultErr("wait for the device", res))
			b.retire(false)
			b.fail(err)
			return
		}
		b.retire(true)
	}
}

// retire finishes the oldest submitted batch: its staging memory is freed,
// its follow-up work runs, and it is kept for reuse.
func (b *device) retire(ok bool) {
	bt := b.inflight[0]
	b.inflight = b.inflight[1:]
	if ok {
		b.done = bt.seq
	}
	for _, s := range bt.staging {
		b.release(&b.stageArena, s.blk, s.s)
	}
	for _, f := range bt.after {
		f(ok)
	}
	bt.staging, bt.after, bt.ops, bt.cmds = bt.staging[:0], bt.after[:0], bt.ops[:0], 0
	if ok {
		vk.ResetFences(b.dev, 1, []vk.Fence{bt.fence})
		b.spare = append(b.spare, bt)
	}
}

// flush submits what is recorded and waits for all of it.
func (b *device) flush() error {
	if err := b.submit(); err != nil {
		return err
	}
	for len(b.inflight) > 0 {
		if err := b.waitOldest(); err != nil {
			return err
		}
	}
	b.trim(false)
	return nil
}

// endOp submits the command buffer when it is full (or after every op in
// synchronous mode).
func (b *device) endOp() error {
	if b.cur == nil {
		return nil
	}
	if b.syncEach {
		return b.flush()
	}
	if b.cur.cmds >= batchCmds {
		if err := b.submit(); err != nil {
			return err
		}
		b.poll()
	}
	return nil
}

// batchErr names the ops of a failed batch.
func (b *device) batchErr(bt *batch, err error) error {
	switch n := len(bt.ops); n {
	case 0:
		return err
	case 1:
		return backend.NewOpError(bt.ops[0], err)
	default:
		first := backend.NewOpError(bt.ops[0], nil)
		last := backend.NewOpError(bt.ops[n-1], nil)
		name := func(e *backend.OpError) string { return fmt.Sprintf("%v(%s)", e.Op, e.Args) }
		var kinds []string
		seen := map[backend.Op]bool{}
		for _, c := range bt.ops {
			if !seen[c.Op] {
				seen[c.Op] = true
				kinds = append(kinds, c.Op.String())
			}
		}
		return fmt.Errorf("%w, in a batch of %d ops (%s) from %s to %s; set IJEPA_VULKAN_SYNC=1 to find the op",
			err, n, strings.Join(kinds, " "), name(first), name(last))
	}
}
