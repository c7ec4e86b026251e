package plugin

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/nn"
	"google.golang.org/grpc"
)

// Through the real gRPC adapter, the CPU backend computes exactly what it
// computes in process, for every case of the conformance suite (with guards
// around every tensor, checked in the plugin).
func TestConformanceInProcess(t *testing.T) {
	b := mustInProcess(t, cpu.New())
	if !b.Info().Guards {
		t.Fatal("the client of a backend with guards does not offer them")
	}
	rep := conformance.Run(b, conformance.Options{
		Seed:        7,
		Reference:   cpu.New(),
		NoGradients: true,
		Reopen:      func() (backend.Backend, error) { return mustInProcess(t, cpu.New()), nil },
	})
	var buf bytes.Buffer
	rep.Write(&buf, 5)
	if rep.Failed() {
		t.Fatalf("the CPU backend through the plugin protocol fails conformance:\n%s", buf.String())
	}
	for _, o := range rep.Ops {
		if o.Cases == 0 || o.Unsupp > 0 || o.Worst != 0 {
			t.Errorf("%v: %d cases, %d unsupported, worst NMSE %g (want bit-identical results)", o.Op, o.Cases, o.Unsupp, o.Worst)
		}
	}
}

// Writes and reads larger than gRPC's default 4 MiB limit (which go-plugin's
// test server keeps) arrive intact, in chunks, as do views of one storage.
func TestLargeTensorsInChunks(t *testing.T) {
	b := mustInProcess(t, cpu.New())
	for _, n := range []int{1, ChunkBytes/4 - 1, ChunkBytes / 4, ChunkBytes/4 + 1, 5<<20/4 + 3} {
		want := seq(n, 0.25)
		x := mustF32(t, b, want, n)
		y := b.New(backend.F32, n)
		v := backend.Reshape(y, 1, n)
		backend.Copy(b, v, x) // y's storage, seen as [1,n]
		b.Release(v)
		got, err := backend.ReadF32(b, y)
		if err != nil {
			t.Fatalf("%d elements: %v", n, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%d elements: the read differs from the write", n)
		}
		b.Release(x)
		b.Release(y)
	}
}

// Ops cost no round trip each: a thousand ops and releases go out in a few
// batches, and the plugin frees released tensors.
func TestOpsAreBatched(t *testing.T) {
	srv := NewServer(cpu.New())
	b, err := inProcess(t, srv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	x := mustF32(t, b, seq(64, 1), 8, 8)
	const n = 1000
	var tmp []*backend.Tensor
	for i := 0; i < n; i++ {
		y := b.New(backend.F32, 8, 8)
		backend.Scale(b, y, x, 2)
		tmp = append(tmp, y)
	}
	for _, y := range tmp {
		b.Release(y)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	p, _ := srv.Progress(context.Background(), nil)
	// 2002 New and Run commands, one command for all the releases.
	if maxBatches := uint64(2003/batchOps + 1); p.Received > maxBatches {
		t.Errorf("%d commands took %d batches, want at most %d", 2003, p.Received, maxBatches)
	}
	srv.mu.Lock()
	live := len(srv.tensors)
	srv.mu.Unlock()
	if live != 1 {
		t.Errorf("%d tensors live in the plugin after the releases, want 1", live)
	}
}

// An error that only the device finds comes back at the next
// synchronisation as an *backend.OpError naming the op and its shapes, with
// its sentinel; later work is skipped, and the error stays.
func TestDeviceErrorIsStickyAndNamed(t *testing.T) {
	b := mustInProcess(t, backend.NewFront(&failOn{Device: cpu.New().Device(), op: backend.OpSoftmax, err: backend.ErrIndex}))
	x := mustF32(t, b, seq(6, 1), 2, 3)
	y := b.New(backend.F32, 2, 3)
	backend.Fill(b, y, 7)
	backend.Softmax(b, y, x, 1)
	backend.Fill(b, y, 9) // skipped
	if err := b.Err(); err != nil {
		t.Fatalf("Err before a synchronisation = %v; the plugin has not answered yet", err)
	}
	err := b.Sync()
	var oe *backend.OpError
	if !errors.As(err, &oe) || oe.Op != backend.OpSoftmax || oe.Args != "y=f32[2,3] x=f32[2,3]" {
		t.Fatalf("Sync = %v, want an OpError of softmax(y=f32[2,3] x=f32[2,3])", err)
	}
	wantErr(t, err, backend.ErrIndex)
	if !strings.Contains(err.Error(), "command") {
		t.Errorf("error %q does not say which command of the stream failed", err)
	}
	if _, rerr := backend.ReadF32(b, y); rerr == nil || rerr.Error() != err.Error() {
		t.Errorf("Read after the error = %v, want the sticky error", rerr)
	}
	if b.Err() == nil {
		t.Error("Err is nil after the error was reported")
	}
	if cerr := b.Close(); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("Close = %v, want the sticky error", cerr)
	}
}

// Shape errors are found on the host: nothing is sent.
func TestShapeErrorsOnTheHost(t *testing.T) {
	srv := NewServer(cpu.New())
	b, err := inProcess(t, srv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := b.New(backend.F32, 2, 3)
	c := b.New(backend.F32, 2, 2)
	backend.MatMul(b, c, a, a, false, false, 1, 0)
	if err := b.Err(); !errors.Is(err, backend.ErrShape) {
		t.Fatalf("Err = %v, want a shape error at once", err)
	}
	p, _ := srv.Progress(context.Background(), nil)
	if p.Received != 0 {
		t.Errorf("the plugin received %d batches before any synchronisation", p.Received)
	}
}

// Misuse gives errors, not panics: another backend's tensor, closed use.
func TestMisuse(t *testing.T) {
	b := mustInProcess(t, cpu.New())
	other := cpu.New()
	foreign := other.New(backend.F32, 2)
	if err := b.Read(foreign, make([]byte, 8)); err == nil {
		t.Error("reading another backend's tensor succeeded")
	}
	mine := b.New(backend.F32, 2)
	backend.Copy(b, mine, foreign)
	if err := b.Sync(); err == nil || !strings.Contains(err.Error(), "another backend") {
		t.Errorf("Sync after an op on another backend's tensor = %v", err)
	}
	c := mustInProcess(t, cpu.New())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c.New(backend.F32, 1); !errors.Is(c.Err(), backend.ErrClosed) {
		t.Errorf("New after Close = %v, want ErrClosed", c.Err())
	}
	if err := c.Sync(); !errors.Is(err, backend.ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
}

// Every malformed command is refused with a protocol error naming it, and
// the server keeps answering; none crashes it.
func TestServerRefusesMalformedCommands(t *testing.T) {
	type arg struct {
		id   uint64
		dims []int64
	}
	ref := func(id uint64, dims ...int64) arg { return arg{id, dims} }
	newT := func(id uint64, dt uint32, shape ...int64) *pb.Command {
		return &pb.Command{New: &pb.NewTensor{Id: id, Dtype: dt, Shape: shape}}
	}
	run := func(op backend.Op, args ...arg) *pb.Command {
		m := &pb.RunOp{Op: uint32(op)}
		for _, a := range args {
			m.Ids = append(m.Ids, a.id)
			m.Ranks = append(m.Ranks, uint32(len(a.dims)))
			m.Dims = append(m.Dims, a.dims...)
		}
		return &pb.Command{Run: m}
	}
	write := func(id, off uint64, n int) *pb.Command {
		return &pb.Command{Write: &pb.WriteChunk{Id: id, Offset: off, Data: make([]byte, n)}}
	}
	f32 := uint32(backend.F32)
	tests := []struct {
		name string
		seq  uint64
		cmds []*pb.Command
		want string
	}{
		{"id 0", 1, []*pb.Command{newT(0, f32, 2)}, "id 0"},
		{"id in use", 1, []*pb.Command{newT(1, f32, 2), newT(1, f32, 2)}, "in use"},
		{"unknown dtype", 1, []*pb.Command{newT(1, 99, 2)}, "unknown dtype"},
		{"no dims", 1, []*pb.Command{newT(1, f32)}, "no dimensions"},
		{"negative dim", 1, []*pb.Command{newT(1, f32, 2, -1)}, "out of range"},
		{"overflowing shape", 1, []*pb.Command{newT(1, f32, 1<<31, 1<<31, 1<<31)}, "out of range"},
		{"unknown op", 1, []*pb.Command{newT(1, f32, 2), run(999, ref(1, 2))}, "not in the catalogue"},
		{"attribute count", 1, []*pb.Command{newT(1, f32, 2), {Run: &pb.RunOp{Op: uint32(backend.OpFill), Ids: []uint64{1}, Ranks: []uint32{1}, Dims: []int64{2}}}}, "fill takes 1 attributes (Alpha), not 0"},
		{"attribute type", 1, []*pb.Command{newT(1, f32, 2, 2), newT(2, f32, 2, 2), newT(3, f32, 2, 2), {Run: &pb.RunOp{Op: uint32(backend.OpMatMul), Ids: []uint64{1, 2, 3}, Ranks: []uint32{2, 2, 2}, Dims: []int64{2, 2, 2, 2, 2, 2}, Attrs: []float64{2, 0, 1, 0}}}}, "TransA = 2 is not a value of its type"},
		{"unknown tensor", 1, []*pb.Command{newT(1, f32, 2), run(backend.OpCopy, ref(1, 2), ref(5, 2))}, "tensor 5 does not exist"},
		{"view of other size", 1, []*pb.Command{newT(1, f32, 2), newT(2, f32, 2), run(backend.OpCopy, ref(1, 3), ref(2, 2))}, "tensor 1"},
		{"missing argument", 1, []*pb.Command{newT(1, f32, 2), run(backend.OpCopy, ref(1, 2))}, "want 2"},
		{"absent required argument", 1, []*pb.Command{newT(1, f32, 2), run(backend.OpCopy, ref(1, 2), ref(0))}, "nil"},
		{"too many arguments", 1, []*pb.Command{run(backend.OpSum, make([]arg, 100)...)}, "100 argument ids"},
		{"ranks and ids differ", 1, []*pb.Command{{Run: &pb.RunOp{Op: uint32(backend.OpSum), Ids: []uint64{1, 2}, Ranks: []uint32{1}, Dims: []int64{1}}}}, "2 argument ids and 1 ranks"},
		{"ranks and dims differ", 1, []*pb.Command{{Run: &pb.RunOp{Op: uint32(backend.OpSum), Ids: []uint64{1, 2}, Ranks: []uint32{1, 4}, Dims: []int64{1}}}}, "add up to 5 dimensions, dims has 1"},
		{"absent argument with a shape", 1, []*pb.Command{newT(1, f32, 1), run(backend.OpSum, ref(1, 1), ref(0, 3))}, "absent argument with a shape"},
		{"write to unknown", 1, []*pb.Command{write(3, 0, 8)}, "does not exist"},
		{"write not from 0", 1, []*pb.Command{newT(1, f32, 4), write(1, 4, 4)}, "starts at byte 4"},
		{"write chunk gap", 1, []*pb.Command{newT(1, f32, 4), write(1, 0, 4), write(1, 8, 4)}, "expected one at byte 4"},
		{"write past end", 1, []*pb.Command{newT(1, f32, 2), write(1, 0, 4), write(1, 4, 8)}, "expected one at byte 4"},
		{"write cut short", 1, []*pb.Command{newT(1, f32, 4), write(1, 0, 4), run(backend.OpFill, ref(1, 4))}, "ended after 4 of 16 bytes"},
		{"release unknown", 1, []*pb.Command{{Release: &pb.Release{Ids: []uint64{8}}}}, "release of tensor 8"},
		{"empty command", 1, []*pb.Command{{}}, "sets 0 of new, run, write and release"},
		{"two in one command", 1, []*pb.Command{{New: &pb.NewTensor{Id: 1, Dtype: f32, Shape: []int64{1}}, Release: &pb.Release{Ids: []uint64{1}}}}, "sets 2 of"},
		{"batch out of order", 2, nil, "batch 2 arrived after batch 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(cpu.New())
			s.Hello(context.Background(), &pb.HelloRequest{ApiVersion: backend.APIVersion, CatalogueHash: backend.CatalogueHash()})
			s.execBatch(&pb.Batch{Seq: tt.seq, Commands: tt.cmds})
			st, err := s.Sync(context.Background(), &pb.SyncRequest{Seq: tt.seq})
			if err != nil {
				t.Fatal(err)
			}
			e := st.GetError()
			if e == nil || !strings.Contains(e.Message, tt.want) {
				t.Fatalf("status %v, want an error containing %q", e, tt.want)
			}
			// The server still answers.
			if _, err := s.Progress(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A server refuses commands before a Hello with matching versions.
func TestServerNeedsHello(t *testing.T) {
	s := NewServer(cpu.New())
	s.Hello(context.Background(), &pb.HelloRequest{ApiVersion: backend.APIVersion + 1})
	s.execBatch(&pb.Batch{Seq: 1})
	st, _ := s.Sync(context.Background(), &pb.SyncRequest{Seq: 1})
	if e := st.GetError(); e == nil || !strings.Contains(e.Message, "Hello") {
		t.Fatalf("status %v, want a refusal for lack of a matching Hello", e)
	}
}

// A panic of the inner backend becomes the sticky error.
func TestServerRecoversFromPanics(t *testing.T) {
	b := mustInProcess(t, &onOp{Backend: cpu.New(), op: backend.OpGELU, do: func() { panic("kernel bug") }})
	x := mustF32(t, b, seq(4, 1), 4)
	backend.GELU(b, x, x)
	err := b.Sync()
	var oe *backend.OpError
	if err == nil || !strings.Contains(err.Error(), "panicked: kernel bug") || errors.As(err, &oe) {
		t.Fatalf("Sync = %v, want the panic as a plain error", err)
	}
}

// badReplies answers with what the protocol forbids.
type badReplies struct {
	*Server
	mode string
}

func (s badReplies) Hello(ctx context.Context, req *pb.HelloRequest) (*pb.HelloReply, error) {
	rep, err := s.Server.Hello(ctx, req)
	switch s.mode {
	case "hello-op":
		rep.Info.Ops = append(rep.Info.Ops, 999)
	case "hello-no-info":
		rep.Info = nil
	case "hello-no-f32":
		rep.Info.Dtypes = []uint32{uint32(backend.I32)}
	}
	return rep, err
}

func (s badReplies) Read(req *pb.ReadRequest, stream grpc.ServerStreamingServer[pb.ReadChunk]) error {
	if err := s.waitFor(stream.Context(), req.GetSeq()); err != nil {
		return err
	}
	buf, st := s.readLocked(req.GetId())
	switch s.mode {
	case "read-no-status":
		return stream.Send(&pb.ReadChunk{Data: buf})
	case "read-long":
		return stream.Send(&pb.ReadChunk{Status: st, Data: append(buf, 1, 2, 3, 4)})
	case "read-gap":
		stream.Send(&pb.ReadChunk{Status: st, Data: buf[:4]})
		return stream.Send(&pb.ReadChunk{Offset: 8, Data: buf[8:]})
	case "read-empty":
		return nil
	}
	return stream.Send(&pb.ReadChunk{Status: st, Data: buf})
}

func (s badReplies) Sync(ctx context.Context, req *pb.SyncRequest) (*pb.Status, error) {
	switch s.mode {
	case "sync-kind":
		return &pb.Status{Error: &pb.Error{Kind: 77, Message: "?"}}, nil
	case "sync-op":
		return &pb.Status{Error: &pb.Error{Op: 999, Message: "?"}}, nil
	}
	return s.Server.Sync(ctx, req)
}

// The client validates every reply: a malformed one is a clear protocol
// error, and the client fails from then on.
func TestClientRefusesMalformedReplies(t *testing.T) {
	tests := []struct{ mode, want string }{
		{"hello-op", "op 999 is not in the catalogue"},
		{"hello-no-info", "no device info"},
		{"hello-no-f32", "f32"},
		{"read-no-status", "no status"},
		{"read-long", "expected them at byte 0 of 16"},
		{"read-gap", "expected them at byte 4"},
		{"read-empty", "empty"},
		{"sync-kind", "unknown kind 77"},
		{"sync-op", "op 999 is not in the catalogue"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			b, err := inProcess(t, badReplies{NewServer(cpu.New()), tt.mode}, fast)
			if err == nil {
				defer b.Close()
				x := mustF32(t, b, seq(4, 1), 4)
				if strings.HasPrefix(tt.mode, "read") {
					_, err = backend.ReadF32(b, x)
				} else {
					err = b.Sync()
				}
			}
			wantErr(t, err, ErrProtocol)
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "plugin:test: ") {
				t.Fatalf("error %q, want one from plugin:test containing %q", err, tt.want)
			}
			if b != nil {
				if b.New(backend.F32, 1); b.Err() == nil {
					t.Error("New works after the plugin broke the protocol")
				}
			}
		})
	}
}

// hung stops answering: in Sync (alive but stuck), or in Progress too.
type hung struct {
	*Server
	progress bool
}

func (s hung) Sync(ctx context.Context, _ *pb.SyncRequest) (*pb.Status, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s hung) Progress(ctx context.Context, req *pb.ProgressRequest) (*pb.ProgressReply, error) {
	if s.progress {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Server.Progress(ctx, req)
}

// A plugin that stops making progress, or stops answering at all, is a
// clear error within the timeouts, never a hang.
func TestHungPluginInProcess(t *testing.T) {
	for _, tt := range []struct {
		name     string
		progress bool
		want     string
	}{
		{"stuck", false, "executed nothing for"},
		{"silent", true, "did not answer a progress query"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := inProcess(t, hung{NewServer(cpu.New()), tt.progress}, fast)
			if err != nil {
				t.Fatal(err)
			}
			err = within(t, fast.Timeout+fast.PingTimeout+2*time.Second, b.Sync)
			wantErr(t, err, ErrHung)
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "synchronising") {
				t.Fatalf("error %q, want it to say %q while synchronising", err, tt.want)
			}
			if err := within(t, time.Second, b.Close); !errors.Is(err, ErrHung) {
				t.Errorf("Close = %v, want the fault", err)
			}
		})
	}
}

// countRuns is a device that counts the calls it runs.
type countRuns struct {
	backend.Device
	n uint64
}

func (d *countRuns) Run(c backend.Call) error {
	d.n++
	return d.Device.Run(c)
}

// Through a tape, the plugin client and the plugin's server, every op is
// validated once on each side of the process boundary: by the host's Front
// and by the plugin's, never again by the tape, the client or the server.
func TestOneValidationPerOpPerProcess(t *testing.T) {
	dev := &countRuns{Device: cpu.New().Device()}
	plugin := backend.NewFront(dev)
	host := mustInProcess(t, plugin)
	tape := nn.NewTape(host)
	bld := nn.NewBuilder()
	block := nn.NewBlock(bld, "block", 16, 2, 32)
	params := bld.Params()
	if err := nn.Alloc(host, params, 1); err != nil {
		t.Fatal(err)
	}
	if err := nn.AllocGrads(host, params); err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		if err := tape.Watch(p.Value, p.Grad); err != nil {
			t.Fatal(err)
		}
	}
	x := backend.FromF32(host, seq(2*5*16, 0.01), 2, 5, 16)
	y, err := block.Forward(tape, x)
	if err != nil {
		t.Fatal(err)
	}
	loss := host.New(backend.F32, 1)
	backend.SumSq(tape, loss, y)
	if err := tape.Backward(loss); err != nil {
		t.Fatal(err)
	}
	if err := host.Sync(); err != nil {
		t.Fatal(err)
	}
	if dev.n < 40 {
		t.Fatalf("the plugin's device ran %d ops, want a block's forward and backward", dev.n)
	}
	if host.Validated() != dev.n || plugin.Validated() != dev.n {
		t.Errorf("%d ops ran, validated %d times by the host and %d times by the plugin; want once each",
			dev.n, host.Validated(), plugin.Validated())
	}
}
