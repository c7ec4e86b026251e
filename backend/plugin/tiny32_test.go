package plugin

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// presetStep is an I-JEPA training step of a config preset on a backend:
// the model, and a batch of random images with the preset's masks.
type presetStep struct {
	m     *model.Model
	batch model.Batch
}

func newPresetStep(tb testing.TB, be backend.Backend, preset string, batch int) *presetStep {
	tb.Helper()
	cfg, err := config.Preset(preset)
	if err != nil {
		tb.Fatal(err)
	}
	mc, err := cfg.ModelConfig()
	if err != nil {
		tb.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Alloc(be, 1); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Free)
	col, err := mask.New(cfg.MaskConfig())
	if err != nil {
		tb.Fatal(err)
	}
	mb, err := col.Sample(0, batch)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	images := make([]float32, batch*3*cfg.Data.CropSize*cfg.Data.CropSize)
	for i := range images {
		images[i] = float32(r.NormFloat64())
	}
	return &presetStep{m: m, batch: model.Batch{Images: images, Context: mb.Context, Targets: mb.Targets}}
}

func (s *presetStep) run() (float64, error) {
	return s.m.Step(s.batch, model.Hyper{LR: 1e-4, WD: 0.04, Momentum: 0.996})
}

// A real training step (the tiny32 model on a batch of 2) gives the same
// loss, bit for bit, in process and through a plugin process.
func TestTrainingStepThroughPlugin(t *testing.T) {
	direct := newPresetStep(t, cpu.New(), "tiny32", 2)
	remote := newPresetStep(t, mustOpenMode(t, "cpu", Options{}), "tiny32", 2)
	for i := 0; i < 2; i++ {
		a, err := direct.run()
		if err != nil {
			t.Fatal(err)
		}
		b, err := remote.run()
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("step %d: loss %v in process, %v through the plugin", i, a, b)
		}
	}
}

// BenchmarkTiny32Step times the tiny32 training step (batch 64) on the CPU
// backend in process and through a plugin process running the same backend,
// one step of each in turn, and reports the fastest step of each and their
// ratio.
//
//	go test -run '^$' -bench Tiny32Step -benchtime 5x ./backend/plugin/
func BenchmarkTiny32Step(b *testing.B) {
	os.Setenv(modeEnv, "cpu")
	p, err := Open(os.Args[0], Options{})
	os.Unsetenv(modeEnv)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	steps := []*presetStep{newPresetStep(b, cpu.New(), "tiny32", 64), newPresetStep(b, p, "tiny32", 64)}
	rpc := asClient(p).rpc
	before, err := rpc.Progress(context.Background(), &pb.ProgressRequest{})
	if err != nil {
		b.Fatal(err)
	}
	alternate(b, asClient(p).pid(), func(k int) error { _, err := steps[k].run(); return err })
	after, err := rpc.Progress(context.Background(), &pb.ProgressRequest{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after.Commands-before.Commands)/float64(b.N+1), "commands/step")
}

// When the plugin is killed mid-training, the step fails with the reason, a
// checkpoint cannot be written from the dead backend, and the last good
// checkpoint stays as it was and loads.
func TestCheckpointSurvivesKilledPlugin(t *testing.T) {
	c := mustOpenMode(t, "cpu", fast)
	s := newPresetStep(t, c, "tiny32", 2)
	if _, err := s.run(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "latest.safetensors")
	if err := s.m.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(asClient(c).pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := s.run(); !errors.Is(err, ErrExited) {
		t.Fatalf("a step after the plugin died: %v, want ErrExited", err)
	}
	if err := s.m.Save(path, nil); !errors.Is(err, ErrExited) {
		t.Fatalf("saving from the dead plugin: %v, want ErrExited", err)
	}
	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, good) {
		t.Fatalf("the last good checkpoint changed (%v)", err)
	}
	fresh := newPresetStep(t, cpu.New(), "tiny32", 2)
	if _, err := fresh.m.Load(path); err != nil {
		t.Fatalf("the last good checkpoint does not load: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the checkpoint directory holds %d files, want only the checkpoint", len(entries))
	}
}
