package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"google.golang.org/grpc"
)

// Errors of a failing plugin, matched with errors.Is. Each comes wrapped in
// a message that names the plugin and what it was doing.
var (
	// ErrStart: the binary did not start as a plugin: it did not complete
	// the go-plugin handshake (it is not an ijepa backend plugin, it
	// exited), or it did not answer on its socket or to Hello within the
	// timeout.
	ErrStart = errors.New("plugin did not start")
	// ErrVersion: the plugin was built for another protocol version or op
	// catalogue.
	ErrVersion = errors.New("plugin speaks another protocol version")
	// ErrExited: the plugin process ended while in use.
	ErrExited = errors.New("plugin process exited")
	// ErrHung: the plugin stopped answering or stopped making progress.
	ErrHung = errors.New("plugin is not responding")
	// ErrProtocol: the plugin sent a reply the protocol does not allow.
	ErrProtocol = errProtocol
)

// client is the host side of a plugin: the backend.Device whose tensors
// live in the plugin process, under a backend.Front that validates every
// call before it is encoded. It queues commands and sends them in batches;
// Read, Sync, Close (and CheckGuards) wait for the plugin.
type client struct {
	name   string // "plugin:./ijepa-backend-cpu"
	rpc    pb.BackendClient
	proc   *process // nil when connected in process (tests)
	opts   Options
	info   backend.Info
	stderr *tail
	exit   *exitLog

	// ctx is the session: every call runs under it, and a fault cancels
	// it with the fault as cause.
	ctx    context.Context
	cancel context.CancelCauseFunc
	stream grpc.ClientStreamingClient[pb.Batch, pb.SubmitReply]

	batch    pb.Batch // commands not yet sent
	batchLen int      // bytes of write data in batch
	seq      uint64   // the last batch sent
	fault    error    // the plugin failed: every later call fails at once
	closed   bool
}

var _ backend.GuardDevice = (*client)(nil)

