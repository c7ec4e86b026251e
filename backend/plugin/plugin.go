// Package plugin runs backends out of process: a backend shipped as its own
// executable (in any language that speaks gRPC) is started through
// hashicorp/go-plugin and used as a backend.Backend.
//
// The host side is Open (or backend.Open("plugin:PATH")), which returns a
// client that implements backend.Backend. The plugin side is Serve: a Go
// plugin's main opens its backend and calls plugin.Serve(b). The wire
// protocol is pluginpb/backend.proto; docs/PLUGINS.md describes it for
// authors of plugins in other languages.
//
// Ops never cost a round trip each. The client assigns tensor ids (the
// Storage.ID of its handles), queues new tensors, writes, ops and releases as
// commands, and streams them to the plugin in batches without waiting. Read,
// Sync and Close wait; the plugin's first error comes back with them as a
// backend.OpError naming the op and shapes that failed. Writes and reads
// larger than a chunk (1 MiB) travel in chunks, so no message comes near
// gRPC's limits, which both sides raise to 256 MiB all the same.
//
// A plugin that is not a plugin, speaks another protocol version, exits, is
// killed, hangs or sends malformed replies gives a clear error, never a hang:
// the client watches the process, puts a deadline on starting, while it
// waits asks the plugin for progress (see Options), and ends the plugin by
// killing its whole process group, so that nothing the plugin started keeps
// the host waiting.
package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"google.golang.org/grpc"
)

// ProtocolVersion is the app protocol version of the go-plugin handshake. It
// is the backend API version: a plugin built against another version of
// this protocol is refused at start (any change to pluginpb/backend.proto
// bumps backend.APIVersion), and one built against another op catalogue is
// refused by Hello, which compares backend.CatalogueHash.
const ProtocolVersion = backend.APIVersion

// Handshake is the go-plugin handshake: the magic cookie (which only tells a
// plugin that an ijepa host started it) and the protocol version.
var Handshake = goplugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "IJEPA_BACKEND_PLUGIN",
	MagicCookieValue: "8d3f1c52a7e04b6f9e2d5a1b7c6e0f43-ijepa-backend",
}

// pluginName is the name the backend service is dispensed under.
const pluginName = "backend"

// Sizes on the wire.
const (
	// MaxMessageBytes is the gRPC message limit both sides set (gRPC's own
	// default is 4 MiB for what a server receives). Nothing this package
	// sends comes near it: data moves in chunks of ChunkBytes.
	MaxMessageBytes = 256 << 20
	// ChunkBytes is the largest piece of tensor data in one message.
	ChunkBytes = 1 << 20
	// batchOps and batchBytes bound a batch: the client sends it when it
	// holds this many commands or this many bytes of write data. A batch
	// costs one message, not a round trip; small batches let the plugin
	// start on a step's first ops while the host still queues the rest
	// (64 was faster than 128, 256 and 512 in BenchmarkStepOverhead).
	batchOps   = 64
	batchBytes = ChunkBytes
)

// Options tune a client. The zero value uses the defaults.
type Options struct {
	// Timeout bounds every wait on the plugin: its start (the handshake
	// line, the connection and Hello, together), each stretch of time in
	// which the plugin executes nothing while the host waits on it, and
	// its end after Close. Default: the environment variable
	// IJEPA_PLUGIN_TIMEOUT (a Go duration such as "90s"), else 60s.
	Timeout time.Duration
	// PingTimeout bounds each progress query; a plugin that cannot answer
	// one in this time is taken as hung. Default 5s. A query also ends
	// when Timeout has passed without progress, so a wait on a plugin
	// that answers nothing ends after about Timeout even when PingTimeout
	// is longer.
	PingTimeout time.Duration
	// PollInterval is how long a wait lasts before the client first asks
	// for progress, and the time between queries. Default 1s, or a quarter
	// of Timeout when that is shorter.
	PollInterval time.Duration
	// Stderr, when set, receives the plugin's standard error. The last
	// lines are kept in any case and quoted when the plugin fails.
	Stderr io.Writer
}

// defaultTimeout is Options.Timeout when neither the field nor the
// environment sets it.
const defaultTimeout = 60 * time.Second

// TimeoutEnv is the environment variable that sets Options.Timeout.
const TimeoutEnv = "IJEPA_PLUGIN_TIMEOUT"

// withDefaults fills unset fields.
func (o Options) withDefaults() (Options, error) {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
		if s := os.Getenv(TimeoutEnv); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return o, fmt.Errorf("%s=%q: want a positive duration such as 90s", TimeoutEnv, s)
			}
			o.Timeout = d
		}
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 5 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = min(time.Second, o.Timeout/4)
	}
	return o, nil
}

// grpcPlugin connects go-plugin to the Backend service: the plugin side
// registers srv, the host side gets a pluginpb.BackendClient.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	srv pluginpb.BackendServer
}

// GRPCServer registers the backend service.
func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterBackendServer(s, p.srv)
	return nil
}

// dispensed is what the host side of grpcPlugin hands out: the service's
// client stub, and a context go-plugin cancels when the process exits.
type dispensed struct {
	rpc pluginpb.BackendClient
	ctx context.Context
}

// GRPCClient returns the service's client stub.
func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return dispensed{rpc: pluginpb.NewBackendClient(c), ctx: ctx}, nil
}

// newGRPCServer is the plugin's gRPC server with the message limits raised.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))...)
}
