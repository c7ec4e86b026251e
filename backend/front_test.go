package backend

import (
	"errors"
	"strings"
	"testing"
)

// memDevice is a Device that keeps tensors as bytes, runs copy and fill
// only, and records what the Front asked of it.
type memDevice struct {
	info    Info
	runs    []Op
	freed   int
	refuse  error // Supports' answer
	fault   error // Err's answer
	allocEr error
}

func newMemDevice() *memDevice {
	return &memDevice{info: Info{Backend: "mem", DTypes: []DType{F32, I32}, Ops: []Op{OpCopy, OpFill, OpGather}}}
}

func (d *memDevice) Info() Info { return d.info }
func (d *memDevice) Alloc(t *Tensor, guarded bool) (any, error) {
	if d.allocEr != nil {
		return nil, d.allocEr
	}
	return make([]byte, t.Bytes()), nil
}
func (d *memDevice) Free(s *Storage) { d.freed++ }
func (d *memDevice) Write(t *Tensor, src []byte) error {
	copy(t.Storage().Impl.([]byte), src)
	return nil
}
func (d *memDevice) Read(t *Tensor, dst []byte) error {
	copy(dst, t.Storage().Impl.([]byte))
	return nil
}
func (d *memDevice) Supports(c Call) error { return d.refuse }
func (d *memDevice) Run(c Call) error      { d.runs = append(d.runs, c.Op); return nil }
func (d *memDevice) Sync() error           { return nil }
func (d *memDevice) Err() error            { return d.fault }
func (d *memDevice) Close() error          { return nil }

// New, Reshape and Write record their errors as the sticky error, which
// Read and Sync return; New still returns a handle, which can be released.
func TestFrontErrorsAreSticky(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(f *Front)
		msg  string
	}{
		{"new", func(f *Front) { f.Release(f.New(F32, 2, -1)) }, "mem: new f32[2,-1]: shape [2,-1] has a dimension -1"},
		{"new dtype", func(f *Front) { f.New(BF16, 2) }, "mem: new bf16[2]: not supported"},
		{"reshape", func(f *Front) { f.Release(Reshape(f.New(F32, 2, 6), 5)) }, "mem: reshape of f32[2,6] to [5]: 12 elements cannot become 5"},
		{"write", func(f *Front) { WriteF32(f, f.New(F32, 3), []float32{1}) }, "mem: write to f32[3]: 4 bytes, want 12"},
		{"run", func(f *Front) { Copy(f, f.New(F32, 3), f.New(F32, 4)) }, "copy(y=f32[3] x=f32[4]): shape mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newMemDevice()
			f := NewFront(d)
			tc.do(f)
			x := f.New(F32, 1) // after the error: a handle without memory
			if x == nil || x.Storage().Impl != nil {
				t.Errorf("New after an error = %v with memory %v, want a handle without memory", x, x.Storage().Impl)
			}
			f.Release(x)
			Fill(f, x, 1)
			if len(d.runs) > 0 {
				t.Errorf("the device ran %v after the error", d.runs)
			}
			for _, err := range []error{f.Err(), f.Sync(), f.Read(x, make([]byte, 4)), f.Close()} {
				if err == nil || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error = %v, want %q", err, tc.msg)
				}
			}
		})
	}
}

