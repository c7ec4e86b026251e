// Package stress is the conformance suite's hazard fuzzer (ijepa
// conformance --mode stress): random programs of ops over a pool of
// tensors — reshaped views sharing storage, ops writing in place, tensors
// released and reallocated, host writes and reads in between — submitted to
// the backend under test asynchronously, as the trainer submits (nothing
// waits but the program's reads), and checked against the same program run
// op by op on the reference (a Sync after every instruction). A program is
// a function of its seed alone; a failing one is shrunk to a minimal
// failing program and printed with the command that replays it.
//
// The op-level cases cannot see ordering faults: each runs one op on fresh
// tensors and reads the result at once. A backend that misses a barrier,
// reorders dependent work, or hands out memory that queued work still
// uses computes every case right and these programs wrong.
package stress

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

// kind is what an instruction does.
type kind uint8

const (
	kNew     kind = iota + 1 // allocate handle Dst of DType and Shape
	kView                    // Dst = Reshape(Src, Shape)
	kWrite                   // write F or I into Src
	kRead                    // read Src (an observation compared with the reference)
	kRun                     // run Call over Args
	kRelease                 // release Src
	kSync                    // wait for queued work
)

// Instr is one instruction of a program. Handles are numbered in the order
// the program makes them, never reused.
type Instr struct {
	kind  kind
	dst   int // kNew, kView
	src   int // kView, kWrite, kRead, kRelease
	dtype backend.DType
	shape backend.Shape
	f     []float32 // kWrite of an F32 handle
	i     []int32   // kWrite of an I32 handle
	op    backend.Op
	args  []int // kRun: handles, -1 for an absent optional argument
	attrs backend.Attrs
}

// Program is a sequence of instructions drawn from a seed.
type Program struct {
	Seed   uint64
	Instrs []Instr
}

// String prints the program one instruction a line, numbered.
func (p Program) String() string {
	var b strings.Builder
	for k, in := range p.Instrs {
		fmt.Fprintf(&b, "%3d  %s\n", k, in)
	}
	return b.String()
}

// String prints an instruction as "t3 = new f32[4,6]".
func (in Instr) String() string {
	switch in.kind {
	case kNew:
		return fmt.Sprintf("t%d = new %v%v", in.dst, in.dtype, in.shape)
	case kView:
		return fmt.Sprintf("t%d = reshape t%d %v", in.dst, in.src, in.shape)
	case kWrite:
		if in.i != nil {
			return fmt.Sprintf("write t%d %v", in.src, in.i)
		}
		return fmt.Sprintf("write t%d (%d values)", in.src, len(in.f))
	case kRead:
		return fmt.Sprintf("read t%d", in.src)
	case kRelease:
		return fmt.Sprintf("release t%d", in.src)
	case kSync:
		return "sync"
	}
	specs := in.op.Expand(len(in.args))
	parts := make([]string, 0, len(in.args))
	for k, a := range in.args {
		if a >= 0 {
			parts = append(parts, fmt.Sprintf("%s=t%d", specs[k].Name, a))
		}
	}
	s := in.op.String() + "(" + strings.Join(parts, " ")
	if at := backend.FormatAttrs(in.op, in.attrs); at != "" {
		s += "; " + at
	}
	return s + ")"
}

// Ops are the ops programs draw from: every pattern of access — pure
// writes (fill, copy), ops in place (add, mul, scale, gelu), accumulators
// (axpy, ema, matmul with Beta 1, scatter_add), several outputs
// (split_heads), reductions, index arguments. Ops whose result is
// ill-conditioned on inputs a program can make (layer norm of a constant
// row) or undefined on them (AdamW of a negative second moment) are left
// out.
var Ops = []backend.Op{
	backend.OpMatMul, backend.OpAdd, backend.OpMul, backend.OpScale, backend.OpAxpy, backend.OpColSum,
	backend.OpSoftmax, backend.OpGELU, backend.OpGather, backend.OpScatterAdd, backend.OpSplitHeads,
	backend.OpMergeHeads, backend.OpSum, backend.OpSumSq, backend.OpEMA, backend.OpFill, backend.OpCopy,
}

// storage is the generator's record of one storage.
type storage struct {
	n       int
	dtype   backend.DType
	defined bool  // every element written
	idxMax  int32 // I32: the largest index written
	handles int   // live handles
}

// handle is the generator's record of one live handle.
type handle struct {
	id    int
	st    *storage
	shape backend.Shape
}

// gen draws a program.
type gen struct {
	r       *rand.Rand
	ops     []backend.Op
	prog    []Instr
	live    []*handle
	next    int
	maxLive int
	// busy are the handles the instruction being drawn uses: a full pool
	// releases none of them.
	busy []*handle
}

