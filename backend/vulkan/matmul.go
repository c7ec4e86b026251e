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
func (b *device) chooseTile(m, n, z int) tile {
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
func (b *device) regTile() (tile, bool) {
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

// mmPlan is how a matmul call runs: the kernel's specialisation constants
// (which pipeline variant, the dtypes included), the outputs one workgroup computes (bm x bn of
// the tile) and the grid.
type mmPlan struct {
	spec       []uint32
	tile       tile
	gx, gy, gz int
}

// matmulPlan chooses the variant and tile of a matmul call, or says why the
// device cannot run it (a loop longer than the driver allows, more
// workgroups than one dispatch has).
func (b *device) matmulPlan(c backend.Call) (mmPlan, error) {
	z, m, n, k := backend.MatMulDims(c)
	ta, tb := c.Attrs.TransA, c.Attrs.TransB
	var p mmPlan
	var steps int
	var t tile
	if rt, ok := b.regTile(); ok && !(ta && tb) {
		t = rt
		veck := k%4 == 0 && !ta && !tb
		steps = k
		if veck {
			steps = k / 4
		}
		sg := uint32(b.phys.subgroup)
		// The shared tiles are unused: the smallest valid sizes.
		p.spec = []uint32{sg, 4, 4, 4, uint32(t.tm), uint32(t.tn), b2u(ta), b2u(tb), 0, b2u(!tb && n%4 == 0), 1, sg, b2u(veck)}
	} else {
		t = b.chooseTile(m, n, z)
		steps = ceilDiv(k, t.bk)
		p.spec = []uint32{uint32(t.wg()), uint32(t.bm), uint32(t.bn), uint32(t.bk), uint32(t.tm), uint32(t.tn),
			b2u(ta), b2u(tb), b2u(!ta && k%4 == 0), b2u(!tb && n%4 == 0), 0, 1, 0}
	}
	// The dtypes: a and b's (the same in every signature of the op table),
	// and whether c is 16-bit too.
	p.spec = append(p.spec, dtMode(c.Args[1].DType()), b2u(c.Args[0].DType() != backend.F32))
	if err := b.loops(steps, fmt.Sprintf("a matmul over K = %d", k)); err != nil {
		return p, err
	}
	p.tile = t
	p.gx, p.gy, p.gz = ceilDiv(n, t.bn), ceilDiv(m, t.bm), z
	if p.gx > maxGroups || p.gy > maxGroups || z > maxGroups {
		return p, fmt.Errorf("%w: a %dx%dx%d matmul needs more workgroups than one dispatch has", backend.ErrUnsupported, z, m, n)
	}
	return p, nil
}

func (r *rec) matmul() error {
	_, m, n, k := backend.MatMulDims(r.c)
	p, err := r.b.matmulPlan(r.c)
	if err != nil {
		return err
	}
	a := r.c.Attrs
	return dispatch(r, kMatMul, p.spec, args(0, 1, 2),
		&matmulPush{Oc: r.off(0), Oa: r.off(1), Ob: r.off(2), M: uint32(m), N: uint32(n), K: uint32(k), Alpha: f32(a.Alpha), Beta: f32(a.Beta)},
		p.gx, p.gy, p.gz)
}

// vkFill records a fill of n bytes at off of blk with a 32-bit word.
func vkFill(cmd vk.CommandBuffer, blk *block, off, n uint64, word uint32) {
	vk.CmdFillBuffer(cmd, blk.buf, vk.DeviceSize(off), vk.DeviceSize(n), word)
}
