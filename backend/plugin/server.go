package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/ijepa-go/ijepa/backend"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Serve serves b as a plugin over go-plugin and returns when the host is
// done with it. It is the whole of a Go plugin's main after opening the
// backend:
//
//	func main() { plugin.Serve(cpu.New()) }
//
// Run by hand (without the host's magic cookie), the binary says it is a
// plugin and exits with status 1. If the host goes away without closing the
// backend (it died), the process exits.
func Serve(b backend.Backend) {
	s := NewServer(b)
	goplugin.Serve(serveConfig(Handshake, s, s.exitIfOpen))
}

// exitIfOpen ends the process unless the backend was closed: the host's
// connection is gone, so nobody will close it.
func (s *Server) exitIfOpen() {
	if !s.closedA.Load() {
		fmt.Fprintln(os.Stderr, "ijepa backend plugin: the host's connection ended without closing the backend; exiting")
		os.Exit(1)
	}
}

// serveConfig is the go-plugin configuration that serves srv: gRPC with the
// message limits raised, hostGone called when the host's connection ends,
// and go-plugin's own log quiet but for warnings.
func serveConfig(hs goplugin.HandshakeConfig, srv pb.BackendServer, hostGone func()) *goplugin.ServeConfig {
	return &goplugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         goplugin.PluginSet{pluginName: &grpcPlugin{srv: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return newGRPCServer(append(opts, grpc.StatsHandler(connEnd(hostGone))))
		},
		Logger: hclog.New(&hclog.LoggerOptions{Name: "ijepa-backend", Level: hclog.Warn, Output: os.Stderr, JSONFormat: true}),
	}
}

// connEnd is a gRPC stats handler that calls its function when a
// connection ends. A plugin has one connection, its host's.
type connEnd func()

func (f connEnd) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (f connEnd) HandleRPC(context.Context, stats.RPCStats)                         {}
func (f connEnd) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (f connEnd) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); ok {
		f()
	}
}

// Server is the plugin side of the protocol: it executes the command stream
// on an inner backend, validating everything it receives (the messages
// here, the calls by the backend's Front), so that a buggy or hostile host
// cannot crash it. Serve uses it; it is exported for plugins that set up
// their own gRPC server.
type Server struct {
	pb.UnimplementedBackendServer
	b      backend.Backend
	guards backend.Guarder // nil when b has no guards

	mu        sync.Mutex
	ready     bool // a Hello with matching versions arrived
	streaming bool // a Submit stream is or was open
	ended     bool // the Submit stream ended
	closed    bool
	tensors   map[uint64]*entry
	write     *pendingWrite // a write whose chunks are still arriving
	err       *pb.Error     // the first error
	received  uint64        // the last batch received
	executed  uint64        // the last batch executed
	changed   chan struct{} // closed and replaced when executed or ended changes

	closedA  atomic.Bool   // closed, readable without mu
	commands atomic.Uint64 // commands executed, for Progress
	recvA    atomic.Uint64 // received and executed, readable without mu
	execA    atomic.Uint64
}

// entry is one tensor: the inner backend's handle and the reshaped views ops
// have used it with.
type entry struct {
	base  *backend.Tensor
	views []*backend.Tensor
}

// pendingWrite collects the chunks of a write larger than one chunk.
type pendingWrite struct {
	id  uint64
	t   *backend.Tensor
	buf []byte
	off int
}

// NewServer returns a server that executes commands on b, a backend
// package's *backend.Front (or a Backend over one), which validates every
// call.
func NewServer(b backend.Backend) *Server {
	s := &Server{b: b, tensors: map[uint64]*entry{}, changed: make(chan struct{})}
	if g, ok := b.(backend.Guarder); ok && b.Info().Guards {
		s.guards = g
	}
	return s
}

// Hello reports the plugin's versions and device. Commands are refused
// until a Hello with matching versions has arrived.
func (s *Server) Hello(_ context.Context, req *pb.HelloRequest) (*pb.HelloReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = req.GetApiVersion() == backend.APIVersion && req.GetCatalogueHash() == backend.CatalogueHash()
	info := s.b.Info()
	info.Guards = s.guards != nil
	return &pb.HelloReply{
		ApiVersion:    backend.APIVersion,
		CatalogueHash: backend.CatalogueHash(),
		Info:          infoToPB(info),
	}, nil
}

