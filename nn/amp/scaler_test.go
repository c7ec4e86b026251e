package amp

import (
	"math"
	"testing"
)

// The defaults are PyTorch's. Catches a changed default.
func TestGradScalerDefaults(t *testing.T) {
	s := NewGradScaler()
	if s.Scale != 65536 || s.GrowthFactor != 2 || s.BackoffFactor != 0.5 || s.GrowthInterval != 2000 || s.GrowthTracker != 0 {
		t.Errorf("NewGradScaler() = %+v, want PyTorch's defaults", *s)
	}
	if s.Inverse() != 1.0/65536 {
		t.Errorf("Inverse() = %v", s.Inverse())
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

// The scale doubles on the 2000th clean step in a row, not before; an
// infinity halves it, skips the step and restarts the count. Catches growth
// off by one step, a tracker not reset by an overflow, and a skipped step
// taken.
func TestGradScalerUpdate(t *testing.T) {
	s := NewGradScaler()
	clean := func(n int) {
		t.Helper()
		for range n {
			if !s.Update(false) {
				t.Fatal("a clean step was skipped")
			}
		}
	}
	clean(1999)
	if s.Scale != 65536 || s.GrowthTracker != 1999 {
		t.Fatalf("after 1999 clean steps: scale %v, tracker %d", s.Scale, s.GrowthTracker)
	}
	clean(1)
	if s.Scale != 131072 || s.GrowthTracker != 0 {
		t.Fatalf("after 2000 clean steps: scale %v, tracker %d", s.Scale, s.GrowthTracker)
	}
	clean(1500)
	if s.Update(true) {
		t.Fatal("a step with an infinity was taken")
	}
	if s.Scale != 65536 || s.GrowthTracker != 0 {
		t.Fatalf("after an overflow: scale %v, tracker %d", s.Scale, s.GrowthTracker)
	}
	clean(1999)
	if s.Scale != 65536 {
		t.Fatalf("grew %d steps after an overflow: scale %v", 1999, s.Scale)
	}
	clean(1)
	if s.Scale != 131072 {
		t.Fatalf("2000 clean steps after an overflow: scale %v, want 131072", s.Scale)
	}
	for range 3 {
		s.Update(true)
	}
	if s.Scale != 16384 || s.Inverse() != 1.0/16384 {
		t.Fatalf("three overflows: scale %v inverse %v, want 16384", s.Scale, s.Inverse())
	}
}

// Growth stops where float32 would overflow, as PyTorch's float32 scale
// does; the count restarts all the same. Catches an infinite scale.
func TestGradScalerGrowthCap(t *testing.T) {
	s := NewGradScaler()
	s.Scale, s.GrowthInterval = 0x1p127, 1
	s.Update(false)
	if s.Scale != 0x1p127 || s.GrowthTracker != 0 {
		t.Errorf("scale %v tracker %d, want 2^127 and 0", s.Scale, s.GrowthTracker)
	}
}

// Validate rejects what a corrupt checkpoint could hold. Catches a scaler
// loaded with a zero, negative, NaN or infinite scale.
func TestGradScalerValidate(t *testing.T) {
	for _, f := range []func(*GradScaler){
		func(s *GradScaler) { s.Scale = 0 },
		func(s *GradScaler) { s.Scale = -1 },
		func(s *GradScaler) { s.Scale = math.NaN() },
		func(s *GradScaler) { s.Scale = math.Inf(1) },
		func(s *GradScaler) { s.GrowthFactor = 1 },
		func(s *GradScaler) { s.BackoffFactor = 1 },
		func(s *GradScaler) { s.BackoffFactor = 0 },
		func(s *GradScaler) { s.GrowthInterval = 0 },
		func(s *GradScaler) { s.GrowthTracker = 2000 },
		func(s *GradScaler) { s.GrowthTracker = -1 },
	} {
		s := NewGradScaler()
		f(s)
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v): no error", *s)
		}
	}
}
