package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"google.golang.org/grpc"
)

// The test binary doubles as a plugin: run with IJEPA_PLUGIN_TEST_MODE set
// (as the subprocess tests start it), it serves a backend instead of
// testing, so the tests need no separate build.
const modeEnv = "IJEPA_PLUGIN_TEST_MODE"

// With IJEPA_PLUGIN_TEST_PIDFILE also set, the plugin writes its process id
// to that file first (for a plugin the host starts through a script).
const pidEnv = "IJEPA_PLUGIN_TEST_PIDFILE"

// With IJEPA_PLUGIN_TEST_HOST set instead, it is a host that opens the
// plugin and waits to be killed (the test of a host that dies).
const hostEnv = "IJEPA_PLUGIN_TEST_HOST"

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(Handshake.MagicCookieKey) != "": // started by a host
		if f := os.Getenv(pidEnv); f != "" {
			if err := os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
				panic(err)
			}
		}
		servePluginMode(os.Getenv(modeEnv))
		os.Exit(0)
	case os.Getenv(hostEnv) != "":
		hostAndWait()
	}
	os.Exit(m.Run())
}

// hostAndWait opens this binary as a plugin, prints the plugin's process id,
// runs one op and waits to be killed.
func hostAndWait() {
	b, err := Open(os.Args[0], Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(asClient(b).pid())
	x := b.New(backend.F32, 4)
	backend.Fill(b, x, 1)
	if err := b.Sync(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	select {}
}

// servePluginMode serves the CPU backend, well or badly:
//
//	cpu          correctly
//	bare         correctly, without go-plugin's server: docs/PLUGINS.md's recipe for other languages
//	version      with another protocol version in the handshake
//	hash         with another op catalogue hash in Hello
//	exit-on-gelu exits (status 3, a line on stderr) when asked to run gelu
//	hang-on-gelu blocks forever in gelu
//	mute         never prints the go-plugin handshake
//	silent       prints the handshake, then accepts connections and never answers
//	deaf         serves gRPC, but never answers Hello or Progress
//	gone         prints the handshake, then exits (status 4, a line on stderr)
func servePluginMode(mode string) {
	inner := backend.Backend(cpu.New())
	var srv pb.BackendServer
	hs := Handshake
	switch mode {
	case "cpu":
	case "bare":
		serveBare(inner)
	case "version":
		hs.ProtocolVersion = ProtocolVersion + 1
	case "hash":
		srv = wrongHash{NewServer(inner)}
	case "exit-on-gelu":
		inner = &onOp{Backend: inner, op: backend.OpGELU, do: func() {
			// Straight to file descriptor 2, as a crash writes: go-plugin
			// forwards os.Stderr asynchronously, and exiting can beat it.
			fmt.Fprintln(os.NewFile(2, "stderr"), "test plugin: exiting in gelu as asked")
			os.Exit(3)
		}}
	case "hang-on-gelu":
		inner = &onOp{Backend: inner, op: backend.OpGELU, do: func() { select {} }}
	case "mute":
		select {}
	case "silent":
		serveSilent()
	case "deaf":
		srv = deaf{NewServer(inner)}
	case "gone":
		fmt.Printf("1|%d|unix|%s|grpc|\n", ProtocolVersion, filepath.Join(os.TempDir(), "no-such-socket"))
		fmt.Fprintln(os.Stderr, "test plugin: exiting after the handshake as asked")
		time.Sleep(200 * time.Millisecond) // so that the host reads the handshake before it sees the exit
		os.Exit(4)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", modeEnv, mode)
		os.Exit(2)
	}
	s := NewServer(inner)
	if srv == nil {
		srv = s
	}
	goplugin.Serve(serveConfig(hs, srv, s.exitIfOpen))
}

// serveBare serves b the way docs/PLUGINS.md tells authors in other
// languages to: check the cookie, listen on a Unix socket, print the
// handshake line, serve only the Backend service, exit when the host's
// connection ends.
func serveBare(b backend.Backend) {
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		fmt.Fprintln(os.Stderr, "this is an ijepa backend plugin; ijepa runs it")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "bare-plugin")
	if err != nil {
		panic(err)
	}
	sock := filepath.Join(dir, "socket")
	l, err := net.Listen("unix", sock)
	if err != nil {
		panic(err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.StatsHandler(connEnd(func() {
		os.RemoveAll(dir)
		os.Exit(0)
	})))
	pb.RegisterBackendServer(srv, NewServer(b))
	fmt.Printf("1|%d|unix|%s|grpc|\n", ProtocolVersion, sock)
	srv.Serve(l)
	os.Exit(0)
}

// serveSilent prints the go-plugin handshake for a TCP socket, accepts
// every connection on it and never reads or answers: a plugin wedged before
// its gRPC server runs.
func serveSilent() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("1|%d|tcp|%s|grpc|\n", ProtocolVersion, l.Addr())
	var held []net.Conn
	for {
		c, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		held = append(held, c)
	}
}

// onOp is a backend that calls do instead of running op.
type onOp struct {
	backend.Backend
	op backend.Op
	do func()
}

func (b *onOp) Run(c backend.Call) {
	if c.Op == b.op {
		b.do()
		return
	}
	b.Backend.Run(c)
}

// failOn is a device whose op fails with err (after the host-side checks
// passed), as a device fault would.
type failOn struct {
	backend.Device
	op  backend.Op
	err error
}

func (d *failOn) Run(c backend.Call) error {
	if c.Op == d.op {
		return d.err
	}
	return d.Device.Run(c)
}

// wrongHash answers Hello with another catalogue.
type wrongHash struct{ *Server }

func (s wrongHash) Hello(ctx context.Context, req *pb.HelloRequest) (*pb.HelloReply, error) {
	rep, err := s.Server.Hello(ctx, req)
	if err == nil {
		rep.CatalogueHash = "0123456789abcdef"
	}
	return rep, err
}

// deaf answers neither Hello nor Progress.
type deaf struct{ *Server }

func (deaf) Hello(context.Context, *pb.HelloRequest) (*pb.HelloReply, error) { select {} }
func (deaf) Progress(context.Context, *pb.ProgressRequest) (*pb.ProgressReply, error) {
	select {}
}

// inProcess connects a client to srv over a real gRPC connection in this
// process (go-plugin's test helper, whose server keeps gRPC's default 4 MiB
// limit: everything must arrive in chunks).
func inProcess(t testing.TB, srv pb.BackendServer, o Options) (*backend.Front, error) {
	t.Helper()
	client, _ := goplugin.TestPluginGRPCConn(t, false, goplugin.PluginSet{pluginName: &grpcPlugin{srv: srv}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	d := raw.(dispensed)
	o, err = o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c, err := connect("plugin:test", d.rpc, d.ctx, nil, o, time.Now().Add(o.Timeout), nil, nil)
	if err != nil {
		return nil, err
	}
	return backend.NewFront(c), nil
}

// mustInProcess is inProcess for a server of inner that must connect.
func mustInProcess(t testing.TB, inner backend.Backend) *backend.Front {
	t.Helper()
	b, err := inProcess(t, NewServer(inner), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// fast are options for tests of faults: short timeouts, frequent polls.
var fast = Options{Timeout: 1500 * time.Millisecond, PingTimeout: time.Second, PollInterval: 100 * time.Millisecond}

// within fails the test if fn takes longer than d, and returns fn's error.
func within(t *testing.T, d time.Duration, fn func() error) error {
	t.Helper()
	return endsWithin(t, d, nil, fn)
}

// endsWithin is within for a call that may never return (the fault under
// test is a hang): once d has passed, kill runs (it ends the plugin's
// processes), so that fn returns and the test ends instead of hanging.
func endsWithin(t *testing.T, d time.Duration, kill func(), fn func() error) error {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
	}
	if kill != nil {
		kill()
	}
	err := <-done
	t.Errorf("took %v, want at most %v", time.Since(start).Round(time.Millisecond), d)
	return err
}

// wantErr fails the test unless err wraps target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one wrapping %q", err, target)
	}
}

func mustF32(t testing.TB, b backend.Backend, v []float32, shape ...int) *backend.Tensor {
	t.Helper()
	x := backend.FromF32(b, v, shape...)
	return x
}

func seq(n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = scale * float32(i%97-48)
	}
	return v
}
