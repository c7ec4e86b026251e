package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/ijepa-go/ijepa/backend"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors of a failing plugin, matched with errors.Is. Each comes wrapped in
// a message that names the plugin and what it was doing.
var (
	// ErrStart: the binary did not complete the go-plugin handshake (it is
	// not an ijepa backend plugin, it exited, or it took too long).
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

// Client is the host side of a plugin: a backend.Backend whose tensors live
// in the plugin process. It queues commands and sends them in batches; Read,
// Sync, Close (and CheckGuards) wait for the plugin. Like every backend it
// is for one goroutine at a time.
type Client struct {
	name   string // "plugin:./ijepa-backend-cpu"
	rpc    pb.BackendClient
	proc   *goplugin.Client // nil when connected in process (tests)
	opts   Options
	info   backend.Info
	guards bool
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
	sticky   backend.Sticky
	fault    error // the plugin failed: every later call fails at once
	closed   bool
}

// guardedClient is a Client whose plugin supports guarded tensors.
type guardedClient struct{ *Client }

var (
	_ backend.Backend = (*Client)(nil)
	_ backend.Guarder = guardedClient{}
)

// Open starts the plugin executable at path and connects to it. The
// returned backend also implements backend.Guarder when the plugin supports
// guarded tensors.
func Open(path string, opts Options) (backend.Backend, error) {
	return open("plugin:"+path, path, opts)
}

func open(name, path string, opts Options) (backend.Backend, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("%s: %s is not an executable file", name, path)
	}
	stderr := &tail{w: o.Stderr}
	exit := &exitLog{}
	proc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          goplugin.PluginSet{pluginName: &grpcPlugin{}},
		Cmd:              exec.Command(abs),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     o.Timeout,
		Stderr:           stderr, // before the handshake, and what a crash writes
		SyncStderr:       stderr, // what a Go plugin writes to os.Stderr after it
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: exit, JSONFormat: true, Level: hclog.Info}),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))},
	})
	rpcClient, err := proc.Client()
	if err != nil {
		proc.Kill()
		return nil, startError(name, o.Timeout, err, stderr, exit)
	}
	raw, err := rpcClient.Dispense(pluginName)
	if err != nil {
		proc.Kill()
		return nil, fmt.Errorf("%s: %w: %v%s", name, ErrStart, err, stderr.quote())
	}
	d := raw.(dispensed)
	c, err := connect(name, d.rpc, d.ctx, proc, o, stderr, exit)
	if err != nil {
		forceKill(proc)
		return nil, err
	}
	return c, nil
}

// forceKill ends a plugin process that may not answer: go-plugin's Kill
// first asks the plugin to shut down and waits for the answer without a
// deadline, which a stopped or wedged plugin never gives.
func forceKill(proc *goplugin.Client) {
	if !proc.Exited() {
		if rc := proc.ReattachConfig(); rc != nil && rc.Pid > 0 {
			if p, err := os.FindProcess(rc.Pid); err == nil {
				p.Kill()
			}
		}
	}
	proc.Kill()
}