// dims are the sizes shapes are drawn from: small, so that one storage's
// size often fits another op's shape and views sharing storage are common.
var dims = []int{1, 2, 3, 4, 6, 8}

func (g *gen) dim() int { return dims[g.r.IntN(len(dims))] }

// Generate draws a program of about length instructions from seed over
// ops, then reads every defined live handle and releases every handle.
func Generate(seed uint64, length int, ops []backend.Op) Program {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x57e55)), ops: ops, maxLive: 12}
	for len(g.prog) < length {
		switch x := g.r.IntN(100); {
		case x < 50 && len(ops) > 0:
			g.run()
		case x < 60:
			g.write()
		case x < 68:
			g.read()
		case x < 78:
			g.view()
		case x < 92:
			g.release()
		case x < 97:
			g.newWritten(backend.F32, g.shape())
		default:
			g.prog = append(g.prog, Instr{kind: kSync})
		}
	}
	for _, h := range slices.Clone(g.live) {
		if h.st.defined && h.st.dtype == backend.F32 {
			g.prog = append(g.prog, Instr{kind: kRead, src: h.id})
		}
	}
	for _, h := range slices.Clone(g.live) {
		g.releaseHandle(h)
	}
	return Program{Seed: seed, Instrs: g.prog}
}

// shape draws a shape of one to three dims.
func (g *gen) shape() backend.Shape {
	s := backend.Shape{g.dim()}
	for k := g.r.IntN(3); k > 0; k-- {
		s = append(s, g.dim())
	}
	return s
}

func (g *gen) newHandle(st *storage, shape backend.Shape) *handle {
	h := &handle{id: g.next, st: st, shape: shape.Clone()}
	g.next++
	st.handles++
	g.live = append(g.live, h)
	return h
}

// alloc allocates a handle (releasing one first when the pool is full).
func (g *gen) alloc(dt backend.DType, shape backend.Shape) *handle {
	if len(g.live) >= g.maxLive {
		if old := g.pick(func(h *handle) bool { return !slices.Contains(g.busy, h) }); old != nil {
			g.releaseHandle(old)
		}
	}
	h := g.newHandle(&storage{n: shape.NumElements(), dtype: dt}, shape)
	g.prog = append(g.prog, Instr{kind: kNew, dst: h.id, dtype: dt, shape: shape.Clone()})
	return h
}

// newWritten allocates a handle and writes random values into it.
func (g *gen) newWritten(dt backend.DType, shape backend.Shape) *handle {
	h := g.alloc(dt, shape)
	g.writeHandle(h)
	return h
}

func (g *gen) values(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*g.r.Float64() - 1)
	}
	return v
}

func (g *gen) writeHandle(h *handle) {
	g.prog = append(g.prog, Instr{kind: kWrite, src: h.id, f: g.values(h.st.n)})
	h.st.defined = true
}

// write writes a live F32 handle, defined or not (a host write after
// queued reads of the old values).
func (g *gen) write() {
	if h := g.pick(func(h *handle) bool { return h.st.dtype == backend.F32 }); h != nil {
		g.writeHandle(h)
	}
}

func (g *gen) read() {
	if h := g.pick(func(h *handle) bool { return h.st.defined && h.st.dtype == backend.F32 }); h != nil {
		g.prog = append(g.prog, Instr{kind: kRead, src: h.id})
	}
}

// view reshapes a live handle into another shape of its size.
func (g *gen) view() {
	h := g.pick(func(h *handle) bool { return h.st.dtype == backend.F32 })
	if h == nil || len(g.live) >= g.maxLive {
		return
	}
	s := g.factor(h.st.n)
	v := g.newHandle(h.st, s)
	g.prog = append(g.prog, Instr{kind: kView, dst: v.id, src: h.id, shape: s})
}

// factor draws a shape of n elements.
func (g *gen) factor(n int) backend.Shape {
	var s backend.Shape
	for k := 0; k < 2; k++ {
		var divs []int
		for _, d := range dims[1:] {
			if n%d == 0 && n/d > 1 {
				divs = append(divs, d)
			}
		}
		if len(divs) == 0 || g.r.IntN(3) == 0 {
			break
		}
		d := divs[g.r.IntN(len(divs))]
		s, n = append(s, d), n/d
	}
	return append(s, n)
}

func (g *gen) release() {
	if len(g.live) > 0 {
		g.releaseHandle(g.live[g.r.IntN(len(g.live))])
	}
}

