package half

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/cpu"
)

// The reference below knows the formats only by their values: a positive
// code c of a format with mant mantissa bits is worth value(c) (the IEEE
// layout read with math.Ldexp), positive codes are ordered as their values,
// and the code of infinity, read the same way, is worth the power of two
// after the largest finite value. Rounding is then a search for the two
// neighbours of |x| and a comparison with their midpoint, which is exact in
// float64 (two neighbours have at most 11 significant bits).

type refFormat struct {
	name string
	ft   format
}

var refFormats = []refFormat{{"bf16", bf16}, {"f16", f16}}

func (r refFormat) inf() uint16 { return uint16(1)<<15 - uint16(1)<<r.ft.mant }

// value is the value of the positive code c (c <= inf).
func (r refFormat) value(c uint16) float64 {
	e, m := int(c>>r.ft.mant), int(c&(1<<r.ft.mant-1))
	if e == 0 {
		return math.Ldexp(float64(m), 1-r.ft.bias-int(r.ft.mant))
	}
	return math.Ldexp(float64(1<<r.ft.mant+m), e-r.ft.bias-int(r.ft.mant))
}

// round is the code nearest x (not NaN), ties to the even code.
func (r refFormat) round(x float64) uint16 {
	sign := uint16(0)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	// c: the largest code worth at most x.
	lo, hi := 0, int(r.inf())
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if r.value(uint16(mid)) <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	c := uint16(lo)
	if r.value(c) == x || c == r.inf() {
		return sign | c
	}
	mid := (r.value(c) + r.value(c+1)) / 2
	switch {
	case x < mid:
		return sign | c
	case x > mid || c&1 == 1:
		return sign | (c + 1)
	}
	return sign | c
}

// toFloat32 and fromFloat32 are the scalar conversions of a format.
func (r refFormat) toFloat32(h uint16) float32 {
	if r.name == "bf16" {
		return BF16ToFloat32(h)
	}
	return F16ToFloat32(h)
}

func (r refFormat) fromFloat32(f float32) uint16 {
	if r.name == "bf16" {
		return BF16FromFloat32(f)
	}
	return F16FromFloat32(f)
}

// isNaN reports whether h is a NaN of the format.
func (r refFormat) isNaN(h uint16) bool { return h&0x7fff > r.inf() }

// Every 16-bit pattern widens to its value: infinities and zeros with their
// sign, a NaN to a quiet NaN with the sign and payload (bfloat16 exactly its
// bits). Catches a wrong exponent bias, subnormal scale or NaN encoding.
func TestToFloat32All(t *testing.T) {
	for _, r := range refFormats {
		for i := 0; i < 1<<16; i++ {
			h := uint16(i)
			got := r.toFloat32(h)
			bits := math.Float32bits(got)
			sign := uint32(h&0x8000) << 16
			if bits&0x80000000 != sign {
				t.Fatalf("%s %#04x: %#08x has the wrong sign", r.name, h, bits)
			}
			switch {
			case r.name == "bf16":
				if bits != uint32(h)<<16 {
					t.Fatalf("bf16 %#04x: %#08x, want %#08x", h, bits, uint32(h)<<16)
				}
			case r.isNaN(h):
				if want := sign | 0x7fc00000 | uint32(h&0x3ff)<<13; bits != want {
					t.Fatalf("f16 NaN %#04x: %#08x, want %#08x", h, bits, want)
				}
			default:
				want := r.value(h & 0x7fff)
				if h&0x7fff == r.inf() {
					want = math.Inf(1)
				}
				if float64(got) != want && float64(got) != -want {
					t.Fatalf("f16 %#04x: %g, want %g", h, got, want)
				}
			}
		}
	}
}

// Every 16-bit value survives the trip through float32 and float64 and
// back; a NaN comes back as the same NaN made quiet. Catches a rounding
// that moves exact values (a wrong bias in the rounding increment) and NaNs
// turning into infinities.
func TestRoundTripAll(t *testing.T) {
	for _, r := range refFormats {
		quiet := uint16(1) << (r.ft.mant - 1)
		for i := 0; i < 1<<16; i++ {
			h := uint16(i)
			want := h
			if r.isNaN(h) {
				want |= quiet
			}
			f := r.toFloat32(h)
			if got := r.fromFloat32(f); got != want {
				t.Fatalf("%s %#04x -> %g -> %#04x, want %#04x", r.name, h, f, got, want)
			}
			if got := r.ft.fromFloat64(float64(f)); got != want {
				t.Fatalf("%s %#04x -> %g -> (float64) %#04x, want %#04x", r.name, h, f, got, want)
			}
		}
	}
}

