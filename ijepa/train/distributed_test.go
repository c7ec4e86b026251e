package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	_ "github.com/ijepa-go/ijepa/backend/vulkan"
	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/dist/disttest"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/internal/testdep"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// TestMain opens the MPI world when mpirun started the test binary
// (scripts/test.sh runs the data-parallel tests so); otherwise the tests
// run their ranks as goroutines.
func TestMain(m *testing.M) { disttest.Main(m) }

// equivalenceTol is the relative difference allowed between the 2-rank
// and the 1-rank runs: float32 sums taken in another order.
const equivalenceTol = 1e-5

// TestDataParallelMatchesOneRankCPU and ...Vulkan run 20 steps on 2 ranks
// with batches of 4 per rank and on 1 rank with batches of 8, on the same
// images, crops and masks (the masks are sampled for the global batch):
// the losses and the weights, target encoder and AdamW moments after them
// must agree within float32 reduction-order tolerance. It catches
// gradients that are summed but not averaged, a rank reading another's
// images, buckets reduced out of order or written back to the wrong
// parameter, a rank that starts from other weights, and a loss logged for
// one rank instead of the mean.
func TestDataParallelMatchesOneRankCPU(t *testing.T) { testDataParallelMatchesOneRank(t, "cpu") }

func TestDataParallelMatchesOneRankVulkan(t *testing.T) { testDataParallelMatchesOneRank(t, "vulkan") }

func testDataParallelMatchesOneRank(t *testing.T, spec string) {
	if be, err := backend.Open(spec); err != nil {
		testdep.Skip(t, "no %s backend here: %v", spec, err)
	} else {
		be.Close()
	}
	const steps, batch = 20, 4
	sets := []string{fmt.Sprintf("ijepago.steps=%d", steps), "ijepago.checkpoint_every=10", "ijepago.backend=" + spec}
	dir := t.TempDir()
	var got *Result
	disttest.Run(t, 2, func(c dist.Comm) error {
		be, err := backend.Open(spec)
		if err != nil {
			return err
		}
		defer be.Close()
		cfg := testConfig(t, append(sets, fmt.Sprintf("data.batch_size=%d", batch))...)
		res, err := Run(context.Background(), Options{Config: cfg, Backend: be, Dir: dir, World: c, Progress: io.Discard, globalMasks: true})
		if err != nil {
			return err
		}
		if c.Rank() == 0 {
			got = res
		}
		return nil
	})
	if t.Failed() || got == nil { // under MPI, rank 1 has nothing to compare
		return
	}
	be, err := backend.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	refDir := t.TempDir()
	cfg := testConfig(t, append(sets, fmt.Sprintf("data.batch_size=%d", 2*batch))...)
	want, err := Run(context.Background(), Options{Config: cfg, Backend: be, Dir: refDir, Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Losses) != steps || len(want.Losses) != steps {
		t.Fatalf("%d and %d losses, want %d each", len(got.Losses), len(want.Losses), steps)
	}
	logged := losses(t, dir)
	for i := range want.Losses {
		if d := relDiff(got.Losses[i], want.Losses[i]); d > equivalenceTol {
			t.Errorf("step %d: loss %.9g on 2 ranks, %.9g on 1 (relative difference %.2g)", i+1, got.Losses[i], want.Losses[i], d)
		}
		if d := relDiff(logged[i], want.Losses[i]); d > equivalenceTol {
			t.Errorf("step %d: log.csv says %.9g, the 1-rank run %.9g", i+1, logged[i], want.Losses[i])
		}
	}
	a := readTensors(t, filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile))
	b := readTensors(t, filepath.Join(refDir, runlog.CheckpointDir, runlog.LatestFile))
	if len(a) != len(b) {
		t.Fatalf("the checkpoints hold %d and %d tensors", len(a), len(b))
	}
	worst, worstName := 0.0, ""
	for name, w := range b {
		d := normDiff(a[name], w)
		if d > worst {
			worst, worstName = d, name
		}
		if d > equivalenceTol {
			t.Errorf("%s after %d steps: relative difference %.2g between 2 ranks and 1", name, steps, d)
		}
	}
	t.Logf("%s: 2 ranks x %d against 1 x %d, %d steps: losses within %.2g, tensors within %.2g (%s)", spec, batch, 2*batch, steps,
		maxRelDiff(got.Losses, want.Losses), worst, worstName)
}

func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-30) }

func maxRelDiff(a, b []float64) float64 {
	m := 0.0
	for i := range b {
		m = math.Max(m, relDiff(a[i], b[i]))
	}
	return m
}

// normDiff is |a-b| / |b| in the Euclidean norm (0 for two zero tensors);
// +Inf when the lengths differ.
func normDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, n float64
	for i := range b {
		d += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		n += float64(b[i]) * float64(b[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

// readTensors reads every tensor of a checkpoint file.
func readTensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		buf := make([]byte, 4*info.NumElements())
		if err := f.Read(name, buf); err != nil {
			t.Fatal(err)
		}
		out[name] = append([]float32(nil), backend.BytesF32(buf)...)
	}
	return out
}

// TestDataParallelResumeOnTwoRanksGoesOnExactly stops a 1-rank run after 3
// steps (24 of an epoch's 64 images), resumes it on 2 ranks, and checks
// that the 2-rank run starts at step 2 of its numbering (images 24-55 are
// its steps 3 and 4: the epoch keeps its 4 steps), and that stopping and
// resuming the 2-rank run again, in the epoch the offset applies to, gives
// its losses bit for bit. It catches a resume that drops the data offset
// once the number of ranks no longer changes (24 images is not a whole
// number of 2-rank batches of 16).
func TestDataParallelResumeOnTwoRanksGoesOnExactly(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, testConfig(t, "ijepago.steps=3"), dir, false)
	copyDir := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	onTwo := func(d string, steps int) *Result {
		var out *Result
		disttest.Run(t, 2, func(c dist.Comm) error {
			be := cpu.New()
			defer be.Close()
			cfg := testConfig(t, fmt.Sprintf("ijepago.steps=%d", steps))
			res, err := Run(context.Background(), Options{Config: cfg, Backend: be, Dir: d, Resume: true, World: c, Progress: io.Discard})
			if c.Rank() == 0 {
				out = res
			}
			return err
		})
		return out // nil on rank 1 of an MPI world
	}
	unbroken := onTwo(dir, 8)
	first := onTwo(copyDir, 3)
	second := onTwo(copyDir, 8)
	if t.Failed() || !dist.IsRoot(disttest.MPI()) {
		return
	}
	if unbroken.Start != 2 {
		t.Fatalf("the 2-rank run resumed at step %d, want 2", unbroken.Start)
	}
	sameLosses(t, "resumed twice on 2 ranks", append(first.Losses, second.Losses...), unbroken.Losses)
}