// Submit receives the batches and executes each in order as it arrives.
func (s *Server) Submit(stream grpc.ClientStreamingServer[pb.Batch, pb.SubmitReply]) error {
	s.mu.Lock()
	if s.streaming {
		s.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "a Submit stream was already opened on this connection")
	}
	s.streaming = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.ended = true
		s.notify()
		s.mu.Unlock()
	}()
	for {
		var b pb.Batch
		err := stream.RecvMsg(&b)
		if err == io.EOF {
			return stream.SendAndClose(&pb.SubmitReply{})
		}
		if err != nil {
			return err
		}
		s.execBatch(&b)
	}
}

// notify wakes the waiters of waitFor. s.mu is held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// fail records err as the sticky error (if none is recorded yet) with the
// position of the failing command. s.mu is held.
func (s *Server) fail(err error, command uint64) {
	if s.err == nil {
		s.err = errorToPB(err, command)
	}
}

// protocolf records a protocol error. s.mu is held.
func (s *Server) protocolf(command uint64, format string, a ...any) {
	s.fail(fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, a...)), command)
}

// execBatch executes one batch under s.mu.
func (s *Server) execBatch(b *pb.Batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case b.Seq != s.received+1:
		s.protocolf(0, "batch %d arrived after batch %d", b.Seq, s.received)
	case !s.ready:
		s.protocolf(0, "batch %d arrived before a Hello with matching versions", b.Seq)
	case s.closed:
		s.fail(fmt.Errorf("batch %d: %w", b.Seq, backend.ErrClosed), 0)
	default:
		for _, c := range b.Commands {
			n := s.commands.Load() + 1
			s.exec(c, n)
			s.commands.Store(n)
		}
	}
	s.received = max(s.received, b.Seq)
	s.executed = s.received
	s.recvA.Store(s.received)
	s.execA.Store(s.executed)
	s.notify()
}

