//go:build linux && cgo

package vulkan

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/internal/testdep"
	vk "github.com/vulkan-go/vulkan"
)

// open returns a Vulkan backend, or skips the test where there is no Vulkan
// loader or device (the test command installs lavapipe and fails instead).
func openTest(t *testing.T) (*backend.Front, *device) {
	t.Helper()
	b, err := Open("")
	if err != nil {
		testdep.Skip(t, "no Vulkan device, so the Vulkan backend is not tested: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, b.Device().(*device)
}

func randF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func fromF32(t *testing.T, b backend.Backend, v []float32, shape ...int) *backend.Tensor {
	t.Helper()
	x := backend.FromF32(b, v, shape...)
	return x
}

func readF32(t *testing.T, b backend.Backend, x *backend.Tensor) []float32 {
	t.Helper()
	v, err := backend.ReadF32(b, x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The whole conformance suite passes on the device, against the CPU
// reference, guard regions and finite differences included.
func TestConformance(t *testing.T) {
	b, d := openTest(t)
	rep := conformance.Run(b, conformance.Options{
		Seed:      20261128,
		Reference: cpu.New(),
		Reopen:    func() (backend.Backend, error) { return Open("") },
	})
	var buf strings.Builder
	rep.Write(&buf, -1)
	if rep.Failed() {
		t.Fatalf("the Vulkan backend on %s fails conformance:\n%s", d.phys.name, buf.String())
	}
	for _, o := range rep.Ops {
		if o.Cases == 0 || o.Unsupp > 0 {
			t.Errorf("%v: %d cases, %d unsupported", o.Op, o.Cases, o.Unsupp)
		}
	}
	t.Logf("%s\n%s", d.phys.name, buf.String())
}

// GELU is accurate to a few float32 ulps against math.Erfc in float64 over
// (-12, 12), far tighter than the conformance bound: relative error for
// gelu, and for the gradient, error relative to the size of its two terms
// Phi(x) and x*phi(x), which cancel near x = -0.75.
func TestGELUAccuracy(t *testing.T) {
	b, _ := openTest(t)
	const n = 48001
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-12 + 24*float64(i)/(n-1))
	}
	tx := fromF32(t, b, x, n)
	y := b.New(backend.F32, n)
	dx := b.New(backend.F32, n)
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	dy := fromF32(t, b, ones, n)
	backend.GELU(b, y, tx)
	backend.GELUBwd(b, dx, dy, tx)
	gy, gdx := readF32(t, b, y), readF32(t, b, dx)
	var worstY, worstD float64
	var atY, atD float64
	for i, v := range x {
		xv := float64(v)
		phi := 0.5 * math.Erfc(-xv/math.Sqrt2)
		pdf := math.Exp(-xv*xv/2) / math.Sqrt(2*math.Pi)
		if want := xv * phi; math.Abs(xv) < 12 && want != 0 {
			if e := math.Abs(float64(gy[i])-want) / math.Abs(want); e > worstY {
				worstY, atY = e, xv
			}
		}
		if e := math.Abs(float64(gdx[i])-(phi+xv*pdf)) / (phi + math.Abs(xv*pdf)); math.Abs(xv) < 12 && e > worstD {
			worstD, atD = e, xv
		}
	}
	t.Logf("worst relative error: gelu %.2e at %g, gelu_bwd %.2e at %g", worstY, atY, worstD, atD)
	if worstY > 1e-6 {
		t.Errorf("gelu: worst relative error %.2e at x = %g, want below 1e-6", worstY, atY)
	}
	if worstD > 1e-6 {
		t.Errorf("gelu_bwd: worst error %.2e at x = %g, want below 1e-6", worstD, atD)
	}
}

// Ops are recorded, not submitted one by one; a chain of dependent ops gets
// a barrier between each pair, independent ops none.
func TestBatchingAndBarriers(t *testing.T) {
	b, d := openTest(t)
	if d.syncEach {
		t.Skip("IJEPA_VULKAN_SYNC=1 submits every op")
	}
	const n = 1000
	x := fromF32(t, b, make([]float32, n), n)
	one := make([]float32, n)
	for i := range one {
		one[i] = 1
	}
	inc := fromF32(t, b, one, n)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	// A chain: x += inc, 100 times, each reading the previous result.
	submits, barriers := d.submits, d.barriers
	const chain = 100
	for i := 0; i < chain; i++ {
		backend.Axpy(b, x, inc, 1)
	}
	if got := d.submits - submits; got != 0 {
		t.Errorf("%d submits while recording %d ops, want 0 before a sync", got, chain)
	}
	if got := d.barriers - barriers; got < chain-1 {
		t.Errorf("%d barriers for a chain of %d dependent ops, want at least %d", got, chain, chain-1)
	}
	for i, v := range readF32(t, b, x) {
		if v != chain {
			t.Fatalf("x[%d] = %g after %d increments", i, v, chain)
		}
	}
	// Independent ops: scale into 20 separate outputs from one input.
	outs := make([]*backend.Tensor, 20)
	for i := range outs {
		outs[i] = b.New(backend.F32, n)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	barriers = d.barriers
	for i, o := range outs {
		backend.Scale(b, o, inc, float64(i))
	}
	if got := d.barriers - barriers; got > 1 {
		t.Errorf("%d barriers between 20 independent ops, want at most 1", got)
	}
	for i, o := range outs {
		if v := readF32(t, b, o); v[n-1] != float32(i) {
			t.Fatalf("out %d = %g, want %d", i, v[n-1], i)
		}
	}
	// A long stream is submitted in batches, not once per op.
	submits = d.submits
	for i := 0; i < 3*batchCmds; i++ {
		backend.Axpy(b, x, inc, 1)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := d.submits - submits; got < 3 || got > 5 {
		t.Errorf("%d submits for %d ops, want about %d", got, 3*batchCmds, 3)
	}
}

// Writes into a tensor that queued work still reads are ordered after that
// work (staged), and memory released and reused inside one command buffer
// is not overwritten before its last reader ran.
func TestWriteAndReuseOrder(t *testing.T) {
	b, _ := openTest(t)
	const n = 4096
	v := func(c float32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = c
		}
		return s
	}
	x := fromF32(t, b, v(1), n)
	y := b.New(backend.F32, n)
	z := b.New(backend.F32, n)
	backend.Scale(b, y, x, 2)
	backend.WriteF32(b, x, v(5)) // x is in use by the queued scale
	backend.Scale(b, z, x, 3)
	if got := readF32(t, b, y)[n-1]; got != 2 {
		t.Errorf("y = %g, want 2 (the write to x overtook the op before it)", got)
	}
	if got := readF32(t, b, z)[n-1]; got != 15 {
		t.Errorf("z = %g, want 15", got)
	}

	// Reuse: a temporary's memory goes to a new tensor while the op that
	// reads the temporary is still queued in the same command buffer.
	for round := 0; round < 20; round++ {
		tmp := b.New(backend.F32, n)
		backend.Fill(b, tmp, float64(round))
		out := b.New(backend.F32, n)
		backend.Scale(b, out, tmp, 1)
		b.Release(tmp)
		next := b.New(backend.F32, n) // likely tmp's memory
		backend.Fill(b, next, -1)
		if got := readF32(t, b, out)[0]; got != float32(round) {
			t.Fatalf("round %d: out = %g, want %d (reused memory overwritten too early)", round, got, round)
		}
		b.Release(out)
		b.Release(next)
	}
}

// scatter_add over more rows per destination than one segment takes the
// two-pass path and still matches the sequential definition.
func TestScatterAddSegments(t *testing.T) {
	b, _ := openTest(t)
	c := cpu.New()
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name      string
		rows, dst int
		cols      int
	}{{"one hot row", 3*segRows + 5, 1, 3}, {"few rows", 40000, 3, 2}, {"many rows", 5000, 4000, 7}} {
		t.Run(tc.name, func(t *testing.T) {
			x := randF32(r, tc.rows*tc.cols)
			y := randF32(r, tc.dst*tc.cols)
			idx := make([]int32, tc.rows)
			for i := range idx {
				idx[i] = int32(r.IntN(tc.dst))
			}
			var got [2][]float32
			for k, be := range []backend.Backend{b, c} {
				ty := fromF32(t, be, y, tc.dst, tc.cols)
				tx := fromF32(t, be, x, tc.rows, tc.cols)
				ti := backend.FromI32(be, idx, tc.rows)
				backend.ScatterAdd(be, ty, tx, ti)
				got[k] = readF32(t, be, ty)
			}
			if e, msg := conformance.Compare(got[0], got[1]); msg != "" || e > 1e-10 {
				t.Errorf("NMSE %g against the CPU %s", e, msg)
			}
		})
	}
}

// A scatter_add whose plan upload ends the batch the call is being recorded
// into (staged through host memory, here with every op ending its batch)
// records its dispatches into a new batch. Before, it recorded them into
// none (a nil dereference), which a bf16 step on lavapipe reached once its
// batch filled up at that upload.
func TestScatterAddPlanEndsBatch(t *testing.T) {
	b, d := openTest(t)
	d.devArena.mapped = false
	d.syncEach = true
	x := []float32{1, 2, 3, 4, 5, 6}
	ty := fromF32(t, b, []float32{10, 20, 30, 40}, 2, 2)
	backend.ScatterAdd(b, ty, fromF32(t, b, x, 3, 2), backend.FromI32(b, []int32{1, 0, 1}, 3))
	got := readF32(t, b, ty)
	if want := []float32{13, 24, 36, 48}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Errors are sticky and name the op: a shape error on the host, an
// allocation failing while recording, and a lost device.
func TestStickyErrors(t *testing.T) {
	t.Run("shape", func(t *testing.T) {
		b, _ := openTest(t)
		a := b.New(backend.F32, 2, 3)
		x := b.New(backend.F32, 4, 5)
		c := b.New(backend.F32, 2, 5)
		backend.MatMul(b, c, a, x, false, false, 1, 0)
		backend.Fill(b, c, 1) // skipped
		err := b.Sync()
		if !errors.Is(err, backend.ErrShape) || !strings.Contains(err.Error(), "matmul(") {
			t.Errorf("Sync = %v, want a matmul shape error", err)
		}
		if _, err := backend.ReadF32(b, c); err == nil {
			t.Error("Read after an error succeeded")
		}
	})
	t.Run("out of memory", func(t *testing.T) {
		b, d := openTest(t)
		x := fromF32(t, b, make([]float32, 100000), 100000)
		y := b.New(backend.F32, 1)
		d.faultAlloc = true // the partial sums of sum
		backend.Sum(b, y, x)
		err := b.Sync()
		if !errors.Is(err, errOOM) || !strings.Contains(err.Error(), "sum(y=f32[1] x=f32[100000])") {
			t.Errorf("Sync = %v, want out of memory naming sum", err)
		}
	})
	t.Run("device lost", func(t *testing.T) {
		b, d := openTest(t)
		x := fromF32(t, b, make([]float32, 64), 64)
		backend.Scale(b, x, x, 2)
		backend.GELU(b, x, x)
		d.faultWait = vk.ErrorDeviceLost
		err := b.Sync()
		if !errors.Is(err, errDeviceLost) || !strings.Contains(err.Error(), "scale(") || !strings.Contains(err.Error(), "gelu(") {
			t.Errorf("Sync = %v, want device lost naming the batch's ops", err)
		}
		if b.Err() == nil {
			t.Error("the device error is not sticky")
		}
	})
}

func TestOpenByIndexAndName(t *testing.T) {
	_, d := openTest(t)
	name := d.phys.name
	list, err := devices()
	if err != nil || len(list) == 0 {
		t.Fatalf("devices() = %v, %v", list, err)
	}
	word := strings.Fields(name)[0]
	for _, arg := range []string{"0", strings.ToUpper(word)} {
		o, err := Open(arg)
		if err != nil {
			t.Errorf("Open(%q): %v", arg, err)
			continue
		}
		if o.Device().(*device).phys != list0(t) && arg == "0" {
			t.Errorf("Open(0) opened %s", o.Device().(*device).phys.name)
		}
		o.Close()
	}
	for _, arg := range []string{"99", "no-such-device"} {
		if _, err := Open(arg); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Open(%q) = %v, want an error listing %s", arg, err, name)
		}
	}
	t.Setenv(deviceEnv, "no-such-device")
	if _, err := Open(""); err == nil || !strings.Contains(err.Error(), deviceEnv) {
		t.Errorf("Open with %s set to a missing device = %v", deviceEnv, err)
	}
}

func list0(t *testing.T) *physical {
	l, err := instance()
	if err != nil {
		t.Fatal(err)
	}
	return l[0]
}

// Without a Vulkan loader, Devices and Open say so in one line. The loader
// is loaded once per process, so this runs in a child process.
func TestNoLoader(t *testing.T) {
	if os.Getenv("IJEPA_TEST_NO_LOADER") == "1" {
		_, err := devices()
		_, err2 := Open("")
		for _, e := range []error{err, err2} {
			if e == nil || !strings.Contains(e.Error(), "no Vulkan loader found") || strings.Contains(e.Error(), "\n") {
				t.Fatalf("got %v, want one line saying there is no Vulkan loader", e)
			}
		}
		t.Log(err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoLoader$", "-test.v")
	cmd.Env = append(os.Environ(), "IJEPA_TEST_NO_LOADER=1", loaderEnv+"=/nonexistent/libvulkan.so.1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "no Vulkan loader found") {
		t.Errorf("child output:\n%s", out)
	}
}

// On lavapipe a matmul whose K loop would pass llvmpipe's limit of 65,535
// loop iterations is refused, not computed wrong.
func TestLoopLimit(t *testing.T) {
	b, d := openTest(t)
	if d.phys.loopLimit == 0 {
		t.Skip("the device has no loop limit")
	}
	k := 16*d.phys.loopLimit + 16
	a := b.New(backend.F32, 1, k)
	x := b.New(backend.F32, k, 1)
	c := b.New(backend.F32, 1, 1)
	backend.MatMul(b, c, a, x, false, false, 1, 0)
	if err := b.Sync(); !errors.Is(err, backend.ErrUnsupported) {
		t.Errorf("Sync = %v, want unsupported", err)
	}
}

// The tiles the host picks are ones matmul.comp can run.
func TestTilesValid(t *testing.T) {
	for _, tl := range []tile{tileLarge, tileSmall} {
		if !tl.valid() {
			t.Errorf("tile %+v is not valid for matmul.comp", tl)
		}
	}
}

// The shared-memory matmul, which GPUs run, passes the matmul cases on
// this device too (a CPU device otherwise runs the register variant).
func TestSharedMatmul(t *testing.T) {
	b, d := openTest(t)
	d.sharedMatmul = true
	rep := conformance.Run(b, conformance.Options{
		Seed:      20261128,
		Reference: cpu.New(),
		Ops:       regexp.MustCompile("^matmul$"),
	})
	var buf strings.Builder
	rep.Write(&buf, -1)
	if rep.Failed() || rep.Ops[0].Passed == 0 {
		t.Fatalf("the shared-memory matmul fails:\n%s", buf.String())
	}
}

// With tensor memory that the host cannot map (discrete GPUs), every write
// and read goes through staging memory and transfer commands. lavapipe's
// memory is mappable, so this test turns the mapping off to run that path:
// the whole conformance suite (without finite differences) and the ordering
// checks.
func TestStagedTransfers(t *testing.T) {
	b, d := openTest(t)
	d.devArena.mapped = false
	rep := conformance.Run(b, conformance.Options{
		Seed:        20261128,
		Reference:   cpu.New(),
		NoGradients: true,
	})
	var buf strings.Builder
	rep.Write(&buf, -1)
	if rep.Failed() {
		t.Fatalf("with staged transfers the backend fails conformance:\n%s", buf.String())
	}
	for _, blk := range d.devArena.blocks {
		if blk.ptr != nil {
			t.Fatal("a tensor block was mapped")
		}
	}
}

// A dispatch's reads and writes are derived from its op's argument roles,
// and the same list is what gets bound. Planting a missing barrier — leaving
// one argument out of an op's derived access — therefore runs the kernel
// without that argument (a small buffer of its own is bound instead), and
// the conformance suite fails the op. (Leaving out the barrier alone would
// pass on lavapipe, which runs one dispatch after another.)
func TestDroppedAccessFailsConformance(t *testing.T) {
	for _, tc := range []struct {
		op  backend.Op
		arg int
	}{
		{backend.OpAdd, 2},          // an input of a one-dispatch op
		{backend.OpMatMul, 0},       // the output
		{backend.OpLayerNormBwd, 4}, // an input of three dispatches
		{backend.OpScatterAdd, 1},   // an input of a two-pass op
		{backend.OpMergeHeads, 2},   // one part of a variadic argument
		{backend.OpCopy, 1},         // a transfer command
	} {
		t.Run(fmt.Sprintf("%v/%d", tc.op, tc.arg), func(t *testing.T) {
			b, d := openTest(t)
			blk, err := d.newBlock(&d.devArena, 256)
			if err != nil {
				t.Fatal(err)
			}
			blk.free = nil // nothing is allocated from it; Close frees it
			d.devArena.blocks = append(d.devArena.blocks, blk)
			d.drop = &dropped{op: tc.op, arg: tc.arg, unbound: &mem{blk: blk, size: 256}}
			rep := conformance.Run(b, conformance.Options{
				Seed:        20261128,
				Reference:   cpu.New(),
				Ops:         regexp.MustCompile("^" + tc.op.String() + "$"),
				NoGradients: true,
				Reopen:      func() (backend.Backend, error) { return nil, errors.New("no reopening") },
			})
			o := rep.Ops[0]
			if o.Failed == 0 {
				t.Fatalf("%v with argument %d left out of its access passes all %d cases", tc.op, tc.arg, o.Cases)
			}
			t.Logf("%d of %d cases fail: %s", o.Failed, o.Cases, o.Failures[0].Msg)
		})
	}
}

// A device without storageBuffer16BitAccess (lavapipe with the feature
// masked out) lists f32 only, is opened without the feature, refuses a
// 16-bit tensor as unsupported, and conformance reports its 16-bit cases
// unsupported while its f32 cases pass and no op counts as missing.
// Catches a 16-bit dtype offered (and its kernels built) on a device that
// cannot store it.
func TestWithout16BitStorage(t *testing.T) {
	_, d := openTest(t)
	p := *d.phys
	p.half = 0
	nd, err := openPhysical(&p, "vulkan")
	if err != nil {
		t.Fatal(err)
	}
	b := backend.NewFront(nd)
	defer b.Close()
	if b.Info().SupportsDType(backend.BF16) || b.Info().SupportsDType(backend.F16) {
		t.Fatalf("dtypes %v without 16-bit storage", b.Info().DTypes)
	}
	if err := b.Supports(backend.Call{Op: backend.OpCast, Args: []*backend.Tensor{backend.Placeholder(backend.BF16, 4), backend.Placeholder(backend.F32, 4)}}); !errors.Is(err, backend.ErrUnsupported) {
		t.Errorf("Supports(cast to bf16): %v, want unsupported", err)
	}
	rep := conformance.Run(b, conformance.Options{Seed: 3, Reference: cpu.New(), NoGradients: true, Ops: regexp.MustCompile(`^(gelu|cast|matmul)$`)})
	if rep.Failed() {
		var buf bytes.Buffer
		rep.Write(&buf, 5)
		t.Fatalf("conformance fails:\n%s", buf.String())
	}
	for _, o := range rep.Ops {
		if (o.DType == backend.F32) != (o.Unsupp == 0) {
			t.Errorf("%s: %d of %d cases unsupported", o.Name+" "+o.DType.String(), o.Unsupp, o.Cases)
		}
	}
}
