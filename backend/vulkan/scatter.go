//go:build linux && cgo

package vulkan

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
)

// segRows is the longest segment of scatter_add: the rows one invocation
// sums (see scatter_add.comp).
const segRows = 16384

// csr is the plan of scatter_add for one index tensor and one destination
// row count S: the source rows grouped by destination, cut into segments,
// on the device as one int array (layout in scatter_add.comp).
type csr struct {
	S          int
	ints       *mem
	nseg, nact int
	oseg       uint32 // element offsets of the arrays within ints
	orows      uint32
	odest      uint32
	odseg      uint32
}

// plan returns the scatter plan of the index tensor m for S destination
// rows, building and uploading it when the indices or S changed. Indices
// were range-checked on the host by the Front.
func (b *device) plan(m *mem, S int) (*csr, error) {
	if m.csr != nil && m.csr.S == S {
		return m.csr, nil
	}
	b.dropPlan(m)
	idx := m.host
	count := make([]int32, S+1)
	for _, s := range idx {
		count[s+1]++
	}
	for s := 1; s <= S; s++ {
		count[s] += count[s-1]
	}
	// rows grouped by destination, ascending within one.
	rows := make([]int32, len(idx))
	next := append([]int32(nil), count[:S]...)
	for r, s := range idx {
		rows[next[s]] = int32(r)
		next[s]++
	}
	var seg, dest, dseg []int32
	for s := 0; s < S; s++ {
		lo, hi := count[s], count[s+1]
		if lo == hi {
			continue
		}
		dest = append(dest, int32(s))
		dseg = append(dseg, int32(len(seg)))
		for k := lo; k < hi; k += segRows {
			seg = append(seg, k)
		}
	}
	seg = append(seg, int32(len(idx)))
	dseg = append(dseg, int32(len(seg)-1))
	p := &csr{S: S, nseg: len(seg) - 1, nact: len(dest)}
	// One array: seg, rows, dest, dseg.
	ints := make([]int32, 0, len(seg)+len(rows)+len(dest)+len(dseg))
	p.oseg = 0
	ints = append(ints, seg...)
	p.orows = uint32(len(ints))
	ints = append(ints, rows...)
	p.odest = uint32(len(ints))
	ints = append(ints, dest...)
	p.odseg = uint32(len(ints))
	ints = append(ints, dseg...)
	dm, err := b.scratch(len(ints))
	if err != nil {
		return nil, err
	}
	if err := b.upload(dm, dm.off, backend.I32Bytes(ints)); err != nil {
		b.freeScratch(dm)
		return nil, err
	}
	p.ints = dm
	m.csr = p
	return p, nil
}

// dropPlan frees an index tensor's scatter plan.
func (b *device) dropPlan(m *mem) {
	if m.csr != nil {
		b.freeScratch(m.csr.ints)
		m.csr = nil
	}
}

// scatterAdd records y[idx[r],:] += x[r,:].
func (r *rec) scatterAdd() error {
	S := r.c.Args[0].Shape()[0]
	cols := r.c.Args[0].NumElements() / S
	ix := r.ms[2]
	if len(ix.host) != r.c.Args[2].NumElements() {
		return fmt.Errorf("%w: the index tensor was never written from the host", backend.ErrIndex)
	}
	p, err := r.b.plan(ix, S)
	if err != nil {
		return err
	}
	if r.b.cur == nil {
		// Uploading a new plan ended the batch this call was being
		// recorded into (upload's endOp submits a full one): record the
		// dispatches into a new batch, which names the call.
		if err := r.b.begin(); err != nil {
			return err
		}
		r.b.cur.ops = append(r.b.cur.ops, r.c)
	}
	if p.nact == 0 {
		return nil
	}
	const wg = 64
	plan := scratchIn(p.ints)
	pc := func(oy, ox uint32, n int) *scatterAddPush {
		return &scatterAddPush{Oy: oy, Ox: ox, Oi: p.ints.elem(), Oseg: p.oseg, Orows: p.orows, Odest: p.odest, Odseg: p.odseg, N: uint32(n), C: uint32(cols)}
	}
	if p.nseg == p.nact {
		return dispatch(r, kScatterAdd, []uint32{wg, 2}, []slot{arg(0), arg(1), plan},
			pc(r.off(0), r.off(1), p.nact), r.b.groups1D(p.nact*cols, wg), 1, 1)
	}
	part, err := r.b.scratch(p.nseg * cols)
	if err != nil {
		return err
	}
	defer r.b.freeScratch(part)
	if err := dispatch(r, kScatterAdd, []uint32{wg, 0}, []slot{scratchOut(part), arg(1), plan},
		pc(part.elem(), r.off(1), p.nseg), r.b.groups1D(p.nseg*cols, wg), 1, 1); err != nil {
		return err
	}
	return dispatch(r, kScatterAdd, []uint32{wg, 1}, []slot{arg(0), scratchIn(part), plan},
		pc(r.off(0), part.elem(), p.nact), r.b.groups1D(p.nact*cols, wg), 1, 1)
}
