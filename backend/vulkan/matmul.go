//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
	vk "github.com/vulkan-go/vulkan"
)

// tile is a matmul tiling (see matmul.comp): a workgroup computes bm x bn
// outputs in k-slices of bk, each invocation tm x tn of them.
type tile struct{ bm, bn, bk, tm, tn int }

func (t tile) wg() int { return (t.bm / t.tm) * (t.bn / t.tn) }

// shared returns the tile's shared memory in bytes.
func (t tile) shared() int { return 4 * t.bk * (t.bm + t.bn) }

// valid reports whether matmul.comp can run the tile.
func (t tile) valid() bool {
	wg := t.wg()
	return t.bk%4 == 0 && t.bn%4 == 0 && t.tn%4 == 0 && t.bm%t.tm == 0 && t.bn%t.tn == 0 &&
		wg > 0 && wg <= 256 && (t.bm*t.bk/4)%wg == 0 && (t.bk*t.bn/4)%wg == 0
}

var (
	tileLarge = tile{bm: 64, bn: 64, bk: 16, tm: 4, tn: 4}
	tileSmall = tile{bm: 32, bn: 32, bk: 16, tm: 4, tn: 4}
)

// chooseTile picks the large tile when it still gives enough workgroups to
// fill the device.
func (b *Backend) chooseTile(m, n, z int) tile {
	want := 64
	if b.phys.kind == "cpu" {
		want = 8
	}
	t := tileSmall
	if ceilDiv(m, tileLarge.bm)*ceilDiv(n, tileLarge.bn)*z >= want {
		t = tileLarge
	}
	if uint32(t.shared()) > b.phys.limits.MaxComputeSharedMemorySize {
		t = tileSmall
	}
	return t
}

// regTile returns the tile of matmul.comp's register variant (REG) and
// whether the device takes it: a CPU device whose compute shaders shuffle
// within subgroups of 4 to 32 lanes.
func (b *Backend) regTile() (tile, bool) {
	p := b.phys
	sg := int(p.subgroup)
	if p.kind != "cpu" || b.sharedMatmul || p.subgroupOps&subgroupShuffle == 0 || sg < 4 || sg > 32 || sg&(sg-1) != 0 {
		return tile{}, false
	}
	// 32x4 per lane: about as fast on lavapipe as 32x8, and its pipelines
	// compile in a third of the time (llvmpipe compiles every variant).
	tm, tn := max(32, sg), 4
	return tile{bm: tm, bn: sg * tn, bk: 4, tm: tm, tn: tn}, true
}

func (b *Backend) matmul(c backend.Call, ms []*mem) error {
	cm, am, bm := ms[0], ms[1], ms[2]
	z, m, n, k := backend.MatMulDims(c)
	reads := []*mem{am, bm}
	if c.Attrs.Beta != 0 {
		reads = append(reads, cm)
	}
	vecA := !c.Attrs.TransA && k%4 == 0
	vecB := !c.Attrs.TransB && n%4 == 0
	pc := []uint32{cm.elem(), am.elem(), bm.elem(), uint32(m), uint32(n), uint32(k), f32(c.Attrs.Alpha), f32(c.Attrs.Beta)}
	if t, ok := b.regTile(); ok && !(c.Attrs.TransA && c.Attrs.TransB) {
		veck := k%4 == 0 && !c.Attrs.TransA && !c.Attrs.TransB
		steps := k
		if veck {
			steps = k / 4
		}
		if err := b.loops(steps, fmt.Sprintf("a matmul over K = %d", k)); err != nil {
			return err
		}
		gx, gy := ceilDiv(n, t.bn), ceilDiv(m, t.bm)
		if gx > maxGroups || gy > maxGroups || z > maxGroups {
			return fmt.Errorf("%w: a %dx%dx%d matmul needs more workgroups than one dispatch has", backend.ErrUnsupported, z, m, n)
		}
		sg := uint32(b.phys.subgroup)
		// The shared tiles are unused: the smallest valid sizes.
		spec := []uint32{sg, 4, 4, 4, 4, 4, b2u(c.Attrs.TransA), b2u(c.Attrs.TransB), 0, b2u(vecB), 1, sg, b2u(veck)}
		spec[4] = uint32(t.tm)
		spec[5] = uint32(t.tn)
		return b.run("matmul", spec, reads, []*mem{cm}, []*mem{cm, am, bm}, pc, gx, gy, z)
	}
	t := b.chooseTile(m, n, z)
	if err := b.loops(ceilDiv(k, t.bk), fmt.Sprintf("a matmul over K = %d", k)); err != nil {
		return err
	}
	gx, gy := ceilDiv(n, t.bn), ceilDiv(m, t.bm)
	if gx > maxGroups || gy > maxGroups || z > maxGroups {
		return fmt.Errorf("%w: a %dx%dx%d matmul needs more workgroups than one dispatch has", backend.ErrUnsupported, z, m, n)
	}
	spec := []uint32{uint32(t.wg()), uint32(t.bm), uint32(t.bn), uint32(t.bk), uint32(t.tm), uint32(t.tn),
		b2u(c.Attrs.TransA), b2u(c.Attrs.TransB), b2u(vecA), b2u(vecB), 0, 1}
	return b.run("matmul", spec, reads, []*mem{cm}, []*mem{cm, am, bm}, pc, gx, gy, z)
}

// vkFill records a fill of n bytes at off of blk with a 32-bit word.
func vkFill(cmd vk.CommandBuffer, blk *block, off, n uint64, word uint32) {
	vk.CmdFillBuffer(cmd, blk.buf, vk.DeviceSize(off), vk.DeviceSize(n), word)
}
