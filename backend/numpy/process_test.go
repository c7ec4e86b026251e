package numpy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/plugin"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"github.com/ijepa-go/ijepa/internal/testdep"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// requireReady skips t when Python lacks the plugin's modules (fails it
// under the test command, whose scripts/deps.sh --test installs them).
func requireReady(t *testing.T) {
	t.Helper()
	if err := Ready(); err != nil {
		testdep.Skip(t, "%v", err)
	}
}

// lockedBuffer collects a process's standard error.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is the plugin started the way go-plugin starts it, talked to over
// plain gRPC, so that tests can send what the Go host never sends.
type proc struct {
	cmd    *exec.Cmd
	done   chan error // the process's exit
	stderr *lockedBuffer
	conn   *grpc.ClientConn
	rpc    pb.BackendClient
	stream grpc.ClientStreamingClient[pb.Batch, pb.SubmitReply]
	seq    uint64
}

// start runs the plugin, checks its handshake line, says Hello and opens
// the Submit stream.
func start(t *testing.T) *proc {
	t.Helper()
	return startHello(t, backend.CatalogueHash())
}

// startHello is start with the catalogue hash the host says in Hello.
func startHello(t *testing.T, hash string) *proc {
	t.Helper()
	requireReady(t)
	p := &proc{cmd: exec.Command("./" + Executable), done: make(chan error, 1), stderr: &lockedBuffer{}}
	p.cmd.Env = append(os.Environ(), plugin.Handshake.MagicCookieKey+"="+plugin.Handshake.MagicCookieValue)
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(20 * time.Second):
		t.Fatalf("no handshake line in 20 s; stderr: %s", p.stderr)
	}
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) < 5 || f[0] != "1" || f[1] != fmt.Sprint(plugin.ProtocolVersion) || f[2] != "unix" || f[4] != "grpc" {
		t.Fatalf("handshake line %q, want 1|%d|unix|PATH|grpc|; stderr: %s", line, plugin.ProtocolVersion, p.stderr)
	}
	conn, err := grpc.NewClient("unix:"+f[3], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p.conn, p.rpc = conn, pb.NewBackendClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rep, err := p.rpc.Hello(ctx, &pb.HelloRequest{ApiVersion: backend.APIVersion, CatalogueHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ApiVersion != backend.APIVersion || rep.CatalogueHash != backend.CatalogueHash() || !rep.Info.GetGuards() {
		t.Fatalf("Hello: %v", rep)
	}
	if p.stream, err = p.rpc.Submit(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// send sends one batch with the next sequence number.
func (p *proc) send(t *testing.T, cmds ...*pb.Command) {
	t.Helper()
	p.seq++
	if err := p.stream.Send(&pb.Batch{Seq: p.seq, Commands: cmds}); err != nil {
		t.Fatal(err)
	}
}

// sync waits for the batches sent and returns the sticky error.
func (p *proc) sync(t *testing.T) *pb.Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := p.rpc.Sync(ctx, &pb.SyncRequest{Seq: p.seq})
	if err != nil {
		t.Fatalf("Sync: %v; stderr: %s", err, p.stderr)
	}
	return st.Error
}

// read reads tensor id: its bytes, or the error of the reply's status.
func (p *proc) read(t *testing.T, id uint64) ([]byte, *pb.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := p.rpc.Read(ctx, &pb.ReadRequest{Seq: p.seq, Id: id})
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for first := true; ; first = false {
		m, err := stream.Recv()
		if err != nil {
			if first {
				t.Fatalf("Read: %v", err)
			}
			return data, nil
		}
		if first != (m.Status != nil) {
			t.Fatalf("read reply: status in message %v, want it in the first only", m)
		}
		if first && m.Status.Error != nil {
			return nil, m.Status.Error
		}
		if int(m.Offset) != len(data) || len(m.Data) > plugin.ChunkBytes {
			t.Fatalf("read reply: %d bytes at offset %d after %d bytes (chunks of at most %d)", len(m.Data), m.Offset, len(data), plugin.ChunkBytes)
		}
		data = append(data, m.Data...)
	}
}

// exited waits up to d for the process to end and returns its error.
func (p *proc) exited(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("the plugin still runs %v later; stderr: %s", d, p.stderr)
		return nil
	}
}

func newT(id uint64, dt backend.DType, shape ...int64) *pb.Command {
	return &pb.Command{New: &pb.NewTensor{Id: id, Dtype: uint32(dt), Shape: shape}}
}

// view is one argument of an op: a tensor id seen with a shape.
type view struct {
	id   uint64
	dims []int64
}

func v(id uint64, dims ...int64) view { return view{id, dims} }

func runOp(op backend.Op, attrs *backend.Attrs, args ...view) *pb.Command {
	if attrs == nil {
		attrs = &backend.Attrs{}
	}
	r := &pb.RunOp{Op: uint32(op), Attrs: backend.EncodeAttrs(op, *attrs)}
	for _, a := range args {
		r.Ids = append(r.Ids, a.id)
		r.Ranks = append(r.Ranks, uint32(len(a.dims)))
		r.Dims = append(r.Dims, a.dims...)
	}
	return &pb.Command{Run: r}
}

func write(id, off uint64, data []byte) *pb.Command {
	return &pb.Command{Write: &pb.WriteChunk{Id: id, Offset: off, Data: data}}
}

func f32Bytes(vals ...float32) []byte {
	b := make([]byte, 4*len(vals))
	for i, x := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func i32Bytes(vals ...int32) []byte {
	b := make([]byte, 4*len(vals))
	for i, x := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

// The plugin computes what it is sent, reads back in chunks of at most
// 1 MiB at the right offsets, takes writes in chunks, and exits promptly
// once closed.
func TestComputesAndCloses(t *testing.T) {
	p := start(t)
	const n = 300_000 // 1.2 MB: two chunks each way
	big := make([]float32, n)
	for i := range big {
		big[i] = float32(i%1000) - 500
	}
	raw := f32Bytes(big...)
	p.send(t, newT(1, backend.F32, n), write(1, 0, raw[:plugin.ChunkBytes]), write(1, plugin.ChunkBytes, raw[plugin.ChunkBytes:]),
		newT(2, backend.F32, 2, n/2),
		runOp(backend.OpScale, &backend.Attrs{Alpha: -0.5}, v(2, 2, n/2), v(1, 2, n/2)))
	if e := p.sync(t); e != nil {
		t.Fatalf("error %v", e)
	}
	got, e := p.read(t, 2)
	if e != nil {
		t.Fatal(e)
	}
	for i := range big {
		if x := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:])); x != -0.5*big[i] {
			t.Fatalf("element %d: %v, want %v", i, x, -0.5*big[i])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := p.rpc.Close(ctx, &pb.SyncRequest{Seq: p.seq})
	if err != nil || st.Error != nil {
		t.Fatalf("Close: %v, %v", st, err)
	}
	if _, err := p.stream.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.exited(t, 3*time.Second); err != nil {
		t.Errorf("exit after Close: %v; stderr: %s", err, p.stderr)
	}
	t.Logf("exited %v after the stream closed", time.Since(start).Round(time.Millisecond))
}

// When the host goes away without closing, the plugin exits by itself with
// status 1 and says why.
func TestExitsWhenTheHostIsGone(t *testing.T) {
	p := start(t)
	p.send(t, newT(1, backend.F32, 4))
	if e := p.sync(t); e != nil {
		t.Fatal(e)
	}
	p.conn.Close() // as when the host process dies
	err := p.exited(t, 5*time.Second)
	if exitCode(err) != 1 || !strings.Contains(p.stderr.String(), "ended without closing the backend") {
		t.Errorf("exit %v; stderr: %s", err, p.stderr)
	}
}

// Run by hand, the plugin says what it is and exits with status 1.
func TestByHand(t *testing.T) {
	requireReady(t)
	out, err := exec.Command("./" + Executable).CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), "This binary is a plugin") {
		t.Fatalf("exit %d (%v), output %q", code, err, out)
	}
}

func exitCode(err error) int {
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// The Python unit tests beside the ops (numpy_ops_test.py) pass.
func TestPythonUnitTests(t *testing.T) {
	requireReady(t)
	out, err := exec.Command(Python, "-B", "-m", "unittest", "numpy_ops_test").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -m unittest numpy_ops_test: %v\n%s", Python, err, out)
	}
}
