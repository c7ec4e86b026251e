package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
)

// The protocol's enums are the catalogue's: same numbers, same names.
func TestEnumsMatchTheCatalogue(t *testing.T) {
	if got, want := len(pb.Op_name), len(backend.Ops())+1; got != want {
		t.Errorf("the proto has %d ops (with OP_UNSPECIFIED), the catalogue %d: update backend.proto", got, want)
	}
	for _, op := range backend.Ops() {
		if got, want := pb.Op_name[int32(op)], "OP_"+strings.ToUpper(op.String()); got != want {
			t.Errorf("op %d is %s in the proto, %s in the catalogue", op, got, want)
		}
	}
	for _, dt := range []backend.DType{backend.F32, backend.F16, backend.BF16, backend.I32} {
		if got, want := pb.DType_name[int32(dt)], "DTYPE_"+strings.ToUpper(dt.String()); got != want {
			t.Errorf("dtype %d is %s in the proto, %s in package backend", dt, got, want)
		}
	}
}

// Attributes survive the trip; integers that do not fit are refused.
func TestAttrsRoundTrip(t *testing.T) {
	a := backend.Attrs{TransA: true, TransB: true, Alpha: 1.5, Beta: -2, Eps: 1e-6, Heads: 3, Patch: 4,
		LR: 1e-3, Beta1: 0.9, Beta2: 0.999, WeightDecay: 0.04, Step: 7, Momentum: 0.996}
	got, err := attrsFromPB(attrsToPB(a))
	if err != nil || got != a {
		t.Fatalf("attrs %+v came back as %+v, %v", a, got, err)
	}
	if _, err := attrsFromPB(&pb.Attrs{Heads: 1 << 40}); err == nil {
		t.Error("heads 2^40 accepted")
	}
}

// Errors keep their op, arguments and sentinel across the wire.
func TestErrorsRoundTrip(t *testing.T) {
	for _, sentinel := range []error{backend.ErrUnsupported, backend.ErrReleased, backend.ErrShape, backend.ErrIndex, backend.ErrClosed, ErrProtocol} {
		sent := &backend.OpError{Op: backend.OpGather, Args: "y=f32[2,3] x=f32[4,3] idx=i32[2]", Err: sentinel}
		got := errorFromPB(errorToPB(sent, 12))
		var oe *backend.OpError
		if !errors.As(got, &oe) || oe.Op != sent.Op || oe.Args != sent.Args || !errors.Is(got, sentinel) {
			t.Errorf("%v came back as %v", sent, got)
		}
		if !strings.Contains(got.Error(), "command 12") {
			t.Errorf("%v does not name the command", got)
		}
	}
	plain := errorFromPB(errorToPB(errors.New("device lost"), 0))
	if plain.Error() != "device lost" {
		t.Errorf("a plain error came back as %q", plain)
	}
}

// Shapes from the wire are validated.
func TestShapeFromPB(t *testing.T) {
	for _, dims := range [][]int64{nil, {0}, {-3}, {1 << 41}, {1 << 21, 1 << 21}} {
		if _, err := shapeFromPB(dims); err == nil {
			t.Errorf("shape %v accepted", dims)
		}
	}
	if s, err := shapeFromPB([]int64{2, 3}); err != nil || !s.Equal(backend.Shape{2, 3}) {
		t.Errorf("shape [2,3] came back as %v, %v", s, err)
	}
}
