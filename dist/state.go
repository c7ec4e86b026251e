package dist

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn"
)

// Broadcast copies the tensors of rank root into the same tensors of every
// other rank, one at a time through the host: the model's starting point,
// which only the root has read from a checkpoint or drew. Every rank
// passes the same names and shapes.
func Broadcast(c Comm, be backend.Backend, tensors []nn.Named, root int) error {
	for _, t := range tensors {
		buf := make([]byte, t.T.Bytes())
		if c.Rank() == root {
			if err := be.Read(t.T, buf); err != nil {
				return fmt.Errorf("dist: broadcast: reading %s: %w", t.Name, err)
			}
		}
		if err := c.Bcast(buf, root); err != nil {
			return fmt.Errorf("dist: broadcast of %s: %w", t.Name, err)
		}
		if c.Rank() != root {
			be.Write(t.T, buf)
		}
	}
	if err := be.Sync(); err != nil {
		return fmt.Errorf("dist: broadcast: %w", err)
	}
	return nil
}

// Checksum hashes the tensors' bytes as read back from be (FNV-1a, 64
// bits), in order.
func Checksum(be backend.Backend, tensors []nn.Named) (uint64, error) {
	h := fnv.New64a()
	for _, t := range tensors {
		buf := make([]byte, t.T.Bytes())
		if err := be.Read(t.T, buf); err != nil {
			return 0, fmt.Errorf("dist: checksum: reading %s: %w", t.Name, err)
		}
		h.Write(buf)
	}
	return h.Sum64(), nil
}

// Verify checks that every rank holds the same tensors, bit for bit: each
// rank's Checksum is gathered by every rank, so that all of them fail
// together, naming the ranks that differ from rank 0, when one differs.
// what names the tensors in the error ("the initial weights").
func Verify(c Comm, be backend.Backend, tensors []nn.Named, what string) error {
	sum, err := Checksum(be, tensors)
	if err != nil {
		return err
	}
	sums, err := gatherU64(c, sum)
	if err != nil {
		return fmt.Errorf("dist: verifying %s: %w", what, err)
	}
	var differ []string
	for r, s := range sums {
		if s != sums[0] {
			differ = append(differ, fmt.Sprintf("rank %d's is %016x", r, s))
		}
	}
	if len(differ) > 0 {
		return fmt.Errorf("dist: the ranks hold different %s: rank 0's checksum is %016x, %s", what, sums[0], strings.Join(differ, ", "))
	}
	return nil
}

// gatherU64 gives every rank every rank's v, through one float64
// all-reduce in which each rank fills its own slot with v's four 16-bit
// parts (exact in a float64).
func gatherU64(c Comm, v uint64) ([]uint64, error) {
	buf := make([]float64, 4*c.Size())
	for i := 0; i < 4; i++ {
		buf[4*c.Rank()+i] = float64((v >> (16 * i)) & 0xffff)
	}
	if err := c.AllreduceF64(buf); err != nil {
		return nil, err
	}
	out := make([]uint64, c.Size())
	for r := range out {
		for i := 0; i < 4; i++ {
			out[r] |= uint64(buf[4*r+i]) << (16 * i)
		}
	}
	return out, nil
}

// BcastJSON gives every rank root's v: root encodes it as JSON, the others
// decode into v (a pointer).
func BcastJSON(c Comm, root int, v any) error {
	var msg []byte
	if c.Rank() == root {
		var err error
		if msg, err = json.Marshal(v); err != nil {
			return fmt.Errorf("dist: broadcast: %w", err)
		}
	}
	n := make([]byte, 8)
	binary.LittleEndian.PutUint64(n, uint64(len(msg)))
	if err := c.Bcast(n, root); err != nil {
		return err
	}
	if c.Rank() != root {
		msg = make([]byte, binary.LittleEndian.Uint64(n))
	}
	if err := c.Bcast(msg, root); err != nil {
		return err
	}
	if c.Rank() != root {
		if err := json.Unmarshal(msg, v); err != nil {
			return fmt.Errorf("dist: broadcast from rank %d: %w", root, err)
		}
	}
	return nil
}
