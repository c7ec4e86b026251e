package plugin

import (
	"context"
	"math"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"github.com/ijepa-go/ijepa/internal/proctest"
	"google.golang.org/protobuf/proto"
)

// stepModel is a stand-in for a training step until the trainer exists: a
// pre-norm transformer of `depth` blocks over n = batch*tokens rows of width
// dim, with a forward pass, a backward pass of the same shape as the real
// one (every linear's three matmuls and bias sum, the norms', softmax's and
// GELU's backward ops, the head permutes), AdamW and EMA on every parameter,
// temporaries allocated and released each step, and two reads (the loss and
// a gradient norm). The arithmetic is not a model's; the stream of ops, their
// count and their sizes are those of one.
type stepModel struct {
	b                               backend.Backend
	batch, tokens, dim, heads, depy int
	params, moms, vars, targets     []*backend.Tensor
	x0, target, loss, dloss, norm   *backend.Tensor
	temps                           []*backend.Tensor
	step                            int
	commands                        int // per step
}

// stepSize is a step model's shape.
type stepSize struct {
	name                             string
	batch, tokens, dim, heads, depth int
}

// stepSizes: "small" has about a tenth of a ViT-tiny block's width on 64
// tokens, enough compute that the protocol's cost is a fraction of it;
// "minute" has so little compute that the step time is nearly all per-op
// cost, the worst case for the plugin path.
var stepSizes = []stepSize{
	{"small", 8, 64, 64, 4, 4},
	{"minute", 2, 8, 16, 2, 4},
}

func newStepModel(tb testing.TB, b backend.Backend, sz stepSize) *stepModel {
	m := &stepModel{b: b, batch: sz.batch, tokens: sz.tokens, dim: sz.dim, heads: sz.heads, depy: sz.depth}
	n, d := m.batch*m.tokens, m.dim
	mk := func(v float32, shape ...int) *backend.Tensor {
		t := b.New(backend.F32, shape...)
		backend.Fill(b, t, float64(v))
		return t
	}
	for l := 0; l < m.depy; l++ {
		for _, s := range [][]int{{3 * d, d}, {3 * d}, {d, d}, {d}, {4 * d, d}, {4 * d}, {d, 4 * d}, {d}, {d}, {d}, {d}, {d}} {
			m.params = append(m.params, mk(0.02, s...))
			m.moms = append(m.moms, mk(0, s...))
			m.vars = append(m.vars, mk(0, s...))
			m.targets = append(m.targets, mk(0.02, s...))
		}
	}
	m.x0 = mk(0.5, n, d)
	m.target = mk(0.25, n, d)
	m.loss, m.dloss, m.norm = mk(0, 1), mk(1, 1), mk(0, 1)
	if err := b.Sync(); err != nil {
		tb.Fatal(err)
	}
	return m
}

func (m *stepModel) tmp(shape ...int) *backend.Tensor {
	t := m.b.New(backend.F32, shape...)
	m.temps = append(m.temps, t)
	m.commands++
	return t
}

func (m *stepModel) view(t *backend.Tensor, shape ...int) *backend.Tensor {
	v := backend.Reshape(t, shape...)
	m.temps = append(m.temps, v)
	return v
}

// linear runs y = x W^T + bias and returns y.
func (m *stepModel) linear(x, w, bias *backend.Tensor, rows int) *backend.Tensor {
	y := m.tmp(rows, w.Shape()[0])
	backend.MatMul(m.b, y, x, w, false, true, 1, 0)
	backend.Add(m.b, y, y, bias)
	m.commands += 2
	return y
}

// linearBwd accumulates the gradients of a linear and returns dx.
func (m *stepModel) linearBwd(dy, x, w, dw, db *backend.Tensor) *backend.Tensor {
	dx := m.tmp(x.Shape()...)
	backend.MatMul(m.b, dw, dy, x, true, false, 1, 0)
	backend.ColSum(m.b, db, dy)
	backend.MatMul(m.b, dx, dy, w, false, false, 1, 0)
	m.commands += 3
	return dx
}

