package numpy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
)

// Everything a host might send wrong (23 kinds) becomes the sticky error, of the
// right kind, naming the failing command and (for an op) the op and its
// arguments; the plugin keeps running, answers every later call with the
// same error, and still answers Progress.
func TestMalformedInput(t *testing.T) {
	const (
		other    = pb.ErrorKind_ERROR_KIND_OTHER
		unsupp   = pb.ErrorKind_ERROR_KIND_UNSUPPORTED
		shape    = pb.ErrorKind_ERROR_KIND_SHAPE
		index    = pb.ErrorKind_ERROR_KIND_INDEX
		protocol = pb.ErrorKind_ERROR_KIND_PROTOCOL
	)
	chunk := make([]byte, 1<<20)
	for _, tc := range []struct {
		name    string
		batches [][]*pb.Command
		kind    pb.ErrorKind
		command uint64
		op      backend.Op
		args    string // the failing op's arguments, when an op failed
		msg     string
	}{
		{"inner dimensions differ", [][]*pb.Command{{newT(1, backend.F32, 2, 3), newT(2, backend.F32, 4, 3), newT(3, backend.F32, 2, 4),
			runOp(backend.OpMatMul, &backend.Attrs{Alpha: 1}, v(3, 2, 4), v(1, 2, 3), v(2, 4, 3))}},
			shape, 4, backend.OpMatMul, "c=f32[2,4] a=f32[2,3] b=f32[4,3]", "shape mismatch: inner dimensions differ: op(a) is 2x3, op(b) is 4x3"},
		{"index out of range", [][]*pb.Command{{newT(1, backend.F32, 5, 2), newT(2, backend.I32, 3), write(2, 0, i32Bytes(0, 5, 1)),
			newT(3, backend.F32, 3, 2), runOp(backend.OpGather, nil, v(3, 3, 2), v(1, 5, 2), v(2, 3))}},
			index, 5, backend.OpGather, "y=f32[3,2] x=f32[5,2] idx=i32[3]", "indices span [0,5], rows are [0,5)"},
		{"index of the wrong dtype", [][]*pb.Command{{newT(1, backend.F32, 5, 2), newT(2, backend.F32, 3), newT(3, backend.F32, 3, 2),
			runOp(backend.OpGather, nil, v(3, 3, 2), v(1, 5, 2), v(2, 3))}},
			shape, 4, backend.OpGather, "y=f32[3,2] x=f32[5,2] idx=f32[3]", "argument idx is f32, want i32"},
		{"output shares storage", [][]*pb.Command{{newT(1, backend.F32, 3, 3), newT(2, backend.F32, 3, 3),
			runOp(backend.OpMatMul, &backend.Attrs{Alpha: 1}, v(1, 3, 3), v(1, 3, 3), v(2, 3, 3))}},
			shape, 3, backend.OpMatMul, "c=f32[3,3] a=f32[3,3] b=f32[3,3]", "output c shares storage with argument a"},
		{"missing argument", [][]*pb.Command{{newT(1, backend.F32, 2, 3), newT(2, backend.F32, 2),
			runOp(backend.OpLayerNorm, &backend.Attrs{Eps: 1e-5}, v(1, 2, 3), v(2, 2), v(2, 2), v(0), v(0), v(0))}},
			other, 3, backend.OpLayerNorm, "y=f32[2,3] mean=f32[2] rstd=f32[2] x=nil gamma=nil beta=nil", "argument x is nil"},
		{"too few arguments", [][]*pb.Command{{newT(1, backend.F32, 2), runOp(backend.OpAdd, nil, v(1, 2), v(1, 2))}},
			shape, 2, backend.OpAdd, "y=f32[2] a=f32[2]", "2 tensor arguments, want 3"},
		{"attribute out of its domain", [][]*pb.Command{{newT(1, backend.F32, 2), newT(2, backend.F32, 2), newT(3, backend.F32, 2), newT(4, backend.F32, 2),
			runOp(backend.OpAdamW, &backend.Attrs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999}, v(1, 2), v(2, 2), v(3, 2), v(4, 2))}},
			other, 5, backend.OpAdamW, "param=f32[2] m=f32[2] v=f32[2] grad=f32[2]", "Step 0 must be at least 1"},
		{"heads that do not divide", [][]*pb.Command{{newT(1, backend.F32, 1, 2, 6), newT(2, backend.F32, 1, 4, 2, 1),
			runOp(backend.OpSplitHeads, &backend.Attrs{Heads: 4}, v(2, 1, 4, 2, 1), v(1, 1, 2, 6))}},
			shape, 3, backend.OpSplitHeads, "out0=f32[1,4,2,1] x=f32[1,2,6]", "last dim 6 is not a multiple of G*Heads = 1*4"},
		{"an attribute not of its type", [][]*pb.Command{{newT(1, backend.F32, 2, 2), {Run: &pb.RunOp{Op: uint32(backend.OpMatMul), Ids: []uint64{1, 1, 1},
			Ranks: []uint32{2, 2, 2}, Dims: []int64{2, 2, 2, 2, 2, 2}, Attrs: []float64{2, 0, 1, 0}}}}},
			protocol, 2, 0, "", "attribute TransA = 2.0 is not a value of its type"},
		{"attributes of another count", [][]*pb.Command{{newT(1, backend.F32, 2), {Run: &pb.RunOp{Op: uint32(backend.OpFill), Ids: []uint64{1},
			Ranks: []uint32{1}, Dims: []int64{2}}}}},
			protocol, 2, 0, "", "fill takes 1 attributes, not 0"},
		{"op not in the catalogue", [][]*pb.Command{{newT(1, backend.F32, 2), {Run: &pb.RunOp{Op: 99, Ids: []uint64{1}, Ranks: []uint32{1}, Dims: []int64{2}}}}},
			protocol, 2, 0, "", "op 99 is not in the catalogue"},
		{"unknown tensor", [][]*pb.Command{{newT(1, backend.F32, 3), runOp(backend.OpScale, &backend.Attrs{Alpha: 2}, v(1, 3), v(7, 3))}},
			protocol, 2, 0, "", "tensor 7 does not exist"},
		{"a view of another size", [][]*pb.Command{{newT(1, backend.F32, 2, 3), runOp(backend.OpScale, &backend.Attrs{Alpha: 2}, v(1, 7), v(1, 7))}},
			protocol, 2, 0, "", "tensor 1 has 6 elements, seen as [7]"},
		{"ranks and dims disagree", [][]*pb.Command{{newT(1, backend.F32, 2), {Run: &pb.RunOp{Op: uint32(backend.OpFill), Ids: []uint64{1}, Ranks: []uint32{2}, Dims: []int64{2}}}}},
			protocol, 2, 0, "", "the ranks add up to 2 dimensions, dims has 1"},
		{"a command with two parts", [][]*pb.Command{{{New: &pb.NewTensor{Id: 1, Dtype: uint32(backend.F32), Shape: []int64{1}}, Release: &pb.Release{Ids: []uint64{1}}}}},
			protocol, 1, 0, "", "a command sets 2 of new, run, write and release"},
		{"new tensor with id 0", [][]*pb.Command{{newT(0, backend.F32, 2)}}, protocol, 1, 0, "", "new tensor with id 0"},
		{"new tensor with an id in use", [][]*pb.Command{{newT(3, backend.F32, 2), newT(3, backend.F32, 2)}}, protocol, 2, 0, "", "id 3, which is in use"},
		{"unknown dtype", [][]*pb.Command{{newT(1, 9, 2)}}, protocol, 1, 0, "", "unknown dtype 9"},
		{"a shape with a zero", [][]*pb.Command{{newT(1, backend.F32, 2, 0)}}, protocol, 1, 0, "", "dimension 0 out of range"},
		{"f16, which numpy stores but this backend does not", [][]*pb.Command{{newT(1, backend.F16, 2)}}, unsupp, 1, 0, "", "not supported by this backend"},
		{"batch out of order", nil, protocol, 0, 0, "", "batch 2 arrived after batch 0"},
		{"a host of another catalogue", [][]*pb.Command{{newT(1, backend.F32, 2)}}, protocol, 0, 0, "", "batch 1 arrived before a Hello with matching versions"},
		{"a chunk at the wrong offset", [][]*pb.Command{{newT(1, backend.F32, 600_000), write(1, 0, chunk), write(1, 2<<20, chunk)}},
			protocol, 3, 0, "", "a chunk of 1048576 bytes at byte 2097152, expected one at byte 1048576 of 2400000"},
		{"a write left unfinished", [][]*pb.Command{{newT(1, backend.F32, 600_000), write(1, 0, chunk), newT(2, backend.F32, 2)}},
			protocol, 3, 0, "", "the write of tensor 1 ended after 1048576 of 2400000 bytes"},
		{"release of an unknown tensor", [][]*pb.Command{{{Release: &pb.Release{Ids: []uint64{42}}}}}, protocol, 1, 0, "", "release of tensor 42"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case is a process of its own
			var p *proc
			switch tc.name {
			case "a host of another catalogue":
				p = startHello(t, "0123456789abcdef")
			case "batch out of order":
				p = start(t)
				p.seq++ // batch 1 is never sent
				p.send(t, newT(1, backend.F32, 2))
			default:
				p = start(t)
			}
			for _, b := range tc.batches {
				p.send(t, b...)
			}
			e := p.sync(t)
			if e == nil {
				t.Fatal("no error")
			}
			if e.Kind != tc.kind || e.Command != tc.command || e.Op != uint32(tc.op) || e.Args != tc.args || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error {kind %v, command %d, op %v, args %q, message %q}\nwant  {kind %v, command %d, op %v, args %q, message with %q}",
					e.Kind, e.Command, e.Op, e.Args, e.Message, tc.kind, tc.command, tc.op, tc.args, tc.msg)
			}
			// Sticky: later work is skipped, and every later call says the same.
			p.send(t, newT(100, backend.F32, 1), runOp(backend.OpFill, &backend.Attrs{Alpha: 1}, v(100, 1)))
			if again := p.sync(t); again == nil || again.Message != e.Message || again.Command != e.Command {
				t.Errorf("the next Sync says %v, want the first error again", again)
			}
			if _, re := p.read(t, 100); re == nil || re.Message != e.Message {
				t.Errorf("a later read says %v, want the first error", re)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			pr, err := p.rpc.Progress(ctx, &pb.ProgressRequest{})
			if err != nil || pr.Executed != p.seq || pr.Received != p.seq {
				t.Errorf("Progress: %v, %v; want batch %d received and executed", pr, err, p.seq)
			}
		})
	}
}
