package composite_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/composite"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/backend/plugin"
	"github.com/ijepa-go/ijepa/backend/vulkan"
	"github.com/ijepa-go/ijepa/bench"
)

// The test binary doubles as a plugin: started by a host (the go-plugin
// cookie set), it serves the CPU backend, or with failEnv set one whose
// GELU fails.
const failEnv = "IJEPA_COMPOSITE_TEST_FAIL"

func TestMain(m *testing.M) {
	if os.Getenv(plugin.Handshake.MagicCookieKey) != "" {
		if os.Getenv(failEnv) != "" {
			plugin.Serve(backend.NewFront(failing{cpu.New().Device()}))
		} else {
			plugin.Serve(cpu.New())
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// self is the spec of this binary as a plugin.
func self() string { return "plugin:" + os.Args[0] }

// An op that fails in a plugin process fails after the call returned (the
// plugin runs it later); the error still surfaces at the next wait — here
// the copy of its output to the CPU — naming the op, its arguments and the
// plugin, and is sticky.
func TestPluginErrorSurfaces(t *testing.T) {
	t.Setenv(failEnv, "1")
	b := open(t, self()+"?ops=gelu,cpu")
	x := backend.FromF32(b, []float32{1, 2, 3}, 3)
	y, z := b.New(backend.F32, 3), b.New(backend.F32, 3)
	backend.GELU(b, y, x)
	if err := b.Err(); err != nil {
		t.Fatalf("the plugin's failure was known at once: %v", err)
	}
	backend.Scale(b, z, y, 2) // copies y out of the plugin: waits for it
	err := b.Err()
	t.Log(err)
	for _, want := range []string{"scale(y=f32[3] x=f32[3]): on cpu: copying x there: from plugin:", "?ops=gelu: gelu(y=f32[3] x=f32[3]): the kernel crashed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Err = %v, want %q in it", err, want)
		}
	}
	if _, rerr := backend.ReadF32(b, x); rerr == nil || rerr.Error() != err.Error() {
		t.Errorf("Read = %v, want the sticky %v", rerr, err)
	}
}

// BenchmarkTiny32 times the tiny32 training step (batch 64) on the CPU
// backend, on a plugin process that runs only matmul with the CPU backend
// behind it (the composite "plugin:SELF?ops=matmul,cpu"), on the plugin
// running every op but the optimiser's (adamw, ema) with the CPU behind
// it, and on the plugin process alone (all ops), one step of each in turn
// so that all see the same machine, and reports each one's img/s from its
// fastest step and the composites' copies and copy time per step.
//
//	go test -run '^$' -bench Tiny32 -benchtime 4x ./backend/composite/
func BenchmarkTiny32(b *testing.B) {
	cfg, err := bench.LookupConfig("tiny32")
	if err != nil {
		b.Fatal(err)
	}
	var allButOptimizer []string
	for _, op := range backend.Ops() {
		if op != backend.OpAdamW && op != backend.OpEMA {
			allButOptimizer = append(allButOptimizer, op.String())
		}
	}
	names := []string{"cpu", "one-op", "no-optimizer", "plugin"}
	specs := []string{"cpu", self() + "?ops=matmul,cpu", self() + "?ops=" + strings.Join(allButOptimizer, "+") + ",cpu", self()}
	var sessions []*bench.Session
	for _, spec := range specs {
		be, err := backend.Open(spec)
		if err != nil {
			b.Fatal(err)
		}
		defer be.Close()
		s, err := bench.NewSession(be, cfg, 1)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Steps(context.Background(), 1); err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	var before []composite.Stats
	for _, s := range sessions {
		st, _ := composite.StatsOf(s.Profile().Backend)
		before = append(before, st)
	}
	best := make([]time.Duration, len(sessions))
	for k := range best {
		best[k] = math.MaxInt64
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, s := range sessions {
			d, err := s.Steps(context.Background(), 1)
			if err != nil {
				b.Fatal(err)
			}
			best[k] = min(best[k], d)
		}
	}
	b.StopTimer()
	for k, name := range names {
		b.ReportMetric(float64(cfg.Batch)/best[k].Seconds(), name+"-img/s")
		if after, ok := composite.StatsOf(sessions[k].Profile().Backend); ok {
			d := after.Sub(before[k])
			_, bytes := d.Copied()
			b.ReportMetric(float64(bytes)/float64(b.N)/(1<<20), name+"-MiB/step")
			b.ReportMetric(d.CopyTime().Seconds()*1e3/float64(b.N), name+"-copy-ms/step")
		}
	}
}

// BenchmarkCopy times a copy of one tensor between two backends of a
// composite: each iteration writes the tensor on the first (scale) and
// reads it on the second (add), which copies it there; ns/op includes both
// ops, copy-µs is the host's time in the copy alone (the Read on the
// source, with its wait for the source's queued work, and the Write). Out
// of a plugin a copy is a Read that waits for the plugin; into it, a Write
// queued with its ops (the plugin works on them while the host goes on, so
// the benchmark ends with a Sync, and copy-µs is only the queuing).
//
//	go test -run '^$' -bench Copy ./backend/composite/
func BenchmarkCopy(b *testing.B) {
	pairs := [][2]string{{"cpu", "cpu-ref"}, {"plugin", "cpu"}, {"cpu", "plugin"}}
	if v, err := vulkan.Open(""); err == nil {
		v.Close()
		pairs = append(pairs, [2]string{"vulkan", "cpu"}, [2]string{"cpu", "vulkan"})
	}
	spec := func(name string) string {
		if name == "plugin" {
			return self()
		}
		return name
	}
	for _, p := range pairs {
		for _, n := range []int{1 << 10, 1 << 18, 1 << 22} {
			b.Run(fmt.Sprintf("%s-to-%s/%dKiB", p[0], p[1], 4*n>>10), func(b *testing.B) {
				be, err := backend.Open(spec(p[0]) + "?ops=scale," + spec(p[1]) + "?ops=add")
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				x, y := be.New(backend.F32, n), be.New(backend.F32, n)
				backend.WriteF32(be, x, make([]float32, n))
				b.SetBytes(int64(4 * n))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					backend.Scale(be, x, x, 1)
					backend.Add(be, y, x, x)
				}
				if err := be.Sync(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s, _ := composite.StatsOf(be)
				if s.Members[1].CopiesIn < int64(b.N) {
					b.Fatalf("%d copies in %d iterations", s.Members[1].CopiesIn, b.N)
				}
				b.ReportMetric(float64(s.CopyTime().Microseconds())/float64(b.N), "copy-µs")
			})
		}
	}
}
