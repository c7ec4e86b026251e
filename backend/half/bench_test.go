package half

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkSlices times each slice conversion at every level the CPU runs
// (plain Go, C for AVX2+F16C), on 64 Ki values (in cache) and 4 Mi
// values (in memory), and reports each level's nanoseconds per value from
// the fastest of b.N calls; every iteration runs every level once, so that
// the levels are compared under the same load on a shared machine.
//
//	go test ./backend/half -run '^$' -bench Slices
func BenchmarkSlices(b *testing.B) {
	for _, n := range []int{1 << 16, 1 << 22} {
		f := make([]float32, n)
		h := make([]uint16, n)
		for i := range f {
			f[i] = float32(i%1000)*0.37 - 150
		}
		for _, c := range []struct {
			name string
			run  func()
		}{
			{"f32-to-bf16", func() { BF16FromFloat32s(h, f) }},
			{"bf16-to-f32", func() { BF16ToFloat32s(f, h) }},
			{"f32-to-f16", func() { F16FromFloat32s(h, f) }},
			{"f16-to-f32", func() { F16ToFloat32s(f, h) }},
		} {
			b.Run(fmt.Sprintf("%s/n=%d", c.name, n), func(b *testing.B) {
				best := make([]time.Duration, maxLevel+1)
				for l := range best {
					best[l] = time.Duration(1<<63 - 1)
				}
				for b.Loop() {
					for l := range best {
						withLevel(l, func() {
							start := time.Now()
							c.run()
							best[l] = min(best[l], time.Since(start))
						})
					}
				}
				for l, d := range best {
					unit := strings.NewReplacer(" ", "", ",", "", "+", "-").Replace(levelNames[l])
					b.ReportMetric(float64(d.Nanoseconds())/float64(n), unit+"-ns/value")
				}
			})
		}
	}
}