func (g *gen) releaseHandle(h *handle) {
	g.prog = append(g.prog, Instr{kind: kRelease, src: h.id})
	h.st.handles--
	g.live = slices.DeleteFunc(g.live, func(x *handle) bool { return x == h })
}

// pick returns a random live handle that ok accepts, or nil.
func (g *gen) pick(ok func(*handle) bool) *handle {
	var c []*handle
	for _, h := range g.live {
		if ok(h) {
			c = append(c, h)
		}
	}
	if len(c) == 0 {
		return nil
	}
	return c[g.r.IntN(len(c))]
}

// input returns a defined F32 handle of shape s: a live handle of that
// shape, a view of a defined storage of its size, or a new written one.
func (g *gen) input(s backend.Shape, avoid []*storage) *handle {
	h := g.input1(s, avoid)
	g.busy = append(g.busy, h)
	return h
}

func (g *gen) input1(s backend.Shape, avoid []*storage) *handle {
	ok := func(h *handle) bool {
		return h.st.defined && h.st.dtype == backend.F32 && h.st.n == s.NumElements() && !slices.Contains(avoid, h.st)
	}
	switch g.r.IntN(3) {
	case 0:
		if h := g.pick(func(h *handle) bool { return ok(h) && h.shape.Equal(s) }); h != nil {
			return h
		}
	case 1:
		if h := g.pick(ok); h != nil && len(g.live) < g.maxLive {
			if h.shape.Equal(s) {
				return h
			}
			v := g.newHandle(h.st, s)
			g.prog = append(g.prog, Instr{kind: kView, dst: v.id, src: h.id, shape: s.Clone()})
			return v
		}
	}
	return g.newWritten(backend.F32, s)
}

// output returns an F32 handle of shape s whose storage is none of avoid:
// a live one (defined or not, when defined is false), a view of one, or a
// new one.
func (g *gen) output(s backend.Shape, avoid []*storage, defined bool) *handle {
	h := g.output1(s, avoid, defined)
	g.busy = append(g.busy, h)
	return h
}

func (g *gen) output1(s backend.Shape, avoid []*storage, defined bool) *handle {
	ok := func(h *handle) bool {
		return h.st.dtype == backend.F32 && h.st.n == s.NumElements() && !slices.Contains(avoid, h.st) && (h.st.defined || !defined)
	}
	if g.r.IntN(2) == 0 {
		if h := g.pick(ok); h != nil {
			if h.shape.Equal(s) {
				return h
			}
			if len(g.live) < g.maxLive {
				v := g.newHandle(h.st, s)
				g.prog = append(g.prog, Instr{kind: kView, dst: v.id, src: h.id, shape: s.Clone()})
				return v
			}
		}
	}
	if defined {
		return g.newWritten(backend.F32, s)
	}
	return g.alloc(backend.F32, s)
}

// indices returns an I32 handle of n indices below rows: a live one, or a
// new written one.
func (g *gen) indices(n, rows int) *handle {
	h := g.indices1(n, rows)
	g.busy = append(g.busy, h)
	return h
}

func (g *gen) indices1(n, rows int) *handle {
	if h := g.pick(func(h *handle) bool {
		return h.st.dtype == backend.I32 && h.st.n == n && h.st.idxMax < int32(rows) && len(h.shape) == 1
	}); h != nil && g.r.IntN(2) == 0 {
		return h
	}
	h := g.alloc(backend.I32, backend.Shape{n})
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(g.r.IntN(rows))
		h.st.idxMax = max(h.st.idxMax, v[i])
	}
	g.prog = append(g.prog, Instr{kind: kWrite, src: h.id, i: v})
	h.st.defined = true
	return h
}

