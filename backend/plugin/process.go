package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/ijepa-go/ijepa/backend"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// The plugin process: starting it through go-plugin, explaining why a start
// failed, and ending it. Everything that concerns the process itself (its
// start-up deadline, how it is killed) lives here; client.go is the backend
// over its connection and watchdog.go watches it while the host waits.
//
// Every wait on the process is bounded by Options.Timeout: the start (the
// handshake line, the gRPC connection and Hello, together) and its end. The
// plugin runs in a process group of its own, and every kill (go-plugin's,
// Close's, KillAll's) kills the group, so that a child it started (a
// script's, run without exec) cannot outlive it holding the pipes go-plugin
// reads until they close.

// process is a plugin's process and go-plugin's client over it.
type process struct {
	gp      *goplugin.Client
	run     *procRunner
	timeout time.Duration
}

// Open starts the plugin executable at path and connects to it.
func Open(path string, opts Options) (*backend.Front, error) {
	return open("plugin:"+path, path, opts)
}

func open(name, path string, opts Options) (*backend.Front, error) {
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
	deadline := time.Now().Add(o.Timeout)
	p := &process{run: &procRunner{path: abs}, timeout: o.Timeout}
	p.gp = goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          goplugin.PluginSet{pluginName: &grpcPlugin{}},
		RunnerFunc:       p.run.prepare,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     o.Timeout,
		Stderr:           stderr, // before the handshake, and what a crash writes
		SyncStderr:       stderr, // what a Go plugin writes to os.Stderr after it
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: exit, JSONFormat: true, Level: hclog.Info}),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))},
	})
	if _, err := p.gp.Start(); err != nil {
		p.end(false)
		return nil, startError(name, o.Timeout, err, stderr, exit)
	}
	d, err := p.dial(deadline)
	if err != nil {
		p.end(false)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			err = fmt.Errorf("%s: %w: it printed the go-plugin handshake but did not answer on its socket within %v (%s)%s",
				name, ErrStart, o.Timeout, TimeoutEnv, stderr.quote())
		case errors.Is(err, errEnded):
			err = fmt.Errorf("%s: %w: it exited (%s) after the go-plugin handshake, before it answered on its socket%s",
				name, ErrStart, exit.status(), stderr.quote())
		default:
			err = startError(name, o.Timeout, err, stderr, exit)
		}
		return nil, err
	}
	c, err := connect(name, d.rpc, d.ctx, p, o, deadline, stderr, exit)
	if err != nil {
		p.end(false)
		return nil, err
	}
	return backend.NewFront(c), nil
}

// errEnded: the plugin process ended while the host connected to it.
var errEnded = errors.New("the plugin process ended")

// dial connects to the plugin's gRPC server by the deadline: go-plugin's
// client, the Backend service's stub, and the connection through its HTTP/2
// handshake. A plugin that accepts the connection and answers nothing
// would otherwise hold the host for gRPC's own 20 s connection deadline,
// whatever the timeout, and then fail with gRPC's words. The error wraps
// context.DeadlineExceeded when the deadline passed, errEnded when the
// process ended first.
func (p *process) dial(deadline time.Time) (dispensed, error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	type result struct {
		d   dispensed
		err error
	}
	// The goroutine ends once the process has been killed, if not before:
	// go-plugin's Client returns when the connection breaks.
	done := make(chan result, 1)
	go func() {
		cl, err := p.gp.Client()
		if err != nil {
			done <- result{err: err}
			return
		}
		raw, err := cl.Dispense(pluginName)
		if err != nil {
			done <- result{err: err}
			return
		}
		d := raw.(dispensed)
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		defer context.AfterFunc(d.ctx, stop)() // go-plugin cancels d.ctx when the process ends
		err = ready(ctx, cl.(*goplugin.GRPCClient).Conn)
		if err != nil && d.ctx.Err() != nil {
			err = errEnded
		}
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil {
			return r.d, ctx.Err()
		}
		return r.d, r.err
	case <-ctx.Done():
		return dispensed{}, ctx.Err()
	}
}

// ready waits until conn has made its HTTP/2 handshake with the plugin.
func ready(ctx context.Context, conn *grpc.ClientConn) error {
	for {
		s := conn.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.Idle:
			conn.Connect()
		case connectivity.Shutdown:
			return errors.New("the gRPC connection was closed")
		}
		if !conn.WaitForStateChange(ctx, s) {
			return ctx.Err()
		}
	}
}