// exec executes one command; n is its position in the stream. A panic of
// the inner backend becomes the sticky error instead of killing the plugin.
func (s *Server) exec(c *pb.Command, n uint64) {
	defer func() {
		if r := recover(); r != nil {
			s.fail(fmt.Errorf("the backend panicked: %v", r), n)
		}
	}()
	if s.write != nil && (c.Write == nil || c.Write.Id != s.write.id) {
		s.protocolf(n, "the write of tensor %d ended after %d of %d bytes", s.write.id, s.write.off, len(s.write.buf))
		s.write = nil
	}
	if set := b2i(c.New != nil) + b2i(c.Run != nil) + b2i(c.Write != nil) + b2i(c.Release != nil); set != 1 {
		s.protocolf(n, "a command sets %d of new, run, write and release, not exactly one", set)
		return
	}
	switch {
	case c.New != nil:
		s.newTensor(c.New, n)
	case c.Run != nil:
		if s.err == nil {
			s.run(c.Run, n)
		}
	case c.Write != nil:
		if s.err == nil {
			s.writeChunk(c.Write, n)
		}
	default:
		s.release(c.Release, n)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) newTensor(m *pb.NewTensor, n uint64) {
	if m.Id == 0 {
		s.protocolf(n, "new tensor with id 0")
		return
	}
	if _, dup := s.tensors[m.Id]; dup {
		s.protocolf(n, "new tensor with id %d, which is in use", m.Id)
		return
	}
	dt, err := dtypeFromPB(m.Dtype)
	if err != nil {
		s.protocolf(n, "new tensor %d: %v", m.Id, err)
		return
	}
	shape, err := shapeFromPB(m.Shape)
	if err != nil {
		s.protocolf(n, "new tensor %d: %v", m.Id, err)
		return
	}
	var t *backend.Tensor
	switch {
	case m.Guarded && s.guards == nil:
		s.fail(fmt.Errorf("new %v%v: guarded tensors: %w", dt, shape, backend.ErrUnsupported), n)
		return
	case m.Guarded:
		t = s.guards.NewGuarded(dt, shape...)
	default:
		t = s.b.New(dt, shape...)
	}
	s.tensors[m.Id] = &entry{base: t}
	if err := s.b.Err(); err != nil {
		s.fail(err, n)
	}
}

// view returns the handle of tensor id with the shape dims, making a
// reshaped view the first time a shape is used.
func (s *Server) view(id uint64, dims []int64) (*backend.Tensor, error) {
	e, ok := s.tensors[id]
	if !ok {
		return nil, fmt.Errorf("%w: tensor %d does not exist (never created, or released)", errProtocol, id)
	}
	if sameDims(e.base.Shape(), dims) {
		return e.base, nil
	}
	for _, v := range e.views {
		if sameDims(v.Shape(), dims) {
			return v, nil
		}
	}
	shape, err := shapeFromPB(dims)
	if err != nil {
		return nil, fmt.Errorf("%w: tensor %d: %v", errProtocol, id, err)
	}
	if shape.NumElements() != e.base.NumElements() {
		return nil, fmt.Errorf("%w: tensor %d of %d elements used as %v", errProtocol, id, e.base.NumElements(), shape)
	}
	v := backend.Reshape(e.base, shape...)
	e.views = append(e.views, v)
	return v, nil
}

func sameDims(s backend.Shape, dims []int64) bool {
	if len(s) != len(dims) {
		return false
	}
	for i, d := range s {
		if int64(d) != dims[i] {
			return false
		}
	}
	return true
}

// maxArgs bounds the arguments of one op (the variadic ops take a handful).
const maxArgs = 64

func (s *Server) run(m *pb.RunOp, n uint64) {
	op, err := opFromPB(m.Op)
	if err != nil {
		s.protocolf(n, "%v", err)
		return
	}
	if len(m.Ids) > maxArgs || len(m.Ranks) != len(m.Ids) {
		s.protocolf(n, "%v with %d argument ids and %d ranks", op, len(m.Ids), len(m.Ranks))
		return
	}
	var total int64
	for _, r := range m.Ranks {
		total += int64(r)
	}
	if total != int64(len(m.Dims)) {
		s.protocolf(n, "%v: the ranks add up to %d dimensions, dims has %d", op, total, len(m.Dims))
		return
	}
	attrs, err := backend.DecodeAttrs(op, m.Attrs)
	if err != nil {
		s.protocolf(n, "%v", err)
		return
	}
	args := make([]*backend.Tensor, len(m.Ids))
	dims := m.Dims
	for i, id := range m.Ids {
		r := m.Ranks[i]
		d := dims[:r]
		dims = dims[r:]
		if id == 0 {
			if r != 0 {
				s.protocolf(n, "%v argument %d: an absent argument with a shape", op, i)
				return
			}
			continue // an absent optional argument; Check refuses a missing required one
		}
		if args[i], err = s.view(id, d); err != nil {
			s.fail(fmt.Errorf("%v argument %d: %w", op, i, err), n)
			return
		}
	}
	s.b.Run(backend.Call{Op: op, Args: args, Attrs: attrs})
	if err := s.b.Err(); err != nil {
		s.fail(err, n)
	}
}

func (s *Server) writeChunk(m *pb.WriteChunk, n uint64) {
	if s.write == nil {
		e, ok := s.tensors[m.Id]
		if !ok {
			s.protocolf(n, "write to tensor %d, which does not exist", m.Id)
			return
		}
		if m.Offset != 0 {
			s.protocolf(n, "write to tensor %d starts at byte %d, not 0", m.Id, m.Offset)
			return
		}
		size := e.base.Bytes()
		if len(m.Data) == size { // the whole tensor in one chunk
			s.b.Write(e.base, m.Data)
			if err := s.b.Err(); err != nil {
				s.fail(err, n)
			}
			return
		}
		s.write = &pendingWrite{id: m.Id, t: e.base, buf: make([]byte, size)}
	}
	w := s.write
	if m.Offset != uint64(w.off) || len(m.Data) == 0 || len(m.Data) > len(w.buf)-w.off {
		s.protocolf(n, "write to tensor %d: a chunk of %d bytes at byte %d, expected one at byte %d of %d", m.Id, len(m.Data), m.Offset, w.off, len(w.buf))
		s.write = nil
		return
	}
	w.off += copy(w.buf[w.off:], m.Data)
	if w.off == len(w.buf) {
		s.write = nil
		s.b.Write(w.t, w.buf)
		if err := s.b.Err(); err != nil {
			s.fail(err, n)
		}
	}
}

func (s *Server) release(m *pb.Release, n uint64) {
	for _, id := range m.Ids {
		e, ok := s.tensors[id]
		if !ok {
			if s.err == nil { // after an error, a failed New leaves ids unknown
				s.protocolf(n, "release of tensor %d, which does not exist", id)
			}
			continue
		}
		delete(s.tensors, id)
		for _, v := range e.views {
			s.b.Release(v)
		}
		s.b.Release(e.base)
	}
}

// waitFor waits until batch seq has been executed. It fails if the Submit
// stream ends first or ctx is done.
func (s *Server) waitFor(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		if s.executed >= seq {
			s.mu.Unlock()
			return nil
		}
		if s.ended {
			s.mu.Unlock()
			return status.Errorf(codes.FailedPrecondition, "batch %d never arrived: the Submit stream ended after batch %d", seq, s.executed)
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// statusLocked returns the sticky error as a Status. s.mu is held.
func (s *Server) statusLocked() *pb.Status { return &pb.Status{Error: s.err} }

// Sync waits for batch req.Seq, synchronises the inner backend and returns
// the sticky error.
func (s *Server) Sync(ctx context.Context, req *pb.SyncRequest) (*pb.Status, error) {
	if err := s.waitFor(ctx, req.GetSeq()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && !s.closed {
		if err := s.b.Sync(); err != nil {
			s.fail(err, 0)
		}
	}
	return s.statusLocked(), nil
}

// Read waits for batch req.Seq, reads the tensor and sends it in chunks.
func (s *Server) Read(req *pb.ReadRequest, stream grpc.ServerStreamingServer[pb.ReadChunk]) error {
	if err := s.waitFor(stream.Context(), req.GetSeq()); err != nil {
		return err
	}
	buf, st := s.readLocked(req.GetId())
	if st.Error != nil {
		return stream.Send(&pb.ReadChunk{Status: st})
	}
	for off := 0; off == 0 || off < len(buf); {
		end := min(off+ChunkBytes, len(buf))
		m := &pb.ReadChunk{Offset: uint64(off), Data: buf[off:end]}
		if off == 0 {
			m.Status = st
		}
		if err := stream.Send(m); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// readLocked reads tensor id from the inner backend under s.mu.
func (s *Server) readLocked(id uint64) ([]byte, *pb.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.statusLocked()
	}
	if s.closed {
		return nil, &pb.Status{Error: errorToPB(fmt.Errorf("read: %w", backend.ErrClosed), 0)}
	}
	e, ok := s.tensors[id]
	if !ok {
		s.protocolf(0, "read of tensor %d, which does not exist", id)
		return nil, s.statusLocked()
	}
	buf := make([]byte, e.base.Bytes())
	if err := s.b.Read(e.base, buf); err != nil {
		s.fail(err, 0)
		return nil, s.statusLocked()
	}
	return buf, s.statusLocked()
}

// CheckGuards waits for batch req.Seq and checks a guarded tensor's guards.
// A guard error is returned in the status but is not sticky.
func (s *Server) CheckGuards(ctx context.Context, req *pb.TensorRequest) (*pb.Status, error) {
	if err := s.waitFor(ctx, req.GetSeq()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.statusLocked(), nil
	}
	e, ok := s.tensors[req.GetId()]
	switch {
	case s.guards == nil:
		return &pb.Status{Error: errorToPB(fmt.Errorf("guards: %w", backend.ErrUnsupported), 0)}, nil
	case !ok:
		s.protocolf(0, "guard check of tensor %d, which does not exist", req.GetId())
		return s.statusLocked(), nil
	}
	if err := s.guards.CheckGuards(e.base); err != nil {
		return &pb.Status{Error: errorToPB(err, 0)}, nil
	}
	return &pb.Status{}, nil
}

// Progress reports the batches received and executed and the commands
// executed, without waiting for s.mu.
func (s *Server) Progress(context.Context, *pb.ProgressRequest) (*pb.ProgressReply, error) {
	return &pb.ProgressReply{Received: s.recvA.Load(), Executed: s.execA.Load(), Commands: s.commands.Load()}, nil
}

// Close waits for batch req.Seq, releases every tensor, closes the inner
// backend and returns the sticky error.
func (s *Server) Close(ctx context.Context, req *pb.SyncRequest) (*pb.Status, error) {
	if err := s.waitFor(ctx, req.GetSeq()); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// The batches did not all arrive; close all the same.
		s.mu.Lock()
		s.protocolf(0, "close: %v", status.Convert(err).Message())
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.closedA.Store(true)
		for id, e := range s.tensors {
			delete(s.tensors, id)
			for _, v := range e.views {
				s.b.Release(v)
			}
			s.b.Release(e.base)
		}
		if err := s.b.Close(); err != nil {
			s.fail(err, 0)
		}
	}
	return s.statusLocked(), nil
}
