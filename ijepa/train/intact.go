package train

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// verifyCheckpoint reports whether the checkpoint at path is intact: its
// header reads, every tensor matches its recorded checksum, and it holds
// the trainer's metadata.
func verifyCheckpoint(path string) (CheckpointInfo, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return CheckpointInfo{}, err
	}
	defer f.Close()
	if err := f.Verify(); err != nil {
		return CheckpointInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return parseInfo(path, f.Metadata)
}

// newestIntact returns the newest checkpoint of the run's checkpoint
// directory that verifyCheckpoint passes, skipping bad (and files that are
// bad's hard links), or "" when there is none.
func newestIntact(ckDir, bad string) (string, int64) {
	entries, err := os.ReadDir(ckDir)
	if err != nil {
		return "", 0
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); n == runlog.LatestFile || strings.HasPrefix(n, "step-") && strings.HasSuffix(n, ".safetensors") {
			names = append(names, n)
		}
	}
	badInfo, _ := os.Stat(bad)
	best, bestStep := "", int64(-1)
	// Numbered files sort by step; latest is checked too (it may hold a
	// step no numbered file has).
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		p := filepath.Join(ckDir, n)
		if st, err := os.Stat(p); err != nil || badInfo != nil && os.SameFile(st, badInfo) {
			continue
		}
		info, err := verifyCheckpoint(p)
		if err == nil && info.Step > bestStep {
			best, bestStep = p, info.Step
		}
	}
	return best, bestStep
}

// damaged adds to err, from loading the run's own checkpoint at path, the
// way out when path is damaged (truncated, or its data no longer matching
// its checksums): the newest intact checkpoint of the run, to pass to
// --checkpoint with --resume. An error of another kind is returned as is.
func (t *Trainer) damaged(path string, err error) error {
	if _, verr := verifyCheckpoint(path); verr == nil {
		return err
	}
	if p, step := newestIntact(t.ckDir, path); p != "" {
		return fmt.Errorf("%w; the file is damaged: the newest intact checkpoint of the run is %s (step %d): go on from it with --resume --checkpoint %s", err, p, step, p)
	}
	return fmt.Errorf("%w; the file is damaged and the run has no intact checkpoint: start the run again (without --resume) or in another directory", err)
}
