package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/train"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

// mpirun returns a command that runs this test binary as `ijepa args...`
// (asMainEnv) on n ranks with mpirun --oversubscribe (as root, with Open
// MPI's two variables that allow it). It skips the test where mpirun is
// missing (fails it under the test command: testdep).
func mpirun(t *testing.T, n int, env []string, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath("mpirun")
	if err != nil {
		testdep.Skip(t, "no mpirun here (Debian: openmpi-bin): %v", err)
	}
	cmd := exec.Command(path, append([]string{"--oversubscribe", "-np", strconv.Itoa(n), os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), asMainEnv+"=1", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_btl=self,vader")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runMPI runs ijepa args on n ranks and returns its exit code and output.
func runMPI(t *testing.T, n int, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := mpirun(t, n, env, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// quickRun is the quick preset cut short for tests: checkpoints every 3
// steps, evaluation on few images.
var quickRun = []string{"--config", "quick", "--checkpoint-every", "3", "--quiet", "--set", "ijepago.probe_train=256", "--set", "ijepago.probe_test=128",
	"--set", "ijepago.eval_size=128", "--set", "ijepago.probe_iterations=10"}

// logSteps returns the steps of a run's log.csv.
func logSteps(t *testing.T, dir string) []int64 {
	t.Helper()
	rows, err := runlog.ReadLog(filepath.Join(dir, runlog.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, r := range rows {
		out = append(out, r.Step)
	}
	return out
}

// A 2-rank run of the quick preset leaves one run directory (one log.csv,
// one eval.csv, one set of checkpoints, written by rank 0) and resumes on 1
// rank; a 1-rank checkpoint resumes on 2 ranks. The step numbers follow
// the global batch: 2 ranks x 32 images a step, so 2-rank step 6 is 1-rank
// step 12.
func TestMPITrainResumesAcrossRanks(t *testing.T) {
	root := t.TempDir()
	two := filepath.Join(root, "two")
	code, out := runMPI(t, 2, nil, append([]string{"train", "--run", two, "--steps", "6"}, quickRun...)...)
	if code != 0 {
		t.Fatalf("mpirun -np 2 ijepa train: exit %d\n%s", code, out)
	}
	if n := strings.Count(out, "trained steps 1 to 6"); n != 1 {
		t.Errorf("%d ranks printed the training summary, want rank 0 alone:\n%s", n, out)
	}
	if got := logSteps(t, two); fmt.Sprint(got) != "[1 2 3 4 5 6]" {
		t.Errorf("log.csv steps %v, want 1 to 6 once each", got)
	}
	entries, _ := os.ReadDir(filepath.Join(two, runlog.CheckpointDir))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[latest.safetensors step-0000003.safetensors step-0000006.safetensors]" {
		t.Errorf("checkpoints %v", names)
	}
	evals, err := runlog.ReadEval(filepath.Join(two, runlog.EvalFile))
	if err != nil || len(evals) != 3 {
		t.Errorf("eval.csv: %d rows (want 3: target, random-init, pixels), %v", len(evals), err)
	}
	info, err := train.ReadCheckpointInfo(filepath.Join(two, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil || info.Ranks != 2 || info.Step != 6 || info.EpochOffset != 6*64 {
		t.Fatalf("the 2-rank checkpoint says %+v, %v; want step 6 of 2 ranks, 384 images into epoch 0", info, err)
	}

	// On 1 rank it goes on from the 384 images seen: step 12 of 32.
	code, stdout, stderr := run(append([]string{"train", "--run", two, "--resume", "--steps", "15", "--eval=false"}, quickRun[2:]...)...)
	if code != 0 {
		t.Fatalf("resume on 1 rank: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "trained steps 13 to 15") {
		t.Errorf("resume on 1 rank:\n%s%s", stdout, stderr)
	}
	if got := logSteps(t, two); fmt.Sprint(got) != "[1 2 3 4 5 6 13 14 15]" {
		t.Errorf("log.csv steps after the 1-rank resume: %v", got)
	}

	// A 1-rank checkpoint at step 15 (480 images) resumes on 2 ranks at
	// the epoch's next whole global batch: 480/64 = 7.5, so step 8 (the
	// epoch keeps its 32 steps: 32 - (2048-480)/64 rounded down = 8).
	code, out = runMPI(t, 2, nil, append([]string{"train", "--run", two, "--resume", "--steps", "10", "--eval=false"}, quickRun[2:]...)...)
	if code != 0 {
		t.Fatalf("resume on 2 ranks: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "trained steps 9 to 10") {
		t.Errorf("resume on 2 ranks:\n%s", out)
	}
	info, err = train.ReadCheckpointInfo(filepath.Join(two, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil || info.Ranks != 2 || info.Step != 10 || info.EpochOffset != 480+2*64 {
		t.Errorf("after the 2-rank resume the checkpoint says %+v, %v; want step 10, 608 images into epoch 0", info, err)
	}
}

// rankPID returns the pid of rank r among the children of mpirun.
func rankPID(t *testing.T, mpirunPID, r int) int {
	t.Helper()
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(mpirunPID)).Output()
	for _, f := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(f)
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		for _, kv := range strings.Split(string(env), "\x00") {
			if kv == "OMPI_COMM_WORLD_RANK="+strconv.Itoa(r) {
				return pid
			}
		}
	}
	t.Fatalf("no rank %d among mpirun's children %q", r, out)
	return 0
}

// startAndStop starts a long 2-rank run, waits for its second checkpoint,
// applies stop to rank 1's process and returns how long every process
// took to end after it, and mpirun's exit code and output.
func startAndStop(t *testing.T, dir string, env []string, stop func(pid int) error) (time.Duration, int, string) {
	t.Helper()
	cmd := mpirun(t, 2, env, append([]string{"train", "--run", dir, "--epochs", "200", "--eval=false"}, quickRun[2:]...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ckpt := filepath.Join(dir, runlog.CheckpointDir, runlog.StepCheckpoint(6))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(ckpt); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the run ended before step 6: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint of step 6 after 2 minutes\n%s", out.String())
		}
	}
	pid := rankPID(t, cmd.Process.Pid, 1)
	t0 := time.Now()
	if err := stop(pid); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return time.Since(t0), code, out.String()
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("still running 60 s after rank 1 was stopped\n%s", out.String())
	}
	return 0, 0, ""
}

// latestLoads checks that the run's latest checkpoint loads.
func latestLoads(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile)
	info, err := train.ReadCheckpointInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := info.Config.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New()
	defer be.Close()
	if err := m.Alloc(be, 0); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if _, err := m.Load(path); err != nil {
		t.Errorf("the latest checkpoint (step %d) does not load: %v", info.Step, err)
	}
}

// kill -9 of rank 1 mid-run: every rank exits non-zero within 30 s, the
// output names rank 1, and the latest checkpoint loads.
func TestMPIKilledRankEndsEveryRank(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	took, code, out := startAndStop(t, dir, nil, func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) })
	t.Logf("every rank ended %v after kill -9 of rank 1 (exit %d)", took.Round(time.Millisecond), code)
	if took > 30*time.Second || code == 0 {
		t.Errorf("mpirun ended %v after rank 1 was killed, exit %d; want non-zero within 30 s", took, code)
	}
	if !strings.Contains(out, "rank 1") {
		t.Errorf("no line names rank 1:\n%s", out)
	}
	latestLoads(t, dir)
}

// A rank that stops answering (SIGSTOP) leaves the others in a collective:
// the watchdog (IJEPA_DIST_TIMEOUT, 3 s here) must end every rank with a
// line naming the waiting rank and the collective.
func TestMPIHungRankIsCaughtByTheWatchdog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	took, code, out := startAndStop(t, dir, []string{"IJEPA_DIST_TIMEOUT=3s"}, func(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) })
	t.Logf("every rank ended %v after rank 1 was stopped (exit %d)\n%s", took.Round(time.Millisecond), code, out)
	if took > 30*time.Second || code == 0 {
		t.Errorf("mpirun ended %v after rank 1 was stopped, exit %d; want non-zero within 30 s", took, code)
	}
	if !strings.Contains(out, "rank 0 of 2") || !strings.Contains(out, "has not finished after 3s") {
		t.Errorf("no watchdog line from rank 0:\n%s", out)
	}
	latestLoads(t, dir)
}

// Ctrl-C (SIGTERM) reaching one rank stops every rank after the same
// step, through the step's loss all-reduce: rank 0 writes a checkpoint of
// that step and every rank says where it stopped. It catches a rank that
// stops alone (the others would wait in a collective) and an interrupted
// run that keeps no checkpoint of its last step.
func TestMPIInterruptedRankStopsEveryRank(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	took, code, out := startAndStop(t, dir, nil, func(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) })
	t.Logf("every rank ended %v after SIGTERM to rank 1 (exit %d)", took.Round(time.Millisecond), code)
	if took > 30*time.Second || code == 0 {
		t.Errorf("mpirun ended %v after rank 1's SIGTERM, exit %d; want non-zero within 30 s", took, code)
	}
	re := regexp.MustCompile(`interrupted at step (\d+)`)
	var steps []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		steps = append(steps, m[1])
	}
	if len(steps) != 2 || steps[0] != steps[1] {
		t.Fatalf("want both ranks to say they stopped at one step, got %v:\n%s", steps, out)
	}
	info, err := train.ReadCheckpointInfo(filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil || strconv.FormatInt(info.Step, 10) != steps[0] {
		t.Errorf("the latest checkpoint is of step %d (%v), the ranks stopped at %s", info.Step, err, steps[0])
	}
	latestLoads(t, dir)
}

// A binary that cannot load MPI, started by mpirun as 2 ranks, refuses in
// one line on each rank.
func TestMPIWithoutMPIRefuses(t *testing.T) {
	code, out := runMPI(t, 2, []string{"IJEPA_MPI=off"}, "train", "--run", filepath.Join(t.TempDir(), "run"), "--steps", "1")
	if code == 0 {
		t.Fatalf("exit 0 without MPI:\n%s", out)
	}
	for r := 0; r < 2; r++ {
		if !strings.Contains(out, fmt.Sprintf("rank %d of 2 (OMPI_COMM_WORLD_SIZE), but MPI cannot be loaded", r)) {
			t.Errorf("no refusal from rank %d:\n%s", r, out)
		}
	}
}

// ijepa bench under mpirun prints the total and per-rank speeds and the
// all-reduce time with the share the backward pass hid.
func TestMPIBench(t *testing.T) {
	code, out := runMPI(t, 2, []string{"GOMAXPROCS=1"}, "bench", "--config", "tiny32", "--warmup", "1", "--steps", "1", "--op-steps", "0")
	if code != 0 {
		t.Fatalf("mpirun -np 2 ijepa bench: exit %d\n%s", code, out)
	}
	for _, want := range []string{"data parallel: 2 ranks", "img/s in all on 2 ranks x 64 images", "per rank img/s: ", "all-reduce: 12.7 MB of gradients per step in 2 bucket(s)", "hidden by the backward pass"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
