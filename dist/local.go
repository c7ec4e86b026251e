package dist

import (
	"fmt"
	"sync"
)

// Local returns a group of n ranks inside one process, one Comm per rank,
// each to be used by its own goroutine. Sums are taken in rank order, so
// every rank gets the same bits. It is what the tests of data-parallel
// training use where no MPI launcher runs them.
func Local(n int) []Comm {
	g := &group{n: n, in: make([]any, n)}
	g.cond = sync.NewCond(&g.mu)
	out := make([]Comm, n)
	for r := range out {
		out[r] = &localComm{g: g, rank: r}
	}
	return out
}

// group is the rendezvous of a Local group's ranks: each collective
// gathers every rank's input, the last rank to arrive combines them, and
// every rank takes the result of that generation.
type group struct {
	mu      sync.Mutex
	cond    *sync.Cond
	n       int
	gen     uint64
	arrived int
	kind    string
	in      []any
	out     any
	aborted bool
}

// meet contributes rank's x to a collective of the given kind and returns
// what combine made of every rank's contribution (indexed by rank). The
// result must not be changed: every rank gets the same value.
func (g *group) meet(rank int, kind string, x any, combine func(in []any) any) (any, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.aborted {
		return nil, ErrAborted
	}
	if g.arrived == 0 {
		g.kind = kind
	} else if g.kind != kind {
		g.aborted = true
		g.cond.Broadcast()
		return nil, fmt.Errorf("dist: rank %d called %s while another rank was in %s: collectives out of order", rank, kind, g.kind)
	}
	g.in[rank] = x
	g.arrived++
	if g.arrived == g.n {
		g.out = combine(g.in)
		clear(g.in)
		g.arrived = 0
		g.gen++
		g.cond.Broadcast()
		return g.out, nil
	}
	gen := g.gen
	for g.gen == gen && !g.aborted {
		g.cond.Wait()
	}
	if g.gen == gen {
		return nil, ErrAborted
	}
	return g.out, nil
}

// localComm is one rank of a Local group.
type localComm struct {
	g    *group
	rank int
}

func (c *localComm) Rank() int        { return c.rank }
func (c *localComm) Size() int        { return c.g.n }
func (c *localComm) LocalRank() int   { return c.rank }
func (c *localComm) Describe() string { return fmt.Sprintf("in-process group of %d ranks", c.g.n) }
func (c *localComm) Close() error     { return nil }

func (c *localComm) AllreduceF32(x []float32) error { return allreduceLocal(c, "allreduce f32", x) }
func (c *localComm) AllreduceF64(x []float64) error { return allreduceLocal(c, "allreduce f64", x) }

// allreduceLocal sums every rank's x in rank order into a new slice and
// copies it into x.
func allreduceLocal[T float32 | float64](c *localComm, kind string, x []T) error {
	out, err := c.g.meet(c.rank, kind, x, func(in []any) any {
		n := len(in[0].([]T))
		for _, v := range in {
			if len(v.([]T)) != n {
				return fmt.Errorf("dist: %s of different lengths (%d and %d)", kind, n, len(v.([]T)))
			}
		}
		sum := append([]T(nil), in[0].([]T)...)
		for _, v := range in[1:] {
			for i, e := range v.([]T) {
				sum[i] += e
			}
		}
		return sum
	})
	if err != nil {
		return err
	}
	if err, ok := out.(error); ok {
		return err
	}
	copy(x, out.([]T))
	return nil
}

func (c *localComm) Bcast(b []byte, root int) error {
	if err := checkRoot(root, c.g.n); err != nil {
		return err
	}
	out, err := c.g.meet(c.rank, fmt.Sprintf("bcast from %d", root), b, func(in []any) any {
		src := in[root].([]byte)
		for r, v := range in {
			if len(v.([]byte)) != len(src) {
				return fmt.Errorf("dist: broadcast of %d bytes, rank %d gave %d", len(src), r, len(v.([]byte)))
			}
		}
		return append([]byte(nil), src...)
	})
	if err != nil {
		return err
	}
	if err, ok := out.(error); ok {
		return err
	}
	copy(b, out.([]byte))
	return nil
}

func (c *localComm) Barrier() error {
	_, err := c.g.meet(c.rank, "barrier", nil, func([]any) any { return nil })
	return err
}

func (c *localComm) Abort(int) {
	c.g.mu.Lock()
	c.g.aborted = true
	c.g.cond.Broadcast()
	c.g.mu.Unlock()
}
