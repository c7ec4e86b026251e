// Package bench measures how fast a backend trains: a backend wrapper that
// counts and times every op (with the work of the matrix products, for
// GFLOP/s), the PyTorch anchor run as a child process, and peak memory.
package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ijepa-go/ijepa/backend"
)

// Profile is a backend that passes every call to another and records, per
// op, the calls, the time and the work done. With PerOp set it synchronises
// before and after every op, so that each op's time is its own even on a
// backend that queues work (Vulkan, plugins); without it, it records calls
// and work but no times, and costs next to nothing. A CPU backend runs ops
// synchronously, so there the two modes time the same work.
type Profile struct {
	backend.Backend
	// PerOp turns on the synchronised timing of each op.
	PerOp bool

	ops      map[backend.Op]*OpStats
	matmuls  map[string]*OpStats
	transfer [2]OpStats // writes, reads
}

// OpStats is what a Profile recorded for one op (or one shape of matmul).
type OpStats struct {
	// Name is the op's name; for matmul shapes, the shape
	// ("matmul 192x[64x64]@[64x64]^T").
	Name  string
	Calls int
	// Time is the time spent in the op with PerOp set (0 otherwise).
	Time time.Duration
	// Flops counts the floating-point operations of matrix products
	// (2*Z*M*N*K each), 0 for other ops.
	Flops float64
	// Bytes is the size of the op's tensor arguments, a proxy for the
	// memory it moves.
	Bytes float64
}

// GFLOPS returns the achieved rate of a matrix product, 0 if unknown.
func (s OpStats) GFLOPS() float64 {
	if s.Time <= 0 || s.Flops == 0 {
		return 0
	}
	return s.Flops / s.Time.Seconds() / 1e9
}

// GBPS returns the argument bytes per second, 0 if unknown.
func (s OpStats) GBPS() float64 {
	if s.Time <= 0 {
		return 0
	}
	return s.Bytes / s.Time.Seconds() / 1e9
}

// NewProfile wraps b.
func NewProfile(b backend.Backend) *Profile {
	p := &Profile{Backend: b}
	p.Reset()
	return p
}

// Reset forgets everything recorded (after warm-up steps, say).
func (p *Profile) Reset() {
	p.ops = map[backend.Op]*OpStats{}
	p.matmuls = map[string]*OpStats{}
	p.transfer = [2]OpStats{{Name: "write"}, {Name: "read"}}
}

// Run records and runs one call.
func (p *Profile) Run(c backend.Call) {
	var start time.Time
	if p.PerOp {
		_ = p.Backend.Sync() // errors stay sticky in the backend
		start = time.Now()
	}
	p.Backend.Run(c)
	var d time.Duration
	if p.PerOp {
		_ = p.Backend.Sync()
		d = time.Since(start)
	}
	s := p.ops[c.Op]
	if s == nil {
		s = &OpStats{Name: c.Op.String()}
		p.ops[c.Op] = s
	}
	var bytes float64
	for _, t := range c.Args {
		if t != nil {
			bytes += float64(t.Bytes())
		}
	}
	s.Calls++
	s.Time += d
	s.Bytes += bytes
	if c.Op == backend.OpMatMul {
		name, flops := matmulShape(c)
		s.Flops += flops
		m := p.matmuls[name]
		if m == nil {
			m = &OpStats{Name: name}
			p.matmuls[name] = m
		}
		m.Calls++
		m.Time += d
		m.Flops += flops
		m.Bytes += bytes
	}
}

// Write records and queues a host-to-device copy.
func (p *Profile) Write(t *backend.Tensor, src []byte) {
	start := time.Now()
	p.Backend.Write(t, src)
	if p.PerOp {
		_ = p.Backend.Sync()
		p.transfer[0].Time += time.Since(start)
	}
	p.transfer[0].Calls++
	p.transfer[0].Bytes += float64(len(src))
}

// Read records a device-to-host copy.
func (p *Profile) Read(t *backend.Tensor, dst []byte) error {
	start := time.Now()
	err := p.Backend.Read(t, dst)
	if p.PerOp {
		p.transfer[1].Time += time.Since(start)
	}
	p.transfer[1].Calls++
	p.transfer[1].Bytes += float64(len(dst))
	return err
}

