//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"

	"github.com/ijepa-go/ijepa/backend"
)

// Each op records its dispatches with the kernels of package shaders. The
// arguments ms are the call's tensors in the order of the op's row in the
// table (nil for absent optional ones). Every dispatch is preceded by access,
// which declares its reads and writes and places barriers.

// Grid limits: 1-D kernels stride over their elements from at most
// maxGroups workgroups; row kernels use a 2-D grid of one workgroup per row.
const (
	elemWG    = 256
	maxGroups = 65535
)

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// groups1D returns the workgroups of a 1-D kernel over n items: as many as
// it takes, up to maxGroups; on CPU devices at most cpuGroups, because
// there each workgroup costs a set-up that a longer loop does not (on
// lavapipe, 64 workgroups run big elementwise ops about twice as fast as
// one per 256 elements).
func (b *device) groups1D(n, wg int) int {
	g := maxGroups
	if b.phys.kind == "cpu" {
		g = cpuGroups
	}
	return max(1, min(ceilDiv(n, wg), g))
}

// cpuGroups caps the workgroups of 1-D kernels on CPU devices.
const cpuGroups = 64

// rowGrid returns a 2-D grid of one workgroup per row.
func rowGrid(rows int) (gx, gy int) {
	gx = max(1, min(rows, maxGroups))
	return gx, ceilDiv(rows, gx)
}

// rowWG returns the workgroup size of a row kernel over rows of c elements:
// the smallest power of two from 32 to 256 that gives each invocation at
// most four elements.
func rowWG(c int) uint32 {
	wg := 32
	for wg < 256 && wg*4 < c {
		wg *= 2
	}
	return uint32(wg)
}

func f32(x float64) uint32 { return math.Float32bits(float32(x)) }