// end ends the plugin process and whatever it started. Gracefully,
// go-plugin asks it to shut down and gives it 2 s to exit before it kills
// the process group; otherwise, or when the plugin has not ended within the
// timeout, the group is killed at once. Either way end waits at most the
// timeout for go-plugin to see the end (the pipes closed, the process
// reaped), and returns an error if it did not: something outside the group
// holds the pipes.
func (p *process) end(graceful bool) error {
	if !graceful {
		p.run.Kill(context.Background())
	}
	done := make(chan struct{})
	go func() {
		p.gp.Kill()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(p.timeout):
	}
	if graceful {
		p.run.Kill(context.Background())
		select {
		case <-done:
			return nil
		case <-time.After(p.timeout):
		}
	}
	return fmt.Errorf("its process group was killed, but %v later something still held the pipes it was started with", p.timeout)
}

// exited reports whether go-plugin has seen the process end.
func (p *process) exited() bool { return p.gp.Exited() }

// procRunner is go-plugin's runner.Runner for a plugin executable: it
// starts the process in a process group of its own (on Unix; see
// ownGroup), and its Kill kills the whole group, whoever calls it (go-plugin
// when a start fails or a graceful shutdown does not come, end, KillAll).
type procRunner struct {
	path           string
	cmd            *exec.Cmd
	stdout, stderr io.ReadCloser
	pid            int
	dir            string // go-plugin's directory for the plugin's socket

	mu      sync.Mutex
	reaping bool // Wait has begun: the plugin's pipes have closed
}

var _ runner.Runner = (*procRunner)(nil)

// running holds the runners whose process has started and is not yet
// reaped, for KillAll.
var running sync.Map

// KillAll kills every plugin process this program started that still runs,
// with everything each one started, and removes the directories of their
// sockets. A program that exits without closing its backends (a second
// Ctrl-C) calls it first: the plugins run in process groups of their own,
// so a terminal's Ctrl-C does not reach them.
func KillAll() {
	running.Range(func(r, _ any) bool {
		r.(*procRunner).Kill(context.Background())
		os.RemoveAll(r.(*procRunner).dir)
		return true
	})
}

// prepare is the ClientConfig's RunnerFunc: go-plugin hands it a command
// with the environment the plugin gets, and the directory it made for the
// plugin's socket (which its Kill removes). The plugin's standard input is
// /dev/null rather than go-plugin's choice, the host's: in a process group
// of its own, a plugin that read the host's terminal would be stopped.
func (r *procRunner) prepare(_ hclog.Logger, spec *exec.Cmd, dir string) (runner.Runner, error) {
	r.dir = dir
	r.cmd = exec.Command(r.path)
	r.cmd.Env = spec.Env
	ownGroup(r.cmd)
	var err error
	if r.stdout, err = r.cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if r.stderr, err = r.cmd.StderrPipe(); err != nil {
		return nil, err
	}
	return r, nil
}

// Start starts the process.
func (r *procRunner) Start(context.Context) error {
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.pid = r.cmd.Process.Pid
	running.Store(r, true)
	return nil
}

// Wait reaps the process. go-plugin calls it once the plugin's standard
// output and error have closed, that is once no process holds them.
func (r *procRunner) Wait(context.Context) error {
	r.mu.Lock()
	r.reaping = true
	r.mu.Unlock()
	err := r.cmd.Wait()
	running.Delete(r)
	return err
}

// Kill kills the process and, while its pipes are open, its whole process
// group. Until Wait begins the process is not reaped, so the group's id
// (the process's) cannot have passed to another group; after that, only
// the process itself is killed (through its pidfd where Go has one).
func (r *procRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	if !r.reaping {
		killGroup(r.pid)
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Stdout, Stderr and Name are what go-plugin reads: the plugin's standard
// output (the handshake) and error, and its path.
func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.path }

// ID is the process id, "" before the process started.
func (r *procRunner) ID() string {
	if r.pid == 0 {
		return ""
	}
	return strconv.Itoa(r.pid)
}

// Diagnose adds nothing: startError explains a failed handshake.
func (r *procRunner) Diagnose(context.Context) string { return "" }

// PluginToHost and HostToPlugin keep addresses as they are: the plugin runs
// on this machine.
func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}
func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
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

// pid returns the plugin's process id, 0 when it has none.
func (c *client) pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.run.pid
}