// matmulShape names a matmul call's shape and returns its flops: c[z] =
// op(a[z]) @ op(b[z]) with op(a) m x k and op(b) k x n.
func matmulShape(c backend.Call) (string, float64) {
	if len(c.Args) != 3 || c.Args[0] == nil || c.Args[1] == nil || c.Args[2] == nil {
		return "matmul ?", 0
	}
	cs, as, bs := c.Args[0].Shape(), c.Args[1].Shape(), c.Args[2].Shape()
	r := len(cs)
	if r < 2 || len(as) != r || len(bs) != r {
		return "matmul ?", 0
	}
	z, m, n, k := backend.MatMulDims(c)
	prefix := ""
	if r == 3 {
		prefix = fmt.Sprintf("%dx", z)
	}
	op := func(s backend.Shape, t bool) string {
		str := fmt.Sprintf("[%dx%d]", s[r-2], s[r-1])
		if t {
			str += "^T"
		}
		return str
	}
	name := fmt.Sprintf("matmul %s%s@%s", prefix, op(as, c.Attrs.TransA), op(bs, c.Attrs.TransB))
	return name, 2 * float64(z) * float64(m) * float64(n) * float64(k)
}

// Ops returns the recorded ops, most time first (most calls first when
// untimed), then write and read if any happened.
func (p *Profile) Ops() []OpStats {
	var out []OpStats
	for _, s := range p.ops {
		out = append(out, *s)
	}
	sortStats(out)
	for _, t := range p.transfer {
		if t.Calls > 0 {
			out = append(out, t)
		}
	}
	return out
}

// MatMuls returns the recorded matrix products by shape, most time first.
func (p *Profile) MatMuls() []OpStats {
	var out []OpStats
	for _, s := range p.matmuls {
		out = append(out, *s)
	}
	sortStats(out)
	return out
}

func sortStats(s []OpStats) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Time != s[j].Time {
			return s[i].Time > s[j].Time
		}
		if s[i].Calls != s[j].Calls {
			return s[i].Calls > s[j].Calls
		}
		return s[i].Name < s[j].Name
	})
}

// WriteTable prints the per-op table for the given number of steps: calls
// and milliseconds per step, share of the op time, and GFLOP/s for the
// matrix products or GB/s of arguments for the other ops; then the matrix
// products by shape (the top shapes, at most maxShapes; all when negative).
func (p *Profile) WriteTable(w io.Writer, steps, maxShapes int) error {
	if steps < 1 {
		steps = 1
	}
	var total time.Duration
	for _, s := range p.ops {
		total += s.Time
	}
	var b strings.Builder
	row := func(s OpStats) {
		rate := ""
		switch {
		case s.Flops > 0 && s.Time > 0:
			rate = fmt.Sprintf("%7.1f GFLOP/s", s.GFLOPS())
		case s.Time > 0:
			rate = fmt.Sprintf("%7.2f GB/s", s.GBPS())
		}
		share := ""
		if total > 0 {
			share = fmt.Sprintf("%5.1f%%", 100*s.Time.Seconds()/total.Seconds())
		}
		fmt.Fprintf(&b, "%-44s %8.1f %10.2f %6s  %s\n", s.Name, float64(s.Calls)/float64(steps),
			s.Time.Seconds()*1e3/float64(steps), share, rate)
	}
	fmt.Fprintf(&b, "%-44s %8s %10s %6s  %s\n", "op", "calls", "ms/step", "share", "rate")
	for _, s := range p.Ops() {
		row(s)
	}
	fmt.Fprintf(&b, "%-44s %8s %10.2f\n", "total (ops)", "", total.Seconds()*1e3/float64(steps))
	if mm := p.MatMuls(); len(mm) > 0 {
		if maxShapes >= 0 && len(mm) > maxShapes {
			mm = mm[:maxShapes]
		}
		fmt.Fprintf(&b, "\n%-44s %8s %10s %6s  %s\n", "matmul by shape", "calls", "ms/step", "share", "rate")
		for _, s := range mm {
			row(s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
