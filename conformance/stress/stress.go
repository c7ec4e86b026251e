package stress

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
)

// Defaults of ijepa conformance --mode stress.
const (
	// DefaultPrograms is the number of programs a run draws.
	DefaultPrograms = 500
	// DefaultLength is the length of a program before its final reads
	// and releases.
	DefaultLength = 60
)

// Bound is the NMSE bound of every read against the reference. A program
// chains a few dozen well-conditioned ops, whose float32 rounding stays
// far below it; an ordering fault gives errors of order one.
const Bound = 1e-6

// Options configure a stress run.
type Options struct {
	// Seed is the seed of the first program; program k has seed Seed+k,
	// so --seed Seed+k --programs 1 replays it alone.
	Seed uint64
	// Programs is the number of programs (DefaultPrograms if 0); Length
	// their length (DefaultLength if 0).
	Programs, Length int
	// Ops, if set, keeps only the ops of Ops whose name matches.
	Ops *regexp.Regexp
	// Reopen, if set, opens a fresh backend after a program leaves the
	// current one with a sticky error.
	Reopen func() (backend.Backend, error)
	// Stop, if set, is asked before each program: true ends the run.
	Stop func() bool
}

// ops returns the ops programs draw from on b: Ops that the filter keeps
// and b lists.
func (o Options) ops(b backend.Backend) []backend.Op {
	var out []backend.Op
	have := b.Info().Ops
	for _, op := range Ops {
		if slices.Contains(have, op) && (o.Ops == nil || o.Ops.MatchString(op.String())) {
			out = append(out, op)
		}
	}
	return out
}

// Run draws opts.Programs programs and checks each on b against ref. It
// returns one report row (level stress, name "programs"): a case per
// program, the worst NMSE of any read, and for each failing program its
// minimal failing program and the command that replays it.
func Run(b, ref backend.Backend, opts Options) conformance.OpReport {
	if opts.Programs <= 0 {
		opts.Programs = DefaultPrograms
	}
	if opts.Length <= 0 {
		opts.Length = DefaultLength
	}
	row := conformance.OpReport{Level: conformance.LevelStress, Name: "programs", DType: backend.F32,
		Metric: conformance.MetricNMSE, Bound: Bound}
	ops := opts.ops(b)
	for k := 0; k < opts.Programs; k++ {
		if opts.Stop != nil && opts.Stop() {
			break
		}
		p := Generate(opts.Seed+uint64(k), opts.Length, ops)
		start := time.Now()
		res := Check(b, ref, p)
		res.Time = time.Since(start)
		if res.Kind == "fail" {
			min := Shrink(b, ref, p)
			res.Msg += fmt.Sprintf("\nminimal failing program (%d of %d instructions; seed %d):\n%s", len(min.Instrs), len(p.Instrs), p.Seed, strings.TrimSuffix(min.String(), "\n"))
		}
		row.Add(res)
		if b.Err() != nil && opts.Reopen != nil {
			if nb, err := opts.Reopen(); err == nil {
				b = nb
			}
		}
	}
	return row
}

// Check runs p on b asynchronously and on ref op by op, and compares every
// read. The result's Err is the worst NMSE; Args replay the program.
func Check(b, ref backend.Backend, p Program) conformance.Result {
	res, _ := check(b, ref, p)
	return res
}

// check is Check, and whether the reference failed.
func check(b, ref backend.Backend, p Program) (conformance.Result, bool) {
	res := conformance.Result{Name: fmt.Sprintf("program %d", p.Seed), Kind: "ok",
		Args: []string{"--mode", "stress", "--seed", fmt.Sprint(p.Seed), "--programs", "1"}}
	want, werr := Exec(ref, p, true)
	if werr != nil {
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), "reference: "+werr.Error()
		return res, true
	}
	got, gerr := Exec(b, p, false)
	for k, w := range want {
		if k >= len(got) {
			break
		}
		e, msg := conformance.Compare(got[k].v, w.v)
		if !math.IsNaN(e) {
			res.Err = math.Max(res.Err, e)
		}
		if msg == "" && e > Bound {
			msg = fmt.Sprintf("NMSE %.3g exceeds %.0e", e, Bound)
		}
		if msg != "" && res.Kind == "ok" {
			res.Kind, res.Msg = "fail", fmt.Sprintf("instruction %d, %s: %s", w.at, p.Instrs[w.at], msg)
		}
	}
	if gerr != nil && res.Kind == "ok" {
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), gerr.Error()
	}
	return res, false
}

// observation is what one read saw.
type observation struct {
	at int // the instruction
	v  []float32
}

