// Package rng is the one deterministic random number generator of the
// host-side I-JEPA packages (masks, datasets, augmentations, loader).
//
// It wraps math/rand/v2's PCG source, whose algorithm is fixed, and derives
// every other value (floats, bounded integers, permutations, normals) with
// code of its own, so a stream depends only on its seed and never on the Go
// release. It is not bit-compatible with torch.Generator: the official I-JEPA
// code seeds torch's Mersenne Twister; we keep the same seeding structure
// (what is seeded by what) but not the same numbers.
package rng

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// RNG is a deterministic pseudo-random generator. It is not safe for
// concurrent use; give each goroutine its own, derived with New.
type RNG struct {
	src rand.PCG
}

// New returns a generator whose stream is a function of seed and the optional
// stream keys (e.g. New(seed, step, image) for one image of one step).
func New(seed uint64, keys ...uint64) *RNG {
	h := Mix(seed, keys...)
	r := &RNG{}
	r.src.Seed(h, splitmix(h^0x6a09e667f3bcc909))
	return r
}

// Mix hashes seed and keys into one well-mixed 64-bit value (SplitMix64
// finalisers chained over the keys). Equal inputs give equal outputs.
func Mix(seed uint64, keys ...uint64) uint64 {
	h := splitmix(seed ^ 0x9e3779b97f4a7c15)
	for _, k := range keys {
		h = splitmix(h ^ splitmix(k+0x632be59bd9b4e019))
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Uint64 returns 64 uniformly distributed random bits.
func (r *RNG) Uint64() uint64 { return r.src.Uint64() }

// Float64 returns a uniform value in [0, 1) with 53 random bits.
func (r *RNG) Float64() float64 {
	return float64(r.src.Uint64()>>11) / (1 << 53)
}

// Uniform returns a uniform value in [lo, hi).
func (r *RNG) Uniform(lo, hi float64) float64 {
	return lo + r.Float64()*(hi-lo)
}

// IntN returns a uniform integer in [0, n) (Lemire's unbiased method).
// n must be positive; IntN(0) and below return 0.
func (r *RNG) IntN(n int) int {
	if n <= 1 {
		return 0
	}
	bound := uint64(n)
	hi, lo := bits.Mul64(r.src.Uint64(), bound)
	if lo < bound {
		thresh := -bound % bound
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), bound)
		}
	}
	return int(hi)
}

// Perm returns a uniform random permutation of [0, n) (Fisher-Yates).
func (r *RNG) Perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.IntN(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// Norm returns a standard normal value (Box-Muller, one value per call).
func (r *RNG) Norm() float64 {
	u1 := 1 - r.Float64() // (0, 1]
	u2 := r.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}
