package rng

import (
	"math"
	"testing"
)

func TestDeterministicAndKeyed(t *testing.T) {
	a, b := New(7, 1, 2), New(7, 1, 2)
	for i := 0; i < 100; i++ {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same seed and keys gave different streams")
		}
	}
	tests := []struct {
		name string
		x, y *RNG
	}{
		{"seed", New(1), New(2)},
		{"key", New(1, 5), New(1, 6)},
		{"key order", New(1, 5, 6), New(1, 6, 5)},
		{"key count", New(1, 0), New(1)},
	}
	for _, tt := range tests {
		if tt.x.Uint64() == tt.y.Uint64() {
			t.Errorf("%s: streams should differ", tt.name)
		}
	}
}

func TestIntNUniform(t *testing.T) {
	r := New(3)
	const n, draws = 7, 70000
	var count [n]int
	for i := 0; i < draws; i++ {
		v := r.IntN(n)
		if v < 0 || v >= n {
			t.Fatalf("IntN(%d) = %d", n, v)
		}
		count[v]++
	}
	for v, c := range count {
		if math.Abs(float64(c)-draws/n) > 5*math.Sqrt(draws/n) {
			t.Errorf("value %d drawn %d times, want about %d", v, c, draws/n)
		}
	}
}

func TestFloatAndNormMoments(t *testing.T) {
	r := New(4)
	const draws = 100000
	var sf, sn, sn2 float64
	for i := 0; i < draws; i++ {
		f := r.Float64()
		if f < 0 || f >= 1 {
			t.Fatalf("Float64 = %v", f)
		}
		sf += f
		z := r.Norm()
		sn += z
		sn2 += z * z
	}
	if m := sf / draws; math.Abs(m-0.5) > 0.01 {
		t.Errorf("mean of Float64 = %v", m)
	}
	if m := sn / draws; math.Abs(m) > 0.02 {
		t.Errorf("mean of Norm = %v", m)
	}
	if v := sn2 / draws; math.Abs(v-1) > 0.03 {
		t.Errorf("variance of Norm = %v", v)
	}
}

func TestPerm(t *testing.T) {
	p := New(5).Perm(50)
	seen := make([]bool, 50)
	for _, v := range p {
		if seen[v] {
			t.Fatalf("Perm repeats %d", v)
		}
		seen[v] = true
	}
	if q := New(5).Perm(50); q[0] != p[0] || q[49] != p[49] {
		t.Error("Perm not deterministic")
	}
}
