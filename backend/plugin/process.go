package plugin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/ijepa-go/ijepa/backend"
	"google.golang.org/grpc"
)

// The plugin process: starting it through go-plugin, explaining why a start
// failed, and ending it. Everything that concerns the process itself (its
// start-up deadline, how it is killed) lives here; client.go is the backend
// over its connection and watchdog.go watches it while the host waits.

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
	return backend.NewFront(c), nil
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

// pid returns the plugin's process id, 0 when it has none.
func (c *client) pid() int {
	if c.proc == nil {
		return 0
	}
	if rc := c.proc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}