// The Front, not the device, validates: a call the table refuses, a tensor
// of another backend, an index out of range and an op the device lacks never
// reach the device; each Run is validated once.
func TestFrontValidatesOnce(t *testing.T) {
	d := newMemDevice()
	f := NewFront(d)
	x := FromF32(f, []float32{1, 2, 3, 4, 5, 6}, 3, 2)
	y := f.New(F32, 2, 2)
	ix := FromI32(f, []int32{2, 0}, 2)
	Gather(f, y, x, ix)
	Copy(f, y, Reshape(x, 2, 3))
	if err := f.Err(); err == nil || !strings.Contains(err.Error(), "y has 4 elements, x has 6") {
		t.Fatalf("Err = %v", err)
	}
	if len(d.runs) != 1 || d.runs[0] != OpGather || f.Validated() != 2 {
		t.Errorf("device ran %v, %d validations; want [gather], 2", d.runs, f.Validated())
	}

	other := NewFront(newMemDevice())
	for _, tc := range []struct {
		name string
		do   func(f *Front)
		err  error
		msg  string
	}{
		{"another backend", func(f *Front) { Fill(f, other.New(F32, 1), 0) }, nil, "f32[1] is a tensor of another backend"},
		{"write another", func(f *Front) { WriteF32(f, other.New(F32, 1), []float32{1}) }, nil, "write to f32[1], a tensor of another backend"},
		{"release another", func(f *Front) { f.Release(other.New(F32, 1)) }, nil, "release of f32[1], a tensor of another backend"},
		{"index", func(f *Front) { Gather(f, f.New(F32, 1, 2), f.New(F32, 3, 2), FromI32(f, []int32{3}, 1)) }, ErrIndex, "indices span [3,3], rows are [0,3)"},
		{"unwritten index", func(f *Front) { Gather(f, f.New(F32, 1, 2), f.New(F32, 3, 2), f.New(I32, 1)) }, ErrIndex, "never written"},
		{"op", func(f *Front) { Scale(f, f.New(F32, 1), f.New(F32, 1), 2) }, ErrUnsupported, "scale(y=f32[1] x=f32[1]): not supported by this backend (mem)"},
		{"closed", func(f *Front) { f.Close(); Fill(f, f.New(F32, 1), 0) }, ErrClosed, "mem: new f32[1]: backend is closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newMemDevice()
			f := NewFront(d)
			tc.do(f)
			err := f.Err()
			if err == nil || !strings.Contains(err.Error(), tc.msg) || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("Err = %v, want %q", err, tc.msg)
			}
			if len(d.runs) > 0 {
				t.Errorf("the device ran %v", d.runs)
			}
		})
	}
}

// Supports asks the device without queuing anything and without a sticky
// error; Run then refuses the same call before the device sees it.
func TestFrontSupports(t *testing.T) {
	d := newMemDevice()
	f := NewFront(d)
	call := Call{Op: OpCopy, Args: []*Tensor{Placeholder(F32, 70000), Placeholder(F32, 70000)}}
	if err := f.Supports(call); err != nil {
		t.Fatalf("Supports = %v", err)
	}
	d.refuse = errors.Join(ErrUnsupported, errors.New("a loop too long for this driver"))
	if err := f.Supports(call); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "a loop too long") {
		t.Fatalf("Supports = %v, want the device's refusal", err)
	}
	if err := f.Supports(Call{Op: OpScale, Args: call.Args}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Supports(scale) = %v, want unsupported", err)
	}
	if f.Err() != nil {
		t.Fatalf("a query left the sticky error %v", f.Err())
	}
	Copy(f, f.New(F32, 7), f.New(F32, 7))
	if err := f.Err(); !errors.Is(err, ErrUnsupported) || len(d.runs) > 0 {
		t.Fatalf("Run of a refused call: Err = %v, device ran %v", err, d.runs)
	}
}

// A fault the device finds on its own becomes the sticky error; Release
// frees memory once per storage, also after Close.
func TestFrontFaultAndRelease(t *testing.T) {
	d := newMemDevice()
	f := NewFront(d)
	x := f.New(F32, 4)
	v := Reshape(x, 2, 2)
	f.Release(x)
	f.Release(x)
	if d.freed != 0 {
		t.Fatalf("freed %d storages while a view lives", d.freed)
	}
	d.fault = errors.New("mem: device lost")
	Fill(f, v, 1)
	if err := f.Sync(); err != d.fault || len(d.runs) > 0 {
		t.Fatalf("Sync = %v (runs %v), want the device's fault", err, d.runs)
	}
	f.Close()
	f.Release(v)
	if d.freed != 1 {
		t.Errorf("freed %d storages, want 1", d.freed)
	}
	if err := f.Read(v, make([]byte, 16)); err != d.fault {
		t.Errorf("Read after Close = %v", err)
	}
}