// run executes one step and returns the loss.
func (m *stepModel) run() (float32, error) {
	b := m.b
	m.step++
	m.commands = 0
	bt, t, d, h := m.batch, m.tokens, m.dim, m.heads
	n, e := bt*t, d/h
	x := m.tmp(n, d)
	backend.Copy(b, x, m.x0)
	grads := make([]*backend.Tensor, len(m.params))
	for i, p := range m.params {
		grads[i] = m.tmp(p.Shape()...)
	}
	type saved struct{ x, h1, mean1, rstd1, qkv, q, k, v, p, att, x2, h2, mean2, rstd2, f1, g *backend.Tensor }
	var acts []saved
	m.commands++
	for l := 0; l < m.depy; l++ {
		P := m.params[12*l : 12*l+12]
		var s saved
		s.x = x
		s.h1, s.mean1, s.rstd1 = m.tmp(n, d), m.tmp(n), m.tmp(n)
		backend.LayerNorm(b, s.h1, s.mean1, s.rstd1, x, P[8], P[9], 1e-6)
		s.qkv = m.linear(s.h1, P[0], P[1], n)
		s.q, s.k, s.v = m.tmp(bt, h, t, e), m.tmp(bt, h, t, e), m.tmp(bt, h, t, e)
		backend.SplitHeads(b, m.view(s.qkv, bt, t, 3*d), h, s.q, s.k, s.v)
		sc := m.tmp(bt*h, t, t)
		backend.MatMul(b, sc, m.view(s.q, bt*h, t, e), m.view(s.k, bt*h, t, e), false, true, 1, 0)
		s.p = m.tmp(bt*h, t, t)
		backend.Softmax(b, s.p, sc, 1/math.Sqrt(float64(e)))
		o := m.tmp(bt, h, t, e)
		backend.MatMul(b, m.view(o, bt*h, t, e), s.p, m.view(s.v, bt*h, t, e), false, false, 1, 0)
		s.att = m.tmp(bt, t, d)
		backend.MergeHeads(b, s.att, h, o)
		a := m.linear(m.view(s.att, n, d), P[2], P[3], n)
		x2 := m.tmp(n, d)
		backend.Add(b, x2, x, a)
		s.x2 = x2
		s.h2, s.mean2, s.rstd2 = m.tmp(n, d), m.tmp(n), m.tmp(n)
		backend.LayerNorm(b, s.h2, s.mean2, s.rstd2, x2, P[10], P[11], 1e-6)
		s.f1 = m.linear(s.h2, P[4], P[5], n)
		s.g = m.tmp(n, 4*d)
		backend.GELU(b, s.g, s.f1)
		f2 := m.linear(s.g, P[6], P[7], n)
		x = m.tmp(n, d)
		backend.Add(b, x, x2, f2)
		m.commands += 11
		acts = append(acts, s)
	}
	backend.SmoothL1(b, m.loss, x, m.target, 1)
	dx := m.tmp(n, d)
	backend.SmoothL1Bwd(b, dx, m.dloss, x, m.target, 1)
	m.commands += 2
	for l := m.depy - 1; l >= 0; l-- {
		P, G, s := m.params[12*l:12*l+12], grads[12*l:12*l+12], acts[l]
		dg := m.linearBwd(dx, s.g, P[6], G[6], G[7])
		df1 := m.tmp(n, 4*d)
		backend.GELUBwd(b, df1, dg, s.f1)
		dh2 := m.linearBwd(df1, s.h2, P[4], G[4], G[5])
		dx2 := m.tmp(n, d)
		backend.LayerNormBwd(b, dx2, G[10], G[11], dh2, s.x2, s.mean2, s.rstd2, P[10])
		backend.Axpy(b, dx2, dx, 1)
		datt := m.linearBwd(dx2, m.view(s.att, n, d), P[2], G[2], G[3])
		do := m.tmp(bt, h, t, e)
		backend.SplitHeads(b, m.view(datt, bt, t, d), h, do)
		dp, dv := m.tmp(bt*h, t, t), m.tmp(bt, h, t, e)
		backend.MatMul(b, dp, m.view(do, bt*h, t, e), m.view(s.v, bt*h, t, e), false, true, 1, 0)
		backend.MatMul(b, m.view(dv, bt*h, t, e), s.p, m.view(do, bt*h, t, e), true, false, 1, 0)
		ds := m.tmp(bt*h, t, t)
		backend.SoftmaxBwd(b, ds, dp, s.p, 1/math.Sqrt(float64(e)))
		dq, dk := m.tmp(bt, h, t, e), m.tmp(bt, h, t, e)
		backend.MatMul(b, m.view(dq, bt*h, t, e), ds, m.view(s.k, bt*h, t, e), false, false, 1, 0)
		backend.MatMul(b, m.view(dk, bt*h, t, e), ds, m.view(s.q, bt*h, t, e), true, false, 1, 0)
		dqkv := m.tmp(bt, t, 3*d)
		backend.MergeHeads(b, dqkv, h, dq, dk, dv)
		dh1 := m.linearBwd(m.view(dqkv, n, 3*d), s.h1, P[0], G[0], G[1])
		dx = m.tmp(n, d)
		backend.LayerNormBwd(b, dx, G[8], G[9], dh1, s.x, s.mean1, s.rstd1, P[8])
		backend.Axpy(b, dx, dx2, 1)
		m.commands += 13
	}
	sq := m.tmp(1)
	backend.Fill(b, m.norm, 0)
	for _, g := range grads {
		backend.SumSq(b, sq, g)
		backend.Axpy(b, m.norm, sq, 1)
	}
	m.commands += 1 + 2*len(grads)
	for i, p := range m.params {
		backend.AdamW(b, p, m.moms[i], m.vars[i], grads[i], backend.AdamWParams{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.04, Step: m.step})
		backend.EMA(b, m.targets[i], p, 0.996)
	}
	m.commands += 2 * len(m.params)
	norm, err := backend.ReadF32(b, m.norm)
	if err != nil {
		return 0, err
	}
	for _, t := range m.temps {
		b.Release(t)
	}
	m.commands += len(m.temps) - m.countViews()
	m.temps = m.temps[:0]
	loss, err := backend.ReadF32(b, m.loss)
	if err != nil {
		return 0, err
	}
	_ = norm
	return loss[0], nil
}