func b2u(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// rowsCols returns a tensor's last dim and the number of rows before it.
func rowsCols(t *backend.Tensor) (rows, cols int) {
	s := t.Shape()
	cols = s[len(s)-1]
	return t.NumElements() / cols, cols
}

// loops reports an error when a kernel whose invocations run n loop
// iterations exceeds the device's loop limit.
func (b *device) loops(n int, what string) error {
	if l := b.phys.loopLimit; l > 0 && n > l {
		return fmt.Errorf("%w: %s needs %d loop iterations per invocation, and %s stops shaders after %d",
			backend.ErrUnsupported, what, n, b.phys.name, l)
	}
	return nil
}

// rowLoops is the loop count of a row kernel (layernorm, softmax) over rows
// of c elements: three passes over the row and the reductions' steps.
func rowLoops(c int) int { return 3*ceilDiv(c, int(rowWG(c))) + 32 }

// Supports refuses the calls the device cannot run: a matmul or a row of
// a row op longer than the driver's loop limit, a matmul needing more
// workgroups than one dispatch has.
func (b *device) Supports(c backend.Call) error {
	switch c.Op {
	case backend.OpMatMul:
		_, err := b.matmulPlan(c)
		return err
	case backend.OpSoftmax, backend.OpSoftmaxBwd, backend.OpLayerNorm, backend.OpLayerNormBwd:
		_, cols := rowsCols(c.Args[0])
		return b.loops(rowLoops(cols), "a "+c.Op.String()+" row")
	}
	return nil
}

// run records one dispatch of a kernel after declaring its accesses.
func (b *device) run(kernel string, spec []uint32, reads, writes, binds []*mem, pc []uint32, gx, gy, gz int) error {
	pipe, err := b.pipeline(kernel, spec...)
	if err != nil {
		return err
	}
	b.access(reads, writes)
	return b.dispatch(pipe, binds, pc, gx, gy, gz)
}

func (b *device) record(c backend.Call, ms []*mem) error {
	a := c.Attrs
	switch c.Op {
	case backend.OpMatMul:
		return b.matmul(c, ms)
	case backend.OpAdd, backend.OpMul:
		y, x, z := ms[0], ms[1], ms[2]
		n, nb := c.Args[0].NumElements(), c.Args[2].NumElements()
		return b.run("binary", []uint32{elemWG, b2u(c.Op == backend.OpMul)}, []*mem{x, z}, []*mem{y}, []*mem{y, x, z},
			[]uint32{y.elem(), x.elem(), z.elem(), uint32(n), uint32(nb)}, b.groups1D(n, elemWG), 1, 1)
	case backend.OpScale:
		return b.linear(ms[0], ms[1], c.Args[0].NumElements(), false, 0, a.Alpha)
	case backend.OpAxpy:
		return b.linear(ms[0], ms[1], c.Args[0].NumElements(), true, 1, a.Alpha)
	case backend.OpEMA:
		return b.linear(ms[0], ms[1], c.Args[0].NumElements(), true, a.Momentum, 1-a.Momentum)
	case backend.OpColSum:
		y, x := ms[0], ms[1]
		cols := c.Args[0].NumElements()
		return b.colsum(0, y, x, nil, nil, nil, c.Args[1].NumElements()/cols, cols)
	case backend.OpLayerNorm:
		return b.layernorm(c, ms)
	case backend.OpLayerNormBwd:
		return b.layernormBwd(c, ms)
	case backend.OpSoftmax:
		y, x := ms[0], ms[1]
		rows, cols := rowsCols(c.Args[1])
		gx, gy := rowGrid(rows)
		return b.run("softmax", []uint32{rowWG(cols), 0}, []*mem{x}, []*mem{y}, []*mem{y, x, x},
			[]uint32{y.elem(), x.elem(), x.elem(), uint32(rows), uint32(cols), f32(a.Alpha)}, gx, gy, 1)
	case backend.OpSoftmaxBwd:
		dx, dy, y := ms[0], ms[1], ms[2]
		rows, cols := rowsCols(c.Args[2])
		gx, gy := rowGrid(rows)
		return b.run("softmax", []uint32{rowWG(cols), 1}, []*mem{dy, y}, []*mem{dx}, []*mem{dx, dy, y},
			[]uint32{dx.elem(), dy.elem(), y.elem(), uint32(rows), uint32(cols), f32(a.Alpha)}, gx, gy, 1)
	case backend.OpGELU:
		y, x := ms[0], ms[1]
		n := c.Args[0].NumElements()
		return b.run("gelu", []uint32{elemWG, 0}, []*mem{x}, []*mem{y}, []*mem{y, x, x},
			[]uint32{y.elem(), x.elem(), x.elem(), uint32(n)}, b.groups1D(n, elemWG), 1, 1)
	case backend.OpGELUBwd:
		dx, dy, x := ms[0], ms[1], ms[2]
		n := c.Args[0].NumElements()
		return b.run("gelu", []uint32{elemWG, 1}, []*mem{dy, x}, []*mem{dx}, []*mem{dx, dy, x},
			[]uint32{dx.elem(), dy.elem(), x.elem(), uint32(n)}, b.groups1D(n, elemWG), 1, 1)
	case backend.OpGather:
		y, x, ix := ms[0], ms[1], ms[2]
		rows := c.Args[2].NumElements()
		cols := c.Args[1].NumElements() / c.Args[1].Shape()[0]
		return b.run("gather", []uint32{elemWG}, []*mem{x, ix}, []*mem{y}, []*mem{y, x, ix},
			[]uint32{y.elem(), x.elem(), ix.elem(), uint32(rows), uint32(cols)}, b.groups1D(rows*cols, elemWG), 1, 1)
	case backend.OpScatterAdd:
		return b.scatterAdd(c, ms[0], ms[1], ms[2])
	case backend.OpSplitHeads, backend.OpMergeHeads:
		return b.heads(c, ms)
	case backend.OpPatchify:
		y, img := ms[0], ms[1]
		s := c.Args[1].Shape()
		n := c.Args[0].NumElements()
		return b.run("patchify", []uint32{elemWG}, []*mem{img}, []*mem{y}, []*mem{y, img},
			[]uint32{y.elem(), img.elem(), uint32(s[0]), uint32(s[1]), uint32(s[2]), uint32(s[3]), uint32(a.Patch)},
			b.groups1D(n, elemWG), 1, 1)
	case backend.OpSmoothL1:
		return b.reduce(3, ms[0], ms[1], ms[2], c.Args[1].NumElements(), a.Beta, true)
	case backend.OpMSE:
		return b.reduce(2, ms[0], ms[1], ms[2], c.Args[1].NumElements(), 0, true)
	case backend.OpSum:
		return b.reduce(0, ms[0], ms[1], ms[1], c.Args[1].NumElements(), 0, false)
	case backend.OpSumSq:
		return b.reduce(1, ms[0], ms[1], ms[1], c.Args[1].NumElements(), 0, false)
	case backend.OpSmoothL1Bwd, backend.OpMSEBwd:
		dp, dl, p, t := ms[0], ms[1], ms[2], ms[3]
		n := c.Args[0].NumElements()
		return b.run("loss_bwd", []uint32{elemWG, b2u(c.Op == backend.OpMSEBwd)}, []*mem{dl, p, t}, []*mem{dp}, []*mem{dp, dl, p, t},
			[]uint32{dp.elem(), dl.elem(), p.elem(), t.elem(), uint32(n), f32(a.Beta)}, b.groups1D(n, elemWG), 1, 1)
	case backend.OpAdamW:
		return b.adamw(c, ms)
	case backend.OpFill:
		return b.fill(ms[0], c.Args[0].NumElements(), a.Alpha)
	case backend.OpCopy:
		return b.copy(ms[0], ms[1])
	}
	return backend.ErrUnsupported
}

// linear records y = r*y + q*x (readY) or y = q*x.
func (b *device) linear(y, x *mem, n int, readY bool, r, q float64) error {
	reads := []*mem{x}
	if readY {
		reads = append(reads, y)
	}
	return b.run("linear", []uint32{elemWG, b2u(readY)}, reads, []*mem{y}, []*mem{y, x},
		[]uint32{y.elem(), x.elem(), uint32(n), f32(r), f32(q)}, b.groups1D(n, elemWG), 1, 1)
}

// reduce records y[0] = scale * sum of a term over n elements (mode as in
// reduce.comp), mean dividing by n, in one pass or two.
func (b *device) reduce(mode uint32, y, x, t *mem, n int, beta float64, mean bool) error {
	const wg = 256
	g := max(1, min(ceilDiv(n, wg*8), 512))
	chunk := ceilDiv(n, g)
	g = ceilDiv(n, chunk)
	scale := 1.0
	if mean {
		scale = 1 / float64(n)
	}
	if g == 1 {
		return b.run("reduce", []uint32{wg, mode}, []*mem{x, t}, []*mem{y}, []*mem{y, x, t},
			[]uint32{y.elem(), x.elem(), t.elem(), uint32(n), uint32(chunk), f32(beta), f32(scale)}, 1, 1, 1)
	}
	part, err := b.scratch(g)
	if err != nil {
		return err
	}
	defer b.freeScratch(part)
	if err := b.run("reduce", []uint32{wg, mode}, []*mem{x, t}, []*mem{part}, []*mem{part, x, t},
		[]uint32{part.elem(), x.elem(), t.elem(), uint32(n), uint32(chunk), f32(beta), 0x3f800000}, g, 1, 1); err != nil {
		return err
	}
	return b.run("reduce", []uint32{wg, 0}, []*mem{part}, []*mem{y}, []*mem{y, part, part},
		[]uint32{y.elem(), part.elem(), part.elem(), uint32(g), uint32(g), 0, f32(scale)}, 1, 1, 1)
}

// colsum records column sums of a [rows,cols] matrix (mode 0: of a; mode 1:
// of a*(x-mean)*rstd) into y [cols], through partial sums over chunks of
// rows when there are many rows.
func (b *device) colsum(mode uint32, y, a, x, mean, rstd *mem, rows, cols int) error {
	const wg = 64
	if x == nil {
		x, mean, rstd = a, a, a
	}
	reads := []*mem{a}
	if mode == 1 {
		reads = append(reads, x, mean, rstd)
	}
	// Enough chunks for about 16k invocations, at least 32 rows each.
	chunks := max(1, min(ceilDiv(rows, 32), ceilDiv(16384, cols), maxGroups))
	per := ceilDiv(rows, chunks)
	chunks = ceilDiv(rows, per)
	gx := ceilDiv(cols, wg)
	if chunks == 1 {
		return b.run("colsum", []uint32{wg, mode}, reads, []*mem{y}, []*mem{y, a, x, mean, rstd},
			[]uint32{y.elem(), a.elem(), x.elem(), mean.elem(), rstd.elem(), uint32(rows), uint32(cols), uint32(rows)}, gx, 1, 1)
	}
	part, err := b.scratch(chunks * cols)
	if err != nil {
		return err
	}
	defer b.freeScratch(part)
	if err := b.run("colsum", []uint32{wg, mode}, reads, []*mem{part}, []*mem{part, a, x, mean, rstd},
		[]uint32{part.elem(), a.elem(), x.elem(), mean.elem(), rstd.elem(), uint32(rows), uint32(cols), uint32(per)}, gx, chunks, 1); err != nil {
		return err
	}
	return b.run("colsum", []uint32{wg, 0}, []*mem{part}, []*mem{y}, []*mem{y, part, part, part, part},
		[]uint32{y.elem(), part.elem(), part.elem(), part.elem(), part.elem(), uint32(chunks), uint32(cols), uint32(chunks)}, gx, 1, 1)
}

// scratch allocates n floats of device memory for one op's intermediate
// results.
func (b *device) scratch(n int) (*mem, error) {
	blk, s, err := b.alloc(&b.devArena, uint64(4*n), false)
	if err != nil {
		return nil, err
	}
	return &mem{blk: blk, s: s, off: s.off, size: uint64(4 * n), readEpoch: s.epoch, writeEpoch: s.epoch, seq: s.seq}, nil
}

func (b *device) freeScratch(m *mem) {
	s := m.s
	s.epoch, s.seq = max(m.readEpoch, m.writeEpoch), m.seq
	b.release(&b.devArena, m.blk, s)
}

func (b *device) layernorm(c backend.Call, ms []*mem) error {
	y, mean, rstd, x, gamma, beta := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]
	rows, cols := rowsCols(c.Args[3])
	affine := gamma != nil
	reads := []*mem{x}
	if affine {
		reads = append(reads, gamma, beta)
	} else {
		gamma, beta = x, x
	}
	gx, gy := rowGrid(rows)
	return b.run("layernorm", []uint32{rowWG(cols), b2u(affine)}, reads, []*mem{y, mean, rstd}, []*mem{y, mean, rstd, x, gamma, beta},
		[]uint32{y.elem(), mean.elem(), rstd.elem(), x.elem(), gamma.elem(), beta.elem(), uint32(rows), uint32(cols), f32(c.Attrs.Eps)}, gx, gy, 1)
}