// float32Sample returns float32 values where rounding decides: every value
// of the format, every midpoint between neighbours (ties) and the float32s
// just beside both, with both signs, around the overflow threshold and the
// smallest subnormals, and n random bit patterns.
func float32Sample(r refFormat, n int) []float32 {
	var s []float32
	add := func(f float32) {
		s = append(s, f, -f, math.Nextafter32(f, 0), -math.Nextafter32(f, 0),
			math.Nextafter32(f, float32(math.Inf(1))), -math.Nextafter32(f, float32(math.Inf(1))))
	}
	for c := uint16(0); c < r.inf(); c++ {
		add(float32(r.value(c)))
		add(float32((r.value(c) + r.value(c+1)) / 2))
	}
	add(math.MaxFloat32)
	add(math.SmallestNonzeroFloat32)
	add(float32(math.Inf(1)))
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		if f := math.Float32frombits(rng.Uint32()); !math.IsNaN(float64(f)) {
			s = append(s, f)
		}
	}
	return s
}

// Rounding from float32 is to nearest with ties to even, for every tie and
// near-tie of both formats and 2^18 random values, overflow to
// infinity and subnormals included. Catches truncation, ties away from
// zero, flushed subnormals and a wrong overflow threshold (65504 < x <
// 65520 stays finite in f16).
func TestFromFloat32(t *testing.T) {
	for _, r := range refFormats {
		for _, f := range float32Sample(r, 1<<18) {
			want := r.round(float64(f))
			if got := r.fromFloat32(f); got != want {
				t.Fatalf("%s from float32 %g (%#08x): %#04x, want %#04x", r.name, f, math.Float32bits(f), got, want)
			}
			if got := r.ft.fromFloat64(float64(f)); got != want {
				t.Fatalf("%s from float64 %g: %#04x, want %#04x", r.name, f, got, want)
			}
		}
	}
}

// Rounding from float64 happens once: a value a float64 ulp off a
// midpoint goes to its side, where rounding to float32 first would land on
// the midpoint and go to the even neighbour. Catches double rounding, and
// checks random float64s across the formats' exponent range.
func TestFromFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, r := range refFormats {
		var xs []float64
		for c := uint16(0); c < r.inf(); c++ {
			mid := (r.value(c) + r.value(c+1)) / 2
			for _, x := range []float64{mid, math.Nextafter(mid, 0), math.Nextafter(mid, math.Inf(1))} {
				xs = append(xs, x, -x)
			}
		}
		for range 1 << 18 {
			x := math.Ldexp(1+rng.Float64(), rng.IntN(300)-160)
			if rng.IntN(2) == 0 {
				x = -x
			}
			xs = append(xs, x)
		}
		xs = append(xs, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1), 0, math.Copysign(0, -1))
		doubleRounded := 0
		for _, x := range xs {
			want := r.round(x)
			if got := r.ft.fromFloat64(x); got != want {
				t.Fatalf("%s from float64 %v (%#016x): %#04x, want %#04x", r.name, x, math.Float64bits(x), got, want)
			}
			if r.fromFloat32(float32(x)) != want {
				doubleRounded++
			}
		}
		// The sample holds cases that rounding through float32 gets wrong:
		// without them this test could not catch double rounding.
		if doubleRounded == 0 {
			t.Errorf("%s: no value of the sample is rounded differently through float32", r.name)
		}
		t.Logf("%s: %d of %d values round differently through float32", r.name, doubleRounded, len(xs))
	}
	for _, c := range []struct {
		x    float64
		want uint16
		fn   func(float64) uint16
	}{
		{65519.99, 0x7bff, F16FromFloat64},
		{65520, 0x7c00, F16FromFloat64},
		{0x1p-25, 0, F16FromFloat64},
		{math.Nextafter(0x1p-25, 1), 1, F16FromFloat64},
		{math.NaN(), 0x7e00, F16FromFloat64},
		{math.Float64frombits(0xfff8000000000001), 0xfe00, F16FromFloat64},
		{math.NaN(), 0x7fc0, BF16FromFloat64},
		{1 + 0x1p-8 + 0x1p-40, 0x3f81, BF16FromFloat64},
	} {
		if got := c.fn(c.x); got != c.want {
			t.Errorf("from float64 %v: %#04x, want %#04x", c.x, got, c.want)
		}
	}
}