// countViews counts the views among the temporaries (their release sends
// nothing).
func (m *stepModel) countViews() int {
	seen := map[uint64]bool{}
	views := 0
	for _, t := range m.temps {
		if seen[t.Storage().ID] {
			views++
		}
		seen[t.Storage().ID] = true
	}
	return views
}

// The step model runs the same on the CPU backend in process and through
// the plugin, and its loss moves.
func TestStepModelThroughPlugin(t *testing.T) {
	direct := newStepModel(t, cpu.New(), stepSizes[0])
	remote := newStepModel(t, mustOpenMode(t, "cpu", Options{}), stepSizes[0])
	for i := 0; i < 2; i++ {
		a, err := direct.run()
		if err != nil {
			t.Fatal(err)
		}
		b, err := remote.run()
		if err != nil {
			t.Fatal(err)
		}
		if a != b || math.IsNaN(float64(a)) {
			t.Fatalf("step %d: loss %v in process, %v through the plugin", i, a, b)
		}
	}
	if remote.commands < 300 {
		t.Errorf("a step is %d commands; the benchmark wants hundreds", remote.commands)
	}
}

// BenchmarkStepOverhead times the step model on the CPU backend in process
// and through a plugin process running the same backend, alternating one
// step of each so that both see the same machine, and reports the fastest
// step of each and their ratio: the price of the process boundary. (The
// fastest of several steps is the measure least disturbed by other work on
// a shared machine.)
//
//	go test -run '^$' -bench StepOverhead -benchtime 40x ./backend/plugin/
func BenchmarkStepOverhead(b *testing.B) {
	for _, sz := range stepSizes {
		b.Run(sz.name, func(b *testing.B) {
			os.Setenv(modeEnv, "cpu")
			p, err := Open(os.Args[0], Options{})
			os.Unsetenv(modeEnv)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			models := []*stepModel{newStepModel(b, cpu.New(), sz), newStepModel(b, p, sz)}
			alternate(b, asClient(p).pid(), func(k int) error { _, err := models[k].run(); return err })
			b.ReportMetric(float64(models[1].commands), "commands/step")
		})
	}
}