func (b *device) layernormBwd(c backend.Call, ms []*mem) error {
	dx, dgamma, dbeta, dy, x, mean, rstd, gamma := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6], ms[7]
	rows, cols := rowsCols(c.Args[4])
	affine := gamma != nil
	reads := []*mem{dy, x, mean, rstd}
	if affine {
		reads = append(reads, gamma)
	} else {
		gamma = x
	}
	gx, gy := rowGrid(rows)
	if err := b.run("layernorm_bwd", []uint32{rowWG(cols), b2u(affine)}, reads, []*mem{dx}, []*mem{dx, dy, x, mean, rstd, gamma},
		[]uint32{dx.elem(), dy.elem(), x.elem(), mean.elem(), rstd.elem(), gamma.elem(), uint32(rows), uint32(cols)}, gx, gy, 1); err != nil {
		return err
	}
	if dgamma != nil {
		if err := b.colsum(1, dgamma, dy, x, mean, rstd, rows, cols); err != nil {
			return err
		}
	}
	if dbeta != nil {
		return b.colsum(0, dbeta, dy, nil, nil, nil, rows, cols)
	}
	return nil
}

func (b *device) heads(c backend.Call, ms []*mem) error {
	merge := c.Op == backend.OpMergeHeads
	var packed *mem
	var parts []*mem
	var shape backend.Shape
	if merge {
		packed, parts, shape = ms[0], ms[1:], c.Args[0].Shape()
	} else {
		packed, parts, shape = ms[len(ms)-1], ms[:len(ms)-1], c.Args[len(ms)-1].Shape()
	}
	g, h := len(parts), c.Attrs.Heads
	bsz, t, e := shape[0], shape[1], shape[2]/(len(parts)*h)
	n := bsz * h * t * e
	pipe, err := b.pipeline("heads", elemWG, b2u(merge))
	if err != nil {
		return err
	}
	// The parts are independent: one access for all the dispatches.
	if merge {
		b.access(parts, []*mem{packed})
	} else {
		b.access([]*mem{packed}, parts)
	}
	for k, part := range parts {
		if err := b.dispatch(pipe, []*mem{packed, part},
			[]uint32{packed.elem(), part.elem(), uint32(bsz), uint32(t), uint32(g), uint32(k), uint32(h), uint32(e)},
			b.groups1D(n, elemWG), 1, 1); err != nil {
			return err
		}
	}
	return nil
}

