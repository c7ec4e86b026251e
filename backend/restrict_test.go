package backend

import (
	"errors"
	"strings"
	"testing"
)

// Restrict keeps some of a device's ops: Info lists only them under a
// suffixed name, the device refuses the others in Supports too (what a
// composite backend asks), and ops the device lacks cannot be kept.
func TestRestrict(t *testing.T) {
	b, err := Restrict(NewFront(newMemDevice()), []Op{OpGather, OpCopy})
	if err != nil {
		t.Fatal(err)
	}
	f := b.(*Front)
	if i := f.Info(); i.Backend != "mem?ops=gather+copy" || len(i.Ops) != 2 {
		t.Errorf("Info = %q with ops %v", i.Backend, i.Ops)
	}
	fill := Call{Op: OpFill, Args: []*Tensor{Placeholder(F32, 2)}}
	if err := f.Device().Supports(fill); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "mem?ops=gather+copy leaves fill out") {
		t.Errorf("the device's Supports(fill) = %v", err)
	}
	x, y := f.New(F32, 2), f.New(F32, 2)
	Copy(f, x, y)
	Fill(f, x, 1)
	d := f.Device().(*restricted).Device.(*memDevice)
	if err := f.Sync(); !errors.Is(err, ErrUnsupported) || len(d.runs) != 1 || d.runs[0] != OpCopy {
		t.Errorf("Sync = %v, the device ran %v; want copy run, fill refused", err, d.runs)
	}
	for _, ops := range [][]Op{{OpScale}, nil} {
		if _, err := Restrict(NewFront(newMemDevice()), ops); err == nil {
			t.Errorf("Restrict(%v) succeeded", ops)
		}
	}
}
