//go:build linux && cgo

package vulkan

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/ijepa-go/ijepa/backend"
)

// Each op records its dispatches with the kernels of package shaders
// (recorders). A dispatch names what each of its bindings holds — an
// argument of the call, by its position in the op's row, or a scratch buffer
// of the op — and its reads and writes follow from that: an argument is read
// if its role is in or inout and written if out or inout. The same list is
// what gets bound, so a dispatch can touch only what it declared: an
// argument left out of it is neither ordered by a barrier nor bound, and the
// kernel computes garbage that the conformance suite catches (lavapipe runs
// dispatches one after another, so a missing barrier alone would never show
// there).

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
// workgroups than one dispatch has. A 16-bit call the kernels do not read
// in 16 bits runs as its float32 call between casts (Run), so it is asked
// about as that.
func (b *device) Supports(c backend.Call) error {
	if widens(c) {
		c = widened(c)
	}
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

// recorders are the ops the device runs and how each records its
// dispatches; Info.Ops lists the ops found here.
var recorders = map[backend.Op]func(r *rec) error{
	backend.OpMatMul:       (*rec).matmul,
	backend.OpAdd:          (*rec).binary,
	backend.OpMul:          (*rec).binary,
	backend.OpScale:        func(r *rec) error { return r.linear(false, 0, r.c.Attrs.Alpha) },
	backend.OpAxpy:         func(r *rec) error { return r.linear(true, 1, r.c.Attrs.Alpha) },
	backend.OpEMA:          func(r *rec) error { return r.linear(true, r.c.Attrs.Momentum, 1-r.c.Attrs.Momentum) },
	backend.OpColSum:       (*rec).colsum,
	backend.OpLayerNorm:    (*rec).layernorm,
	backend.OpLayerNormBwd: (*rec).layernormBwd,
	backend.OpSoftmax:      (*rec).softmax,
	backend.OpSoftmaxBwd:   (*rec).softmax,
	backend.OpGELU:         (*rec).activation,
	backend.OpGELUBwd:      (*rec).activation,
	backend.OpSiLU:         (*rec).activation,
	backend.OpSiLUBwd:      (*rec).activation,
	backend.OpGather:       (*rec).gather,
	backend.OpScatterAdd:   (*rec).scatterAdd,
	backend.OpSplitHeads:   (*rec).heads,
	backend.OpMergeHeads:   (*rec).heads,
	backend.OpPatchify:     (*rec).patchify,
	backend.OpSmoothL1:     func(r *rec) error { return r.reduce(3, 2, r.c.Attrs.Beta, true) },
	backend.OpMSE:          func(r *rec) error { return r.reduce(2, 2, 0, true) },
	backend.OpSum:          func(r *rec) error { return r.reduce(0, 1, 0, false) },
	backend.OpSumSq:        func(r *rec) error { return r.reduce(1, 1, 0, false) },
	backend.OpSmoothL1Bwd:  (*rec).lossBwd,
	backend.OpMSEBwd:       (*rec).lossBwd,
	backend.OpAdamW:        (*rec).adamw,
	backend.OpFill:         (*rec).fill,
	backend.OpCopy:         (*rec).copy,
	backend.OpCast:         (*rec).cast,
}

// reads16 are the ops whose kernels read and write f16 and bf16 tensors
// themselves (cast.comp, matmul.comp, and the kernels that take a dtype
// constant, dtMode): the ops a 16-bit training step calls with 16-bit
// tensors. Every other op runs its 16-bit calls as float32 calls between
// casts.
var reads16 = map[backend.Op]bool{
	backend.OpCast: true, backend.OpMatMul: true,
	backend.OpAdd: true, backend.OpMul: true, backend.OpColSum: true,
	backend.OpGELU: true, backend.OpGELUBwd: true, backend.OpSiLU: true, backend.OpSiLUBwd: true,
	backend.OpSoftmax: true, backend.OpSoftmaxBwd: true,
	backend.OpSplitHeads: true, backend.OpMergeHeads: true,
}

// dtMode is the specialisation constant by which a kernel reading 16 bits
// is told a tensor's dtype (half.glsl): 0 float32, 1 bf16, 2 f16.
func dtMode(d backend.DType) uint32 {
	switch d {
	case backend.BF16:
		return 1
	case backend.F16:
		return 2
	}
	return 0
}

// widens reports whether c runs as its float32 call between casts: a call
// with an f16 or bf16 argument to an op not in reads16.
func widens(c backend.Call) bool { return !reads16[c.Op] && backend.HasHalf(c) }

// widened is c with every 16-bit argument replaced by a float32 placeholder
// of its shape: the call Run records for it between casts.
func widened(c backend.Call) backend.Call {
	w := backend.Call{Op: c.Op, Attrs: c.Attrs, Args: make([]*backend.Tensor, len(c.Args))}
	for i, t := range c.Args {
		w.Args[i] = t
		if t != nil && (t.DType() == backend.F16 || t.DType() == backend.BF16) {
			w.Args[i] = backend.Placeholder(backend.F32, t.Shape()...)
		}
	}
	return w
}

// castModes are cast.comp's modes by the dtypes of y and x.
var castModes = map[[2]backend.DType]uint32{
	{backend.F16, backend.F32}: 0, {backend.BF16, backend.F32}: 1,
	{backend.F32, backend.F16}: 2, {backend.F32, backend.BF16}: 3,
}

// cast converts element by element; the 16-bit side's offset counts 16-bit
// elements.
func (r *rec) cast() error {
	y, x := r.c.Args[0], r.c.Args[1]
	mode := castModes[[2]backend.DType{y.DType(), x.DType()}]
	n := y.NumElements()
	return dispatch(r, kCast, []uint32{elemWG, mode}, args(0, 1), &castPush{Oy: r.off(0), Ox: r.off(1), N: uint32(n)}, r.b.groups1D(n, elemWG), 1, 1)
}

// ops lists the ops of recorders in catalogue order.
func ops() []backend.Op {
	var out []backend.Op
	for _, op := range backend.Ops() {
		if recorders[op] != nil {
			out = append(out, op)
		}
	}
	return out
}

// record records a call's dispatches.
func (b *device) record(c backend.Call) error {
	r := &rec{b: b, c: c, ms: make([]*mem, len(c.Args)), specs: c.Op.Expand(len(c.Args))}
	for i, t := range c.Args {
		if t != nil {
			r.ms[i] = t.Storage().Impl.(*mem)
		}
	}
	return recorders[c.Op](r)
}

// rec is one call being recorded.
type rec struct {
	b     *device
	c     backend.Call
	ms    []*mem        // the call's tensors (nil for absent ones)
	specs []backend.Arg // their rows of the op table
}

// slot is what one binding of a dispatch holds: argument arg of the call, or
// (arg < 0) the op's scratch buffer m, which the dispatch writes or reads.
type slot struct {
	arg   int
	m     *mem
	write bool
}

func arg(i int) slot         { return slot{arg: i} }
func scratchIn(m *mem) slot  { return slot{arg: -1, m: m} }
func scratchOut(m *mem) slot { return slot{arg: -1, m: m, write: true} }
func args(is ...int) []slot  { return argsFrom(is) }
func argsFrom(is []int) []slot {
	out := make([]slot, len(is))
	for k, i := range is {
		out[k] = arg(i)
	}
	return out
}

// dropped is a test's planted bug: the dispatches of op leave argument arg
// out of their declared access, and bind unbound in its place.
type dropped struct {
	op      backend.Op
	arg     int
	unbound *mem
}

// access declares the reads and writes of a command over the given slots
// (placing a barrier where one conflicts with earlier work of the current
// interval) and returns the memory each slot binds.
func (r *rec) access(slots []slot) [maxBindings]*mem {
	var binds [maxBindings]*mem
	var reads, writes []*mem
	for i, s := range slots {
		m, rd, wr := s.m, !s.write, s.write
		if s.arg >= 0 {
			m = r.ms[s.arg]
			role := r.specs[s.arg].Role
			rd, wr = role != backend.Out, role != backend.In
			if d := r.b.drop; d != nil && d.op == r.c.Op && d.arg == s.arg {
				m, rd, wr = d.unbound, false, false
			}
		}
		binds[i] = m
		if m == nil {
			continue
		}
		if rd {
			reads = append(reads, m)
		}
		if wr {
			writes = append(writes, m)
		}
	}
	r.b.access(reads, writes)
	return binds
}

// dt returns the dtype constant (dtMode) of the call's first tensor, which
// kernels reading 16 bits take as the dtype of all of them (the op table's
// signatures of those ops have one dtype).
func (r *rec) dt() uint32 { return dtMode(r.c.Args[0].DType()) }

// off returns the offset of argument i in elements of its dtype (0 for an
// absent one).
func (r *rec) off(i int) uint32 {
	if r.ms[i] == nil {
		return 0
	}
	return r.ms[i].elemOf(r.c.Args[i].DType())
}

// dispatch records one dispatch of kernel k with specialisation constants
// spec over the bindings slots, after declaring their accesses.
func dispatch[P any](r *rec, k kernel[P], spec []uint32, slots []slot, pc *P, gx, gy, gz int) error {
	pipe, err := r.b.pipeline(k.name, spec...)
	if err != nil {
		return err
	}
	binds := r.access(slots)
	return r.b.dispatch(pipe, binds[:len(slots)], unsafe.Pointer(pc), unsafe.Sizeof(*pc), gx, gy, gz)
}

// f32 rounds a host scalar for a push constant.
func f32(x float64) float32 { return float32(x) }

func (r *rec) binary() error {
	n, nb := r.c.Args[0].NumElements(), r.c.Args[2].NumElements()
	return dispatch(r, kBinary, []uint32{elemWG, b2u(r.c.Op == backend.OpMul), r.dt()}, args(0, 1, 2),
		&binaryPush{Oy: r.off(0), Oa: r.off(1), Ob: r.off(2), N: uint32(n), Nb: uint32(nb)}, r.b.groups1D(n, elemWG), 1, 1)
}

// linear records y = rr*y + q*x (readY) or y = q*x.
func (r *rec) linear(readY bool, rr, q float64) error {
	n := r.c.Args[0].NumElements()
	return dispatch(r, kLinear, []uint32{elemWG, b2u(readY)}, args(0, 1),
		&linearPush{Oy: r.off(0), Ox: r.off(1), N: uint32(n), R: f32(rr), Q: f32(q)}, r.b.groups1D(n, elemWG), 1, 1)
}

func (r *rec) softmax() error {
	bwd := r.c.Op == backend.OpSoftmaxBwd
	in := args(0, 1, 1)
	if bwd {
		in = args(0, 1, 2)
	}
	rows, cols := rowsCols(r.c.Args[0])
	gx, gy := rowGrid(rows)
	return dispatch(r, kSoftmax, []uint32{rowWG(cols), b2u(bwd), r.dt()}, in,
		&softmaxPush{Oo: r.off(0), Oi0: r.off(1), Oi1: r.off(in[2].arg), R: uint32(rows), C: uint32(cols), Alpha: f32(r.c.Attrs.Alpha)}, gx, gy, 1)
}

// activations are the modes of activation.comp: each op's number there, and
// whether it is a gradient (reading dy and x).
var activations = map[backend.Op]struct {
	mode uint32
	grad bool
}{
	backend.OpGELU:    {0, false},
	backend.OpGELUBwd: {1, true},
	backend.OpSiLU:    {2, false},
	backend.OpSiLUBwd: {3, true},
}

func (r *rec) activation() error {
	a := activations[r.c.Op]
	in := args(0, 1, 1)
	if a.grad {
		in = args(0, 1, 2)
	}
	n := r.c.Args[0].NumElements()
	return dispatch(r, kActivation, []uint32{elemWG, a.mode, r.dt()}, in,
		&activationPush{Oo: r.off(0), Oi0: r.off(1), Oi1: r.off(in[2].arg), N: uint32(n)}, r.b.groups1D(n, elemWG), 1, 1)
}

func (r *rec) gather() error {
	rows := r.c.Args[2].NumElements()
	cols := r.c.Args[1].NumElements() / r.c.Args[1].Shape()[0]
	return dispatch(r, kGather, []uint32{elemWG}, args(0, 1, 2),
		&gatherPush{Oy: r.off(0), Ox: r.off(1), Oi: r.off(2), R: uint32(rows), C: uint32(cols)}, r.b.groups1D(rows*cols, elemWG), 1, 1)
}

func (r *rec) patchify() error {
	s := r.c.Args[1].Shape()
	n := r.c.Args[0].NumElements()
	return dispatch(r, kPatchify, []uint32{elemWG}, args(0, 1),
		&patchifyPush{Oy: r.off(0), Oi: r.off(1), B: uint32(s[0]), C: uint32(s[1]), H: uint32(s[2]), W: uint32(s[3]), P: uint32(r.c.Attrs.Patch)},
		r.b.groups1D(n, elemWG), 1, 1)
}

func (r *rec) lossBwd() error {
	n := r.c.Args[0].NumElements()
	return dispatch(r, kLossBwd, []uint32{elemWG, b2u(r.c.Op == backend.OpMSEBwd)}, args(0, 1, 2, 3),
		&lossBwdPush{Od: r.off(0), Odl: r.off(1), Op: r.off(2), Ot: r.off(3), N: uint32(n), Beta: f32(r.c.Attrs.Beta)},
		r.b.groups1D(n, elemWG), 1, 1)
}

func (r *rec) adamw() error {
	a := r.c.Attrs
	t := float64(a.Step)
	n := r.c.Args[0].NumElements()
	return dispatch(r, kAdamW, []uint32{elemWG}, args(0, 1, 2, 3),
		&adamwPush{Op: r.off(0), Om: r.off(1), Ov: r.off(2), Og: r.off(3), N: uint32(n),
			Decay: f32(1 - a.LR*a.WeightDecay), B1: f32(a.Beta1), B2: f32(a.Beta2), Omb1: f32(1 - a.Beta1), Omb2: f32(1 - a.Beta2),
			Lrc: f32(a.LR / (1 - math.Pow(a.Beta1, t))), Bc2: f32(math.Sqrt(1 - math.Pow(a.Beta2, t))), Eps: f32(a.Eps)},
		r.b.groups1D(n, elemWG), 1, 1)
}

// reduce records loss[0] or y[0] = scale * the sum of a term over the
// elements of argument 1 (and argument 2 for a loss: ins is 2, else 1; mode
// as in reduce.comp), mean dividing by their number, in one pass or two.
func (r *rec) reduce(mode uint32, ins int, beta float64, mean bool) error {
	const wg = 256
	n := r.c.Args[1].NumElements()
	g := max(1, min(ceilDiv(n, wg*8), 512))
	chunk := ceilDiv(n, g)
	g = ceilDiv(n, chunk)
	scale := 1.0
	if mean {
		scale = 1 / float64(n)
	}
	src := args(1, ins) // the second is argument 1 again for sum and sumsq
	pc := reducePush{Oa: r.off(1), Ob: r.off(ins), N: uint32(n), Chunk: uint32(chunk), Beta: f32(beta), Scale: f32(scale)}
	if g == 1 {
		pc.Oy = r.off(0)
		return dispatch(r, kReduce, []uint32{wg, mode}, append(args(0), src...), &pc, 1, 1, 1)
	}
	part, err := r.b.scratch(g)
	if err != nil {
		return err
	}
	defer r.b.freeScratch(part)
	pc.Oy, pc.Scale = part.elem(), 1
	if err := dispatch(r, kReduce, []uint32{wg, mode}, append([]slot{scratchOut(part)}, src...), &pc, g, 1, 1); err != nil {
		return err
	}
	return dispatch(r, kReduce, []uint32{wg, 0}, []slot{arg(0), scratchIn(part), scratchIn(part)},
		&reducePush{Oy: r.off(0), Oa: part.elem(), Ob: part.elem(), N: uint32(g), Chunk: uint32(g), Scale: f32(scale)}, 1, 1, 1)
}

func (r *rec) colsum() error {
	cols := r.c.Args[0].NumElements()
	return r.colsums(0, 0, []int{1}, r.c.Args[1].NumElements()/cols, cols)
}

// colsums records the column sums of a [rows,cols] matrix into argument y
// (mode 0: of argument src[0]; mode 1: of a*(x-mean)*rstd with src the
// arguments a, x, mean, rstd), through float32 partial sums over chunks of
// rows when there are many rows. a and y may be 16-bit (colsum.comp's AT
// and YT).
func (r *rec) colsums(mode uint32, y int, src []int, rows, cols int) error {
	const wg = 64
	at, yt := dtMode(r.c.Args[src[0]].DType()), dtMode(r.c.Args[y].DType())
	for len(src) < 4 {
		src = append(src, src[0]) // bound but not read in mode 0
	}
	in := argsFrom(src)
	pc := colsumPush{Oa: r.off(src[0]), Ox: r.off(src[1]), Om: r.off(src[2]), Ors: r.off(src[3]), R: uint32(rows), C: uint32(cols)}
	// Enough chunks for about 16k invocations, at least 32 rows each.
	chunks := max(1, min(ceilDiv(rows, 32), ceilDiv(16384, cols), maxGroups))
	per := ceilDiv(rows, chunks)
	chunks = ceilDiv(rows, per)
	gx := ceilDiv(cols, wg)
	if chunks == 1 {
		pc.Oy, pc.Rows = r.off(y), uint32(rows)
		return dispatch(r, kColSum, []uint32{wg, mode, at, yt}, append(args(y), in...), &pc, gx, 1, 1)
	}
	part, err := r.b.scratch(chunks * cols)
	if err != nil {
		return err
	}
	defer r.b.freeScratch(part)
	pc.Oy, pc.Rows = part.elem(), uint32(per)
	if err := dispatch(r, kColSum, []uint32{wg, mode, at, 0}, append([]slot{scratchOut(part)}, in...), &pc, gx, chunks, 1); err != nil {
		return err
	}
	p := scratchIn(part)
	return dispatch(r, kColSum, []uint32{wg, 0, 0, yt}, []slot{arg(y), p, p, p, p},
		&colsumPush{Oy: r.off(y), Oa: part.elem(), Ox: part.elem(), Om: part.elem(), Ors: part.elem(), R: uint32(chunks), C: uint32(cols), Rows: uint32(chunks)},
		gx, 1, 1)
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

func (r *rec) layernorm() error {
	rows, cols := rowsCols(r.c.Args[3])
	gx, gy := rowGrid(rows)
	return dispatch(r, kLayerNorm, []uint32{rowWG(cols), b2u(r.ms[4] != nil)}, args(0, 1, 2, 3, 4, 5),
		&layernormPush{Oy: r.off(0), Om: r.off(1), Ors: r.off(2), Ox: r.off(3), Og: r.off(4), Ob: r.off(5),
			R: uint32(rows), C: uint32(cols), Eps: f32(r.c.Attrs.Eps)}, gx, gy, 1)
}

func (r *rec) layernormBwd() error {
	rows, cols := rowsCols(r.c.Args[4])
	gx, gy := rowGrid(rows)
	if err := dispatch(r, kLayerNormBw, []uint32{rowWG(cols), b2u(r.ms[7] != nil)}, args(0, 3, 4, 5, 6, 7),
		&layernormBwdPush{Odx: r.off(0), Ody: r.off(3), Ox: r.off(4), Om: r.off(5), Ors: r.off(6), Og: r.off(7),
			R: uint32(rows), C: uint32(cols)}, gx, gy, 1); err != nil {
		return err
	}
	if r.ms[1] != nil {
		if err := r.colsums(1, 1, []int{3, 4, 5, 6}, rows, cols); err != nil {
			return err
		}
	}
	if r.ms[2] != nil {
		return r.colsums(0, 2, []int{3}, rows, cols)
	}
	return nil
}

// heads records split_heads or merge_heads, one dispatch per part.
func (r *rec) heads() error {
	merge := r.c.Op == backend.OpMergeHeads
	packed, first := len(r.ms)-1, 0 // split: parts, then packed
	if merge {
		packed, first = 0, 1
	}
	shape := r.c.Args[packed].Shape()
	g, h := len(r.ms)-1, r.c.Attrs.Heads
	bsz, t, e := shape[0], shape[1], shape[2]/(g*h)
	n := bsz * h * t * e
	for k := 0; k < g; k++ {
		part := first + k
		if err := dispatch(r, kHeads, []uint32{elemWG, b2u(merge), r.dt()}, args(packed, part),
			&headsPush{Opk: r.off(packed), Opt: r.off(part), B: uint32(bsz), T: uint32(t), G: uint32(g), Part: uint32(k), H: uint32(h), E: uint32(e)},
			r.b.groups1D(n, elemWG), 1, 1); err != nil {
			return err
		}
	}
	return nil
}

// fill and copy are transfer commands.
func (r *rec) fill() error {
	y := r.access(args(0))[0]
	if y == nil {
		return nil
	}
	vkFill(r.b.cur.cmd, y.blk, y.off, y.size, math.Float32bits(f32(r.c.Attrs.Alpha)))
	r.b.cur.cmds++
	return nil
}

func (r *rec) copy() error {
	m := r.access(args(0, 1))
	y, x := m[0], m[1]
	if x == nil || y == nil {
		return nil
	}
	r.b.cmdCopy(r.b.cur.cmd, x.blk, x.off, y.blk, y.off, y.size)
	r.b.cur.cmds++
	return nil
}
