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
// were range-checked on the host by backend.Check.
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
func (b *device) scatterAdd(c backend.Call, y, x, ix *mem) error {
	S := c.Args[0].Shape()[0]
	cols := c.Args[0].NumElements() / S
	if len(ix.host) != c.Args[2].NumElements() {
		return fmt.Errorf("%w: the index tensor was never written from the host", backend.ErrIndex)
	}
	p, err := b.plan(ix, S)
	if err != nil {
		return err
	}
	if p.nact == 0 {
		return nil
	}
	const wg = 64
	pc := func(oy, ox uint32, n int) []uint32 {
		return []uint32{oy, ox, p.ints.elem(), p.oseg, p.orows, p.odest, p.odseg, uint32(n), uint32(cols)}
	}
	if p.nseg == p.nact {
		return b.run("scatter_add", []uint32{wg, 2}, []*mem{y, x, p.ints}, []*mem{y}, []*mem{y, x, p.ints},
			pc(y.elem(), x.elem(), p.nact), b.groups1D(p.nact*cols, wg), 1, 1)
	}
	part, err := b.scratch(p.nseg * cols)
	if err != nil {
		return err
	}
	defer b.freeScratch(part)
	if err := b.run("scatter_add", []uint32{wg, 0}, []*mem{x, p.ints}, []*mem{part}, []*mem{part, x, p.ints},
		pc(part.elem(), x.elem(), p.nseg), b.groups1D(p.nseg*cols, wg), 1, 1); err != nil {
		return err
	}
	return b.run("scatter_add", []uint32{wg, 1}, []*mem{y, part, p.ints}, []*mem{y}, []*mem{y, part, p.ints},
		pc(y.elem(), part.elem(), p.nact), b.groups1D(p.nact*cols, wg), 1, 1)
}
