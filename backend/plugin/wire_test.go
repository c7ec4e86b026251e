package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

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
