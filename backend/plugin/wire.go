package plugin

import (
	"errors"
	"fmt"
	"math"

	"github.com/ijepa-go/ijepa/backend"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
)

// Conversions between package backend's types and the protocol's messages,
// shared by client and server. Everything read from the wire is validated.

// maxElements bounds the number of elements of a tensor on the wire, so that
// a shape's product can neither overflow nor ask for absurd memory.
const maxElements = 1 << 40

// shapeToPB converts a shape for the wire.
func shapeToPB(s backend.Shape) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// shapeFromPB converts and validates a shape from the wire: at least one
// dimension, each positive, and a product of at most maxElements.
func shapeFromPB(dims []int64) (backend.Shape, error) {
	if len(dims) == 0 {
		return nil, errors.New("shape has no dimensions")
	}
	s := make(backend.Shape, len(dims))
	n := int64(1)
	for i, d := range dims {
		if d <= 0 || d > maxElements || n > maxElements/d {
			return nil, fmt.Errorf("shape %v: dimension %d out of range (elements at most %d)", dims, d, int64(maxElements))
		}
		n *= d
		s[i] = int(d)
	}
	return s, nil
}

// dtypeFromPB converts and validates a dtype number from the wire.
func dtypeFromPB(d uint32) (backend.DType, error) {
	if d > math.MaxUint8 || !backend.DType(d).Valid() {
		return 0, fmt.Errorf("unknown dtype %d", d)
	}
	return backend.DType(d), nil
}

// opFromPB converts and validates an op number from the wire.
func opFromPB(o uint32) (backend.Op, error) {
	if o > math.MaxUint16 || !backend.Op(o).Valid() {
		return 0, fmt.Errorf("op %d is not in the catalogue", o)
	}
	return backend.Op(o), nil
}

func infoToPB(i backend.Info) *pb.Info {
	out := &pb.Info{Backend: i.Backend, Device: i.Device, Kind: i.Kind, Memory: i.Memory, MaxTensorBytes: i.MaxTensorBytes, Guards: i.Guards}
	for _, d := range i.DTypes {
		out.Dtypes = append(out.Dtypes, uint32(d))
	}
	for _, o := range i.Ops {
		out.Ops = append(out.Ops, uint32(o))
	}
	for _, l := range i.Limits {
		out.Limits = append(out.Limits, &pb.Limit{Name: l[0], Value: l[1]})
	}
	return out
}

// infoFromPB converts and validates the Info of a Hello reply.
func infoFromPB(i *pb.Info) (backend.Info, error) {
	if i == nil {
		return backend.Info{}, errors.New("no device info")
	}
	if i.Memory < 0 || i.MaxTensorBytes < 0 {
		return backend.Info{}, fmt.Errorf("negative memory %d or tensor limit %d", i.Memory, i.MaxTensorBytes)
	}
	out := backend.Info{Backend: i.Backend, Device: i.Device, Kind: i.Kind, Memory: i.Memory, MaxTensorBytes: i.MaxTensorBytes, Guards: i.Guards}
	for _, d := range i.Dtypes {
		dt, err := dtypeFromPB(d)
		if err != nil {
			return backend.Info{}, err
		}
		out.DTypes = append(out.DTypes, dt)
	}
	if !out.SupportsDType(backend.F32) {
		return backend.Info{}, errors.New("f32 is not among the dtypes (every backend must support it)")
	}
	for _, o := range i.Ops {
		op, err := opFromPB(o)
		if err != nil {
			return backend.Info{}, err
		}
		out.Ops = append(out.Ops, op)
	}
	for _, l := range i.Limits {
		out.Limits = append(out.Limits, [2]string{l.GetName(), l.GetValue()})
	}
	return out, nil
}

// kinds maps the sentinel errors of package backend to their wire kinds.
var kinds = []struct {
	sentinel error
	kind     pb.ErrorKind
}{
	{backend.ErrUnsupported, pb.ErrorKind_ERROR_KIND_UNSUPPORTED},
	{backend.ErrReleased, pb.ErrorKind_ERROR_KIND_RELEASED},
	{backend.ErrShape, pb.ErrorKind_ERROR_KIND_SHAPE},
	{backend.ErrIndex, pb.ErrorKind_ERROR_KIND_INDEX},
	{backend.ErrClosed, pb.ErrorKind_ERROR_KIND_CLOSED},
	{errProtocol, pb.ErrorKind_ERROR_KIND_PROTOCOL},
}

// errProtocol marks a broken protocol: the other side sent what the
// protocol does not allow.
var errProtocol = errors.New("protocol error")

// errorToPB encodes err (an *backend.OpError or any error) for the wire;
// command is the failing command's position in the stream, 0 if unknown.
func errorToPB(err error, command uint64) *pb.Error {
	e := &pb.Error{Message: err.Error(), Command: command}
	var oe *backend.OpError
	if errors.As(err, &oe) {
		e.Op, e.Args, e.Message = uint32(oe.Op), oe.Args, oe.Err.Error()
	}
	for _, k := range kinds {
		if errors.Is(err, k.sentinel) {
			e.Kind = k.kind
			break
		}
	}
	return e
}

// remoteError is an error the plugin reported. It unwraps to the sentinel
// of its kind, so errors.Is(err, backend.ErrShape) works across the wire.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// errorFromPB decodes a plugin's error. An op's error becomes a
// *backend.OpError naming the op and its arguments. A malformed error is
// itself reported as a protocol error.
func errorFromPB(e *pb.Error) error {
	var sentinel error
	if e.Kind != pb.ErrorKind_ERROR_KIND_OTHER {
		for _, k := range kinds {
			if k.kind == e.Kind {
				sentinel = k.sentinel
			}
		}
		if sentinel == nil {
			return fmt.Errorf("%w: the plugin reported an error of unknown kind %d: %s", errProtocol, int32(e.Kind), e.Message)
		}
	}
	msg := e.Message
	if msg == "" {
		msg = "unspecified error"
	}
	if e.Command > 0 {
		msg += fmt.Sprintf(" (command %d of the stream)", e.Command)
	}
	err := error(&remoteError{msg: msg, sentinel: sentinel})
	if e.Op == 0 {
		return err
	}
	op, oerr := opFromPB(e.Op)
	if oerr != nil {
		return fmt.Errorf("%w: the plugin reported an error of an %v: %s", errProtocol, oerr, e.Message)
	}
	return &backend.OpError{Op: op, Args: e.Args, Err: err}
}