func (b *device) adamw(c backend.Call, ms []*mem) error {
	p, m, v, g := ms[0], ms[1], ms[2], ms[3]
	a := c.Attrs
	t := float64(a.Step)
	n := c.Args[0].NumElements()
	return b.run("adamw", []uint32{elemWG}, []*mem{p, m, v, g}, []*mem{p, m, v}, []*mem{p, m, v, g},
		[]uint32{p.elem(), m.elem(), v.elem(), g.elem(), uint32(n),
			f32(1 - a.LR*a.WeightDecay), f32(a.Beta1), f32(a.Beta2), f32(1 - a.Beta1), f32(1 - a.Beta2),
			f32(a.LR / (1 - math.Pow(a.Beta1, t))), f32(math.Sqrt(1 - math.Pow(a.Beta2, t))), f32(a.Eps)},
		b.groups1D(n, elemWG), 1, 1)
}

// fill and copy are transfer commands.
func (b *device) fill(y *mem, n int, v float64) error {
	b.access(nil, []*mem{y})
	vkFill(b.cur.cmd, y.blk, y.off, uint64(4*n), f32(v))
	b.cur.cmds++
	return nil
}

func (b *device) copy(y, x *mem) error {
	if y.size != x.size {
		return fmt.Errorf("%w: copy of %d bytes into %d", backend.ErrShape, x.size, y.size)
	}
	b.access([]*mem{x}, []*mem{y})
	b.cmdCopy(b.cur.cmd, x.blk, x.off, y.blk, y.off, y.size)
	b.cur.cmds++
	return nil
}