// NaNs stay NaNs of the same sign, quiet, with the top of the payload —
// the bits x86's vcvtneps2bf16 and vcvtps2ph give. Catches a NaN whose
// payload lies in the dropped bits becoming an infinity.
func TestNaN(t *testing.T) {
	for _, c := range []struct {
		f        uint32
		bf, half uint16
	}{
		{0x7f800001, 0x7fc0, 0x7e00},
		{0xff800001, 0xffc0, 0xfe00},
		{0x7fc00001, 0x7fc0, 0x7e00},
		{0x7f812345, 0x7fc1, 0x7e09},
	} {
		f := math.Float32frombits(c.f)
		if got := BF16FromFloat32(f); got != c.bf {
			t.Errorf("bf16 from %#08x: %#04x, want %#04x", c.f, got, c.bf)
		}
		if got := F16FromFloat32(f); got != c.half {
			t.Errorf("f16 from %#08x: %#04x, want %#04x", c.f, got, c.half)
		}
	}
}

// withLevel runs f with the slice functions at level l.
func withLevel(l int, f func()) {
	defer func(prev int) { level = prev }(level)
	level = l
	f()
}

// The slice functions give the scalar functions' bits at every level the
// CPU runs (plain Go always), for every 16-bit pattern and the rounding
// sample, at lengths and offsets that leave tails for Go. Catches a vector
// path that rounds differently, packs lanes out of order or drops the tail.
func TestSlices(t *testing.T) {
	all := make([]uint16, 1<<16+5)
	for i := range all {
		all[i] = uint16(i)
	}
	for l := levelGo; l <= maxLevel; l++ {
		t.Run(levelNames[l], func(t *testing.T) {
			withLevel(l, func() {
				for _, r := range refFormats {
					src := float32Sample(r, 1<<16)
					for _, off := range []int{0, 1, 7} {
						for _, n := range []int{0, 1, 15, 63, 64, 65, 100, len(src) - off} {
							checkSlices(t, r, src[off:off+n], all[off:off+min(n, len(all)-off)])
						}
					}
				}
			})
		})
	}
}

func checkSlices(t *testing.T, r refFormat, src []float32, codes []uint16) {
	t.Helper()
	enc, dec := BF16FromFloat32s, BF16ToFloat32s
	if r.name == "f16" {
		enc, dec = F16FromFloat32s, F16ToFloat32s
	}
	got := make([]uint16, len(src))
	enc(got, src)
	for i, f := range src {
		if want := r.fromFloat32(f); got[i] != want {
			t.Fatalf("%s from float32s[%d of %d] %#08x: %#04x, want %#04x", r.name, i, len(src), math.Float32bits(f), got[i], want)
		}
	}
	wide := make([]float32, len(codes))
	dec(wide, codes)
	for i, h := range codes {
		if want := r.toFloat32(h); math.Float32bits(wide[i]) != math.Float32bits(want) {
			t.Fatalf("%s to float32s[%d of %d] %#04x: %#08x, want %#08x", r.name, i, len(codes), h, math.Float32bits(wide[i]), math.Float32bits(want))
		}
	}
}

// The vector paths are in the tests wherever the CPU has them: the level
// found by the C code is the one golang.org/x/sys/cpu implies. Catches the
// run-time check failing (and the tests running plain Go only).
func TestLevel(t *testing.T) {
	if len(levelNames) == 1 {
		t.Skipf("built without cgo on x86-64: %s only", Impl())
	}
	if want := cpu.X86.HasAVX2 && cpu.X86.HasF16C; (maxLevel > levelGo) != want {
		t.Errorf("in use: %s, but the CPU has AVX2 and F16C: %v", Impl(), want)
	}
	t.Logf("in use: %s", Impl())
}

// With IJEPA_HALF_EXHAUSTIVE=1, every float32 bit pattern (2^32) rounds
// alike through the float32 functions, the float64 rounding and the slice
// functions in use (measured: 46 s of CPU time, on a Sapphire Rapids core).
// The sampled tests above run everywhere.
func TestFromFloat32Exhaustive(t *testing.T) {
	if os.Getenv("IJEPA_HALF_EXHAUSTIVE") != "1" {
		t.Skip("set IJEPA_HALF_EXHAUSTIVE=1 to check all 2^32 float32 values")
	}
	const chunk = 1 << 16
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := make([]float32, chunk)
			dst := make([]uint16, chunk)
			for base := uint64(w) * chunk; base < 1<<32; base += uint64(workers) * chunk {
				for i := range src {
					src[i] = math.Float32frombits(uint32(base) + uint32(i))
				}
				for _, r := range refFormats {
					enc := BF16FromFloat32s
					if r.name == "f16" {
						enc = F16FromFloat32s
					}
					enc(dst, src)
					for i, f := range src {
						want := r.ft.fromFloat64(float64(f))
						if got := r.fromFloat32(f); got != want || dst[i] != want {
							errs <- fmt.Errorf("%s from %#08x: scalar %#04x, slice %#04x, float64 rounding %#04x", r.name, math.Float32bits(f), got, dst[i], want)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