// Exec runs p on be and returns what its reads saw, and the first error.
// With opSync it waits for every instruction before the next, as a
// synchronous reference runs; without, only reads wait. Every handle p
// made is released before Exec returns, also after an error.
func Exec(be backend.Backend, p Program, opSync bool) ([]observation, error) {
	h := map[int]*backend.Tensor{}
	defer func() {
		for _, t := range h {
			be.Release(t)
		}
	}()
	get := func(id int) (*backend.Tensor, error) {
		t, ok := h[id]
		if !ok {
			return nil, fmt.Errorf("stress: the program uses t%d, which it has not made or has released", id)
		}
		return t, nil
	}
	var out []observation
	for k, in := range p.Instrs {
		switch in.kind {
		case kNew:
			h[in.dst] = be.New(in.dtype, in.shape...)
		case kView:
			t, err := get(in.src)
			if err != nil {
				return out, err
			}
			h[in.dst] = backend.Reshape(t, in.shape...)
		case kWrite:
			t, err := get(in.src)
			if err != nil {
				return out, err
			}
			if in.i != nil {
				backend.WriteI32(be, t, in.i)
			} else {
				backend.WriteF32(be, t, in.f)
			}
		case kRead:
			t, err := get(in.src)
			if err != nil {
				return out, err
			}
			v, err := backend.ReadF32(be, t)
			if err != nil {
				return out, err
			}
			out = append(out, observation{k, v})
		case kRelease:
			t, err := get(in.src)
			if err != nil {
				return out, err
			}
			be.Release(t)
			delete(h, in.src)
		case kSync:
			if err := be.Sync(); err != nil {
				return out, err
			}
		case kRun:
			args := make([]*backend.Tensor, len(in.args))
			for i, id := range in.args {
				if id < 0 {
					continue
				}
				t, err := get(id)
				if err != nil {
					return out, err
				}
				args[i] = t
			}
			be.Run(backend.Call{Op: in.op, Args: args, Attrs: in.attrs})
		}
		if opSync {
			if err := be.Sync(); err != nil {
				return out, fmt.Errorf("instruction %d, %s: %w", k, in, err)
			}
		}
	}
	return out, be.Sync()
}

// valid reports whether p is a program every backend must run: every
// handle it uses is live, every read and every argument an op reads is
// defined, and Exec on a host-only check of the calls finds no error.
func valid(p Program) bool {
	type st struct{ defined bool }
	live := map[int]*st{}
	for _, in := range p.Instrs {
		switch in.kind {
		case kNew:
			live[in.dst] = &st{}
		case kView:
			s, ok := live[in.src]
			if !ok {
				return false
			}
			live[in.dst] = s
		case kWrite:
			s, ok := live[in.src]
			if !ok {
				return false
			}
			s.defined = true
		case kRead:
			if s, ok := live[in.src]; !ok || !s.defined {
				return false
			}
		case kRelease:
			if _, ok := live[in.src]; !ok {
				return false
			}
			delete(live, in.src)
		case kRun:
			specs := in.op.Expand(len(in.args))
			for i, id := range in.args {
				if id < 0 {
					continue
				}
				s, ok := live[id]
				if !ok {
					return false
				}
				reads := specs[i].Role != backend.Out && !(in.op == backend.OpMatMul && i == 0 && in.attrs.Beta == 0)
				if reads && !s.defined {
					return false
				}
			}
			for i, id := range in.args {
				if id >= 0 && specs[i].Role != backend.In {
					live[id].defined = true
				}
			}
		}
	}
	return true
}

// Shrink returns a minimal program that still fails on b against ref:
// it removes instructions — chunks first, then one at a time, each with
// the instructions that use a handle it makes — while the program stays
// valid and fails.
func Shrink(b, ref backend.Backend, p Program) Program {
	fails := func(q Program) bool {
		if !valid(q) {
			return false
		}
		res, refFailed := check(b, ref, q)
		return res.Kind == "fail" && !refFailed
	}
	cur := p
	for chunk := len(cur.Instrs) / 2; chunk >= 1; {
		removed := false
		for start := 0; start < len(cur.Instrs); {
			q := without(cur, start, min(start+chunk, len(cur.Instrs)))
			if len(q.Instrs) < len(cur.Instrs) && fails(q) {
				cur, removed = q, true
				continue
			}
			start += chunk
		}
		if !removed || chunk > 1 {
			chunk /= 2
		}
	}
	return cur
}

// without returns p less the instructions [from, to) and every later
// instruction that uses a handle they make.
func without(p Program, from, to int) Program {
	gone := map[int]bool{}
	q := Program{Seed: p.Seed}
	for k, in := range p.Instrs {
		if k >= from && k < to {
			if in.kind == kNew || in.kind == kView {
				gone[in.dst] = true
			}
			continue
		}
		var uses []int
		switch in.kind {
		case kRun:
			uses = in.args
		case kView, kWrite, kRead, kRelease:
			uses = []int{in.src}
		}
		drop := false
		for _, id := range uses {
			drop = drop || id >= 0 && gone[id]
		}
		if drop {
			if in.kind == kView {
				gone[in.dst] = true
			}
			continue
		}
		q.Instrs = append(q.Instrs, in)
	}
	return q
}