// connect says Hello, checks the versions and opens the op stream. parent
// is cancelled by go-plugin when the process exits; Hello must come by
// deadline (the end of the plugin's start-up).
func connect(name string, rpc pb.BackendClient, parent context.Context, proc *process, o Options, deadline time.Time, stderr *tail, exit *exitLog) (*client, error) {
	c := &client{name: name, rpc: rpc, proc: proc, opts: o, stderr: stderr, exit: exit}
	if c.stderr == nil {
		c.stderr = &tail{}
	}
	if c.exit == nil {
		c.exit = &exitLog{}
	}
	c.ctx, c.cancel = context.WithCancelCause(parent)
	var rep *pb.HelloReply
	var late error // Hello failed after the deadline, whoever cut it short
	err := c.wait("saying hello", func(ctx context.Context) error {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		var err error
		rep, err = rpc.Hello(ctx, &pb.HelloRequest{ApiVersion: backend.APIVersion, CatalogueHash: backend.CatalogueHash()})
		if err != nil && !time.Now().Before(deadline) {
			late = fmt.Errorf("%s: %w: it did not answer Hello within %v of its start (%s)%s", name, ErrStart, o.Timeout, TimeoutEnv, c.stderr.quote())
			c.cancel(late) // the verdict, so that wait need not ask whether the process ended
		}
		return err
	})
	if late != nil {
		err = late // in the project's words rather than gRPC's, even if the watchdog gave up first
	}
	if err != nil {
		c.cancel(err)
		return nil, err
	}
	if rep.ApiVersion != backend.APIVersion || rep.CatalogueHash != backend.CatalogueHash() {
		err := fmt.Errorf("%s: %w: the plugin was built for backend API version %d with op catalogue %s, "+
			"this ijepa has API version %d with op catalogue %s; rebuild the plugin against this version of package backend",
			name, ErrVersion, rep.ApiVersion, orNone(rep.CatalogueHash), backend.APIVersion, backend.CatalogueHash())
		c.cancel(err)
		return nil, err
	}
	info, err := infoFromPB(rep.Info)
	if err != nil {
		err = fmt.Errorf("%s: %w: malformed Hello reply: %v", name, ErrProtocol, err)
		c.cancel(err)
		return nil, err
	}
	inner := info.Backend
	info.Backend = name
	info.Limits = append([][2]string{{"plugin backend", inner}, {"plugin protocol", fmt.Sprint(ProtocolVersion)}}, info.Limits...)
	c.info = info
	if err := c.wait("opening the op stream", func(ctx context.Context) error {
		var err error
		c.stream, err = rpc.Submit(ctx)
		return err
	}); err != nil {
		c.cancel(err)
		return nil, err
	}
	return c, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Info describes the plugin's device; Backend is the spec it was opened
// with and Limits start with the plugin's own backend name.
func (c *client) Info() backend.Info { return c.info }

// Err returns the plugin's fault, if it failed.
func (c *client) Err() error { return c.fault }

// Alloc queues the allocation of a tensor under its storage id.
func (c *client) Alloc(t *backend.Tensor, guarded bool) (any, error) {
	if c.fault != nil {
		return nil, c.fault
	}
	shape := shapeToPB(t.Shape())
	if _, err := shapeFromPB(shape); err != nil {
		return nil, err
	}
	c.push(&pb.Command{New: &pb.NewTensor{Id: t.Storage().ID, Dtype: uint32(t.DType()), Shape: shape, Guarded: guarded}}, 0)
	return c, nil
}

// Write queues a copy of src, in chunks of at most ChunkBytes.
func (c *client) Write(t *backend.Tensor, src []byte) error {
	id := t.Storage().ID
	for off := 0; off < len(src) && c.fault == nil; {
		end := min(off+ChunkBytes, len(src))
		if c.batchLen > 0 && c.batchLen+end-off > batchBytes {
			c.flush()
		}
		data := append([]byte(nil), src[off:end]...)
		c.push(&pb.Command{Write: &pb.WriteChunk{Id: id, Offset: uint64(off), Data: data}}, len(data))
		off = end
	}
	return nil
}

// Supports leaves the refusals of shapes to the plugin, which reports them
// at the next synchronisation; the ops and dtypes the plugin lacks are known
// from its Info.
func (c *client) Supports(backend.Call) error { return nil }

// Run encodes the call and queues it.
func (c *client) Run(call backend.Call) error {
	m := &pb.RunOp{Op: uint32(call.Op), Ids: make([]uint64, len(call.Args)), Ranks: make([]uint32, len(call.Args)), Attrs: backend.EncodeAttrs(call.Op, call.Attrs)}
	for i, t := range call.Args {
		if t == nil {
			continue
		}
		m.Ids[i], m.Ranks[i] = t.Storage().ID, uint32(len(t.Shape()))
		for _, d := range t.Shape() {
			m.Dims = append(m.Dims, int64(d))
		}
	}
	c.push(&pb.Command{Run: m}, 0)
	return nil
}

// Free queues the release of a storage (releases share one command until
// the batch is sent).
func (c *client) Free(s *backend.Storage) {
	if c.closed || c.fault != nil {
		return
	}
	id := s.ID
	if n := len(c.batch.Commands); n > 0 {
		if r := c.batch.Commands[n-1].Release; r != nil {
			r.Ids = append(r.Ids, id)
			return
		}
	}
	c.push(&pb.Command{Release: &pb.Release{Ids: []uint64{id}}}, 0)
}

// push appends a command to the batch and sends the batch when it is full.
func (c *client) push(cmd *pb.Command, dataBytes int) {
	c.batch.Commands = append(c.batch.Commands, cmd)
	c.batchLen += dataBytes
	if len(c.batch.Commands) >= batchOps || c.batchLen >= batchBytes {
		c.flush()
	}
}

// flush sends the queued commands as one batch on the op stream.
func (c *client) flush() {
	if len(c.batch.Commands) == 0 {
		return
	}
	if c.fault == nil {
		c.seq++
		c.batch.Seq = c.seq
		err := c.wait("sending ops", func(context.Context) error {
			if err := c.stream.Send(&c.batch); err != nil {
				if err == io.EOF { // the stream broke; its status says why
					_, err = c.stream.CloseAndRecv()
					if err == nil {
						err = errors.New("the plugin closed the op stream")
					}
				}
				return err
			}
			return nil
		})
		if err != nil {
			c.setFault(err)
		}
	}
	clear(c.batch.Commands)
	c.batch.Commands = c.batch.Commands[:0]
	c.batchLen = 0
}

// Read sends the queued commands, waits for them and copies t into dst.
func (c *client) Read(t *backend.Tensor, dst []byte) error {
	c.flush()
	if c.fault != nil {
		return c.fault
	}
	var remote *pb.Error
	err := c.wait("reading "+t.String(), func(ctx context.Context) error {
		stream, err := c.rpc.Read(ctx, &pb.ReadRequest{Seq: c.seq, Id: t.Storage().ID})
		if err != nil {
			return err
		}
		off := 0
		for first := true; ; first = false {
			m, err := stream.Recv()
			if err == io.EOF {
				if first {
					return fmt.Errorf("%w: the read reply is empty", ErrProtocol)
				}
				break
			}
			if err != nil {
				return err
			}
			switch {
			case first && m.Status == nil:
				return fmt.Errorf("%w: the read reply has no status", ErrProtocol)
			case !first && m.Status != nil:
				return fmt.Errorf("%w: the read reply has a second status", ErrProtocol)
			case first && m.Status.Error != nil:
				remote = m.Status.Error
			}
			if remote != nil && len(m.Data) > 0 {
				return fmt.Errorf("%w: the read reply has data after an error", ErrProtocol)
			}
			if m.Offset != uint64(off) || len(m.Data) > len(dst)-off {
				return fmt.Errorf("%w: the read reply sent %d bytes at byte %d, expected them at byte %d of %d",
					ErrProtocol, len(m.Data), m.Offset, off, len(dst))
			}
			off += copy(dst[off:], m.Data)
		}
		if remote == nil && off != len(dst) {
			return fmt.Errorf("%w: the read reply sent %d of %d bytes", ErrProtocol, off, len(dst))
		}
		return nil
	})
	if err != nil {
		return c.setFault(err)
	}
	if remote != nil {
		return c.remoteErr(remote)
	}
	return nil
}

// Sync sends the queued commands, waits for them and returns the plugin's
// error.
func (c *client) Sync() error {
	c.flush()
	if c.fault != nil {
		return c.fault
	}
	return c.syncCall("synchronising", c.rpc.Sync)
}

// syncCall runs a call that answers with a Status and returns its error.
func (c *client) syncCall(what string, call func(context.Context, *pb.SyncRequest, ...grpc.CallOption) (*pb.Status, error)) error {
	var st *pb.Status
	err := c.wait(what, func(ctx context.Context) error {
		var err error
		st, err = call(ctx, &pb.SyncRequest{Seq: c.seq})
		return err
	})
	if err != nil {
		return c.setFault(err)
	}
	if st.GetError() != nil {
		return c.remoteErr(st.Error)
	}
	return nil
}

// Close sends the queued commands, closes the plugin's backend, ends the
// plugin process and returns the plugin's last error.
func (c *client) Close() error {
	if c.closed {
		return c.fault
	}
	c.flush()
	c.closed = true
	var err error
	if c.fault == nil {
		err = c.syncCall("closing", c.rpc.Close) // the plugin's last error
	}
	if c.fault == nil {
		werr := c.wait("closing the op stream", func(context.Context) error {
			_, err := c.stream.CloseAndRecv()
			return err
		})
		if werr != nil {
			c.setFault(werr)
		}
	}
	c.cancel(fmt.Errorf("%s: %w", c.name, backend.ErrClosed))
	if err == nil {
		err = c.fault
	}
	if c.proc != nil {
		if perr := c.proc.end(c.fault == nil); perr != nil && err == nil {
			err = fmt.Errorf("%s: ending the plugin: %w", c.name, perr)
		}
	}
	return err
}

// CheckGuards waits for the queued commands and reports an error if a guard
// of t was overwritten.
func (c *client) CheckGuards(t *backend.Tensor) error {
	c.flush()
	if c.fault != nil {
		return c.fault
	}
	var st *pb.Status
	err := c.wait("checking the guards of "+t.String(), func(ctx context.Context) error {
		var err error
		st, err = c.rpc.CheckGuards(ctx, &pb.TensorRequest{Seq: c.seq, Id: t.Storage().ID})
		return err
	})
	if err != nil {
		return c.setFault(err)
	}
	if st.GetError() != nil {
		err := errorFromPB(st.Error)
		if errors.Is(err, ErrProtocol) {
			return c.setFault(err)
		}
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return nil
}

// remoteErr returns an error the plugin reported. A malformed one means the
// plugin is broken: it becomes the fault.
func (c *client) remoteErr(e *pb.Error) error {
	err := errorFromPB(e)
	if e.Kind == pb.ErrorKind_ERROR_KIND_PROTOCOL {
		err = fmt.Errorf("%s: the plugin refused a command: %w", c.name, err)
	} else if errors.Is(err, ErrProtocol) {
		return c.setFault(err)
	}
	return err
}