// startError explains why the handshake failed.
func startError(name string, timeout time.Duration, err error, stderr *tail, exit *exitLog) error {
	msg := err.Error()
	var why string
	switch {
	case strings.Contains(msg, "incompatible API version"):
		var theirs int
		_, after, _ := strings.Cut(msg, "Plugin version:")
		if _, e := fmt.Sscanf(after, "%d", &theirs); e == nil {
			return fmt.Errorf("%s: %w: the plugin speaks protocol version %d, this ijepa speaks %d (backend API version %d); "+
				"rebuild the plugin against this version of package backend", name, ErrVersion, theirs, ProtocolVersion, backend.APIVersion)
		}
		return fmt.Errorf("%s: %w: %v", name, ErrVersion, err)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		line, _, _ := strings.Cut(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n")
		if line == "" {
			// Its standard output closed: it ended (the process is
			// reaped by now).
			why = fmt.Sprintf("it exited (%s) before the go-plugin handshake", exit.status())
			break
		}
		why = fmt.Sprintf("it is not an ijepa backend plugin: instead of the go-plugin handshake it printed %q", line)
	case strings.Contains(msg, "timeout while waiting"):
		why = fmt.Sprintf("no go-plugin handshake within %v (%s)", timeout, TimeoutEnv)
	case strings.Contains(msg, "exited before we could connect"):
		why = "it exited before the go-plugin handshake"
	default:
		why = msg
	}
	return fmt.Errorf("%s: %w: %s%s", name, ErrStart, why, stderr.quote())
}

// connect says Hello, checks the versions and opens the op stream. parent
// is cancelled by go-plugin when the process exits.
func connect(name string, rpc pb.BackendClient, parent context.Context, proc *goplugin.Client, o Options, stderr *tail, exit *exitLog) (backend.Backend, error) {
	c := &Client{name: name, rpc: rpc, proc: proc, opts: o, stderr: stderr, exit: exit}
	if c.stderr == nil {
		c.stderr = &tail{}
	}
	if c.exit == nil {
		c.exit = &exitLog{}
	}
	c.ctx, c.cancel = context.WithCancelCause(parent)
	var rep *pb.HelloReply
	err := c.wait("saying hello", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		var err error
		rep, err = rpc.Hello(ctx, &pb.HelloRequest{ApiVersion: backend.APIVersion, CatalogueHash: backend.CatalogueHash()})
		return err
	})
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
	c.info, c.guards = info, rep.Guards
	if err := c.wait("opening the op stream", func(ctx context.Context) error {
		var err error
		c.stream, err = rpc.Submit(ctx)
		return err
	}); err != nil {
		c.cancel(err)
		return nil, err
	}
	if c.guards {
		return guardedClient{c}, nil
	}
	return c, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// pid returns the plugin's process id, 0 when it has none.
func (c *Client) pid() int {
	if c.proc == nil {
		return 0
	}
	if rc := c.proc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Info describes the plugin's device; Backend is the spec it was opened
// with and Limits start with the plugin's own backend name.
func (c *Client) Info() backend.Info { return c.info }

// owns reports whether t is a tensor of this client.
func (c *Client) owns(t *backend.Tensor) bool { return t.Storage().Impl == c }

// New queues the allocation of a tensor and returns its handle at once.
func (c *Client) New(dt backend.DType, shape ...int) (*backend.Tensor, error) {
	return c.newTensor(dt, shape, false)
}

func (c *Client) newTensor(dt backend.DType, shape backend.Shape, guarded bool) (*backend.Tensor, error) {
	switch {
	case c.closed:
		return nil, fmt.Errorf("%s: new: %w", c.name, backend.ErrClosed)
	case c.fault != nil:
		return nil, c.fault
	}
	if err := backend.CheckNew(dt, shape); err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	if _, err := shapeFromPB(shapeToPB(shape)); err != nil {
		return nil, fmt.Errorf("%s: new %v: %v", c.name, dt, err)
	}
	if !c.info.SupportsDType(dt) {
		return nil, fmt.Errorf("%s: new %v%v: %w", c.name, dt, shape, backend.ErrUnsupported)
	}
	if bytes := int64(shape.NumElements()) * int64(dt.Size()); c.info.MaxTensorBytes > 0 && bytes > c.info.MaxTensorBytes {
		return nil, fmt.Errorf("%s: new %v%v: %d bytes, the device's limit is %d", c.name, dt, shape, bytes, c.info.MaxTensorBytes)
	}
	t := backend.NewTensor(dt, shape, c)
	c.push(&pb.Command{New: &pb.NewTensor{Id: t.Storage().ID, Dtype: pb.DType(dt), Shape: shapeToPB(shape), Guarded: guarded}}, 0)
	return t, nil
}

// Write queues a copy of src, in chunks of at most ChunkBytes.
func (c *Client) Write(t *backend.Tensor, src []byte) {
	if c.sticky.Err() != nil {
		return
	}
	if c.closed {
		c.sticky.Set(fmt.Errorf("%s: write: %w", c.name, backend.ErrClosed))
		return
	}
	if err := backend.CheckWrite(t, src); err != nil {
		c.sticky.Set(fmt.Errorf("%s: %w", c.name, err))
		return
	}
	if !c.owns(t) {
		c.sticky.Set(fmt.Errorf("%s: write to %v, a tensor of another backend", c.name, t))
		return
	}
	t.NoteWrite(src)
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
}

// Run checks the call on the host and queues it.
func (c *Client) Run(call backend.Call) {
	if c.sticky.Err() != nil {
		return
	}
	if c.closed {
		c.sticky.Set(backend.NewOpError(call, backend.ErrClosed))
		return
	}
	if err := backend.Check(call); err != nil {
		c.sticky.Set(err)
		return
	}
	if !c.info.Supports(call.Op) {
		c.sticky.Set(backend.NewOpError(call, fmt.Errorf("%w (%s)", backend.ErrUnsupported, c.name)))
		return
	}
	m := &pb.RunOp{Op: pb.Op(call.Op), Ids: make([]uint64, len(call.Args)), Ranks: make([]uint32, len(call.Args)), Attrs: attrsToPB(call.Attrs)}
	for i, t := range call.Args {
		if t == nil {
			continue
		}
		if !c.owns(t) {
			c.sticky.Set(backend.NewOpError(call, fmt.Errorf("%v is a tensor of another backend", t)))
			return
		}
		m.Ids[i], m.Ranks[i] = t.Storage().ID, uint32(len(t.Shape()))
		for _, d := range t.Shape() {
			m.Dims = append(m.Dims, int64(d))
		}
	}
	c.push(&pb.Command{Run: m}, 0)
}

// Release drops a handle; when it was the storage's last, a release is
// queued (releases share one command until the batch is sent).
func (c *Client) Release(t *backend.Tensor) {
	if t == nil {
		return
	}
	if !c.owns(t) {
		c.sticky.Set(fmt.Errorf("%s: release of %v, a tensor of another backend", c.name, t))
		return
	}
	if !t.Drop() || c.closed || c.fault != nil {
		return
	}
	id := t.Storage().ID
	if n := len(c.batch.Commands); n > 0 {
		if r := c.batch.Commands[n-1].Release; r != nil {
			r.Ids = append(r.Ids, id)
			return
		}
	}
	c.push(&pb.Command{Release: &pb.Release{Ids: []uint64{id}}}, 0)
}

// push appends a command to the batch and sends the batch when it is full.
func (c *Client) push(cmd *pb.Command, dataBytes int) {
	c.batch.Commands = append(c.batch.Commands, cmd)
	c.batchLen += dataBytes
	if len(c.batch.Commands) >= batchOps || c.batchLen >= batchBytes {
		c.flush()
	}
}

// flush sends the queued commands as one batch on the op stream.
func (c *Client) flush() {
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
func (c *Client) Read(t *backend.Tensor, dst []byte) error {
	if err := backend.CheckRead(t, dst); err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if !c.owns(t) {
		return fmt.Errorf("%s: read of %v, a tensor of another backend", c.name, t)
	}
	if c.closed {
		return fmt.Errorf("%s: read: %w", c.name, backend.ErrClosed)
	}
	c.flush()
	if err := c.sticky.Err(); err != nil {
		return err
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
		return c.setRemote(remote)
	}
	return nil
}

// Sync sends the queued commands, waits for them and returns the sticky
// error.
func (c *Client) Sync() error {
	if c.closed {
		return fmt.Errorf("%s: sync: %w", c.name, backend.ErrClosed)
	}
	c.flush()
	if c.fault != nil {
		return c.fault
	}
	if err := c.syncCall("synchronising", c.rpc.Sync); err != nil {
		return err
	}
	return c.sticky.Err()
}

// syncCall runs a call that answers with a Status and records its error.
func (c *Client) syncCall(what string, call func(context.Context, *pb.SyncRequest, ...grpc.CallOption) (*pb.Status, error)) error {
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
		return c.setRemote(st.Error)
	}
	return nil
}

// Err returns the sticky error known so far, without waiting.
func (c *Client) Err() error { return c.sticky.Err() }

// Close sends the queued commands, closes the plugin's backend, ends the
// plugin process and returns the sticky error.
func (c *Client) Close() error {
	if c.closed {
		return c.sticky.Err()
	}
	c.flush()
	c.closed = true
	if c.fault == nil {
		c.syncCall("closing", c.rpc.Close) // records the plugin's last error
	}
	if c.fault == nil {
		err := c.wait("closing the op stream", func(context.Context) error {
			_, err := c.stream.CloseAndRecv()
			return err
		})
		if err != nil {
			c.setFault(err)
		}
	}
	c.cancel(fmt.Errorf("%s: %w", c.name, backend.ErrClosed))
	switch {
	case c.proc == nil:
	case c.fault != nil:
		forceKill(c.proc)
	default:
		c.proc.Kill()
	}
	return c.sticky.Err()
}

// NewGuarded queues the allocation of a tensor surrounded by guard regions.
func (g guardedClient) NewGuarded(dt backend.DType, shape ...int) (*backend.Tensor, error) {
	return g.newTensor(dt, shape, true)
}

// CheckGuards waits for the queued commands and reports an error if a guard
// of t was overwritten.
func (g guardedClient) CheckGuards(t *backend.Tensor) error {
	c := g.Client
	if !c.owns(t) {
		return fmt.Errorf("%s: guard check of %v, a tensor of another backend", c.name, t)
	}
	if c.closed {
		return fmt.Errorf("%s: guard check: %w", c.name, backend.ErrClosed)
	}
	c.flush()
	if err := c.sticky.Err(); err != nil {
		return err
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

// setRemote records an error the plugin reported. A malformed one means the
// plugin is broken.
func (c *Client) setRemote(e *pb.Error) error {
	err := errorFromPB(e)
	if e.Kind == pb.ErrorKind_ERROR_KIND_PROTOCOL {
		err = fmt.Errorf("%s: the plugin refused a command: %w", c.name, err)
	} else if errors.Is(err, ErrProtocol) {
		return c.setFault(err)
	}
	return c.sticky.Set(err)
}

// setFault records that the plugin failed: the sticky error, and the fault
// every later call returns. It returns the sticky error.
func (c *Client) setFault(err error) error {
	if c.fault == nil {
		if !strings.HasPrefix(err.Error(), c.name+":") {
			err = fmt.Errorf("%s: %w", c.name, err)
		}
		c.fault = err
		c.cancel(err)
	}
	return c.sticky.Set(c.fault)
}

// wait runs fn, a call to the plugin, under the session. While fn waits, a
// watchdog asks the plugin for progress every PollInterval; if the plugin
// does not answer within PingTimeout or executes nothing for Timeout, the
// session is cancelled and fn returns. The error names the cause: the
// watchdog's verdict, the process's exit, or fn's own error.
func (c *Client) wait(what string, fn func(ctx context.Context) error) error {
	if err := context.Cause(c.ctx); err != nil {
		return c.explain(what, err)
	}
	done := make(chan struct{})
	start := time.Now()
	timer := time.AfterFunc(c.opts.PollInterval, func() { c.watch(what, start, done) })
	err := fn(c.ctx)
	close(done)
	timer.Stop()
	if err == nil {
		return nil
	}
	return c.explain(what, err)
}

// watch is the watchdog of one wait; it returns when done is closed or it
// has cancelled the session.
func (c *Client) watch(what string, start time.Time, done chan struct{}) {
	var last uint64
	since, seen := start, false
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.PingTimeout)
		p, err := c.rpc.Progress(ctx, &pb.ProgressRequest{})
		cancel()
		select {
		case <-done:
			return
		default:
		}
		if c.ctx.Err() != nil {
			return
		}
		switch {
		case status.Code(err) == codes.DeadlineExceeded:
			c.cancel(fmt.Errorf("%s: %w: it did not answer a progress query within %v while %s%s", c.name, ErrHung, c.opts.PingTimeout, what, c.stderr.quote()))
			return
		case err != nil:
			c.cancel(c.explain(what, err))
			return
		case !seen || p.Commands != last:
			last, since, seen = p.Commands, time.Now(), true
		case time.Since(since) > c.opts.Timeout:
			c.cancel(fmt.Errorf("%s: %w: it executed nothing for %v while %s (stuck after command %d; the limit is %v, set by %s)%s",
				c.name, ErrHung, time.Since(since).Round(time.Millisecond), what, p.Commands, c.opts.Timeout, TimeoutEnv, c.stderr.quote()))
			return
		}
		select {
		case <-done:
			return
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// explain turns the error of a call into the reason the plugin failed.
func (c *Client) explain(what string, err error) error {
	cause := context.Cause(c.ctx)
	if c.ctx.Err() != nil && cause != nil && cause != context.Canceled {
		return cause // the watchdog's verdict, or an earlier fault
	}
	if c.proc != nil {
		// A dead process breaks the connection at once; go-plugin notices
		// the exit a moment later.
		for deadline := time.Now().Add(2 * time.Second); !c.proc.Exited() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if c.proc.Exited() {
			return fmt.Errorf("%s: %w (%s) while %s%s", c.name, ErrExited, c.exit.status(), what, c.stderr.quote())
		}
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return fmt.Errorf("%s: %s: %s (%v)%s", c.name, what, s.Message(), s.Code(), c.stderr.quote())
	}
	return fmt.Errorf("%s: %s: %w%s", c.name, what, err, c.stderr.quote())
}