// alternate runs step(0) (in process) and step(1) (through the plugin
// process pid) in turn, after one warm-up step each, b.N times. It reports
// the fastest step of each and their ratio, and the CPU time each side used
// per step (for the plugin, this process's and the plugin's together) and
// their ratio: wall time on a loaded machine favours the side with more
// threads, CPU time counts the work the process boundary adds.
func alternate(b *testing.B, pid int, step func(k int) error) {
	for k := 0; k < 2; k++ {
		if err := step(k); err != nil {
			b.Fatal(err)
		}
	}
	best := [2]time.Duration{math.MaxInt64, math.MaxInt64}
	var cpuTime [2]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			start, cpu0 := time.Now(), selfCPU(b)+processCPU(b, pid)
			if err := step(k); err != nil {
				b.Fatal(err)
			}
			best[k] = min(best[k], time.Since(start))
			cpuTime[k] += selfCPU(b) + processCPU(b, pid) - cpu0
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(best[0]), "in-process-ms/step")
	b.ReportMetric(ms(best[1]), "plugin-ms/step")
	b.ReportMetric(float64(best[1])/float64(best[0]), "ratio")
	b.ReportMetric(ms(cpuTime[0])/float64(b.N), "in-process-cpu-ms/step")
	b.ReportMetric(ms(cpuTime[1])/float64(b.N), "plugin-cpu-ms/step")
	b.ReportMetric(float64(cpuTime[1])/float64(cpuTime[0]), "cpu-ratio")
}

// selfCPU is the CPU time this process has used.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the CPU time process pid has used (in clock ticks of 10 ms).
func processCPU(b *testing.B, pid int) time.Duration {
	f, err := proctest.Stat(pid)
	if err != nil {
		b.Fatal(err)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(u+s) * 10 * time.Millisecond
}

// checkOnly is a device that computes nothing: under its Front, which
// validates every call, a benchmark sees the protocol's own cost.
type checkOnly struct{ backend.Device }

func (checkOnly) Run(backend.Call) error { return nil }

// BenchmarkServerCommand times what the plugin does per op command: decode
// a batch of 64 `add` commands and execute them on a backend that only
// validates.
//
//	go test -run '^$' -bench ServerCommand ./backend/plugin/
func BenchmarkServerCommand(b *testing.B) {
	s := NewServer(backend.NewFront(checkOnly{cpu.New().Device()}))
	ctx := context.Background()
	s.Hello(ctx, &pb.HelloRequest{ApiVersion: backend.APIVersion, CatalogueHash: backend.CatalogueHash()})
	f32 := uint32(backend.F32)
	s.execBatch(&pb.Batch{Seq: 1, Commands: []*pb.Command{
		{New: &pb.NewTensor{Id: 1, Dtype: f32, Shape: []int64{4, 4}}},
		{New: &pb.NewTensor{Id: 2, Dtype: f32, Shape: []int64{4, 4}}},
		{New: &pb.NewTensor{Id: 3, Dtype: f32, Shape: []int64{4}}},
	}})
	const n = 64
	batch := &pb.Batch{}
	for i := 0; i < n; i++ {
		batch.Commands = append(batch.Commands, &pb.Command{Run: &pb.RunOp{Op: uint32(backend.OpAdd),
			Ids: []uint64{1, 2, 3}, Ranks: []uint32{2, 2, 1}, Dims: []int64{4, 4, 4, 4, 4}}})
	}
	raw, err := proto.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var m pb.Batch
		if err := proto.Unmarshal(raw, &m); err != nil {
			b.Fatal(err)
		}
		m.Seq = uint64(i + 2)
		s.execBatch(&m)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/command")
	if st, _ := s.Sync(ctx, &pb.SyncRequest{Seq: uint64(b.N + 1)}); st.GetError() != nil {
		b.Fatal(st.Error)
	}
}