// run appends one op over handles of the pool.
func (g *gen) run() {
	op := g.ops[g.r.IntN(len(g.ops))]
	in := Instr{kind: kRun, op: op}
	g.busy = g.busy[:0]
	var used []*storage
	arg := func(h *handle) {
		in.args = append(in.args, h.id)
		used = append(used, h.st)
	}
	inp := func(s backend.Shape) { arg(g.input(s, nil)) }
	// out places an output: in place of the input x, or in a storage no
	// argument uses.
	out := func(s backend.Shape, x *handle) *handle {
		if g.r.IntN(3) == 0 {
			return x
		}
		return g.output(s, []*storage{x.st}, false)
	}
	switch op {
	case backend.OpMatMul:
		m, k, n := g.dim(), g.dim(), g.dim()
		ta, tb := g.r.IntN(2) == 0, g.r.IntN(2) == 0
		as, bs := backend.Shape{m, k}, backend.Shape{k, n}
		if ta {
			as = backend.Shape{k, m}
		}
		if tb {
			bs = backend.Shape{n, k}
		}
		beta := float64(g.r.IntN(2))
		a, b := g.input(as, nil), g.input(bs, nil)
		c := g.output(backend.Shape{m, n}, []*storage{a.st, b.st}, beta != 0)
		in.args = []int{c.id, a.id, b.id}
		in.attrs = backend.Attrs{TransA: ta, TransB: tb, Alpha: 1 / float64(k), Beta: beta}
		c.st.defined = true
	case backend.OpAdd, backend.OpMul:
		s := g.shape()
		bs := s[g.r.IntN(len(s)):]
		a, b := g.input(s, nil), g.input(bs, nil)
		var y *handle
		switch {
		case g.r.IntN(3) == 0 && (b.st != a.st || bs.Equal(s)):
			y = a // in place
		case g.r.IntN(3) == 0 && bs.Equal(s) && b.st != a.st:
			y = b
		default:
			y = g.output(s, []*storage{a.st, b.st}, false)
		}
		in.args = []int{y.id, a.id, b.id}
		y.st.defined = true
	case backend.OpScale, backend.OpGELU, backend.OpSoftmax:
		s := g.shape()
		x := g.input(s, nil)
		var y *handle
		if op == backend.OpSoftmax {
			y = g.output(s, []*storage{x.st}, false)
		} else {
			y = out(s, x)
		}
		in.args = []int{y.id, x.id}
		switch op {
		case backend.OpScale:
			in.attrs.Alpha = []float64{0.5, -0.75, 1.25}[g.r.IntN(3)]
		case backend.OpSoftmax:
			in.attrs.Alpha = 1
		}
		y.st.defined = true
	case backend.OpAxpy, backend.OpEMA:
		s := g.shape()
		x := g.input(s, nil)
		y := g.output(s, []*storage{x.st}, true)
		in.args = []int{y.id, x.id}
		if op == backend.OpAxpy {
			in.attrs.Alpha = -0.5
		} else {
			in.attrs.Momentum = 0.9
		}
	case backend.OpColSum:
		r, c := g.dim(), g.dim()
		x := g.input(backend.Shape{r, c}, nil)
		y := g.output(backend.Shape{c}, []*storage{x.st}, false)
		in.args = []int{y.id, x.id}
		y.st.defined = true
	case backend.OpSum, backend.OpSumSq:
		x := g.input(g.shape(), nil)
		y := g.output(backend.Shape{1}, []*storage{x.st}, false)
		in.args = []int{y.id, x.id}
		y.st.defined = true
	case backend.OpFill:
		y := g.output(g.shape(), nil, false)
		in.args = []int{y.id}
		in.attrs.Alpha = []float64{0, 1, -0.5}[g.r.IntN(3)]
		y.st.defined = true
	case backend.OpCopy:
		s := g.shape()
		x := g.input(s, nil)
		y := g.output(g.factor(s.NumElements()), []*storage{x.st}, false)
		in.args = []int{y.id, x.id}
		y.st.defined = true
	case backend.OpGather:
		rows, c, n := g.dim()+1, g.dim(), g.dim()
		x := g.input(backend.Shape{rows, c}, nil)
		idx := g.indices(n, rows)
		y := g.output(backend.Shape{n, c}, []*storage{x.st, idx.st}, false)
		in.args = []int{y.id, x.id, idx.id}
		y.st.defined = true
	case backend.OpScatterAdd:
		rows, c, n := g.dim()+1, g.dim(), g.dim()
		x := g.input(backend.Shape{n, c}, nil)
		idx := g.indices(n, rows)
		y := g.output(backend.Shape{rows, c}, []*storage{x.st, idx.st}, true)
		in.args = []int{y.id, x.id, idx.id}
	case backend.OpSplitHeads, backend.OpMergeHeads:
		b, t, gr, h, e := 1+g.r.IntN(2), g.dim(), 1+g.r.IntN(2), 1+g.r.IntN(2), g.dim()
		packed, part := backend.Shape{b, t, gr * h * e}, backend.Shape{b, h, t, e}
		in.attrs.Heads = h
		if op == backend.OpSplitHeads {
			x := g.input(packed, nil)
			used = []*storage{x.st}
			for k := 0; k < gr; k++ {
				o := g.output(part, used, false)
				arg(o)
				o.st.defined = true
			}
			in.args = append(in.args, x.id)
		} else {
			for k := 0; k < gr; k++ {
				inp(part)
			}
			y := g.output(packed, used, false)
			in.args = append([]int{y.id}, in.args...)
			y.st.defined = true
		}
	}
	g.prog = append(g.prog, in)
}
