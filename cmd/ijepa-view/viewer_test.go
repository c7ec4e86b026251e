package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// pump updates v until its work is done and both pictures are there, or
// fails after a minute.
func pump(t *testing.T, v *viewer) {
	t.Helper()
	for end := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		v.update(false)
		if v.idle() && v.batch != nil && v.batchAt == v.step && (v.feats != nil || v.featErr != "") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the viewer did not settle: masks %q, features %q", v.maskErr, v.featErr)
		}
	}
}

// TestViewerFollowsTheRun drives the viewer without a window: it waits for
// the config, follows the log, pages through images, steps back and
// forth, and picks up a new checkpoint.
func TestViewerFollowsTheRun(t *testing.T) {
	dir := testRun(t, 12)
	cfgPath := runlog.Path(dir, runlog.ConfigFile)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(cfgPath)
	v, err := newViewer(dir, options{Page: 3, Images: 5, Poll: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer v.close()

	v.update(true)
	if st := v.state(1000, 700); st.Masks != nil || !strings.Contains(st.MasksNote, "waiting for") {
		t.Fatalf("without config.yaml: masks note %q, want waiting", st.MasksNote)
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	pump(t, v)
	if v.featErr != "" {
		t.Fatal(v.featErr)
	}
	st := v.state(1000, 700)
	if st.Masks == nil || st.Features == nil || v.step != 12 || v.batch.Masks.Step != 11 {
		t.Fatalf("following: step %d, batch of sampler step %d, notes %q %q; want step 12's batch and both pictures",
			v.step, v.batch.Masks.Step, st.MasksNote, st.FeaturesNote)
	}
	if len(v.batch.Images) != 8 || len(v.evalIm.Images) != 5 {
		t.Fatalf("%d batch and %d held-out images, want the batch of 8 and 5", len(v.batch.Images), len(v.evalIm.Images))
	}
	if _, err := v.frame(1000, 700); err != nil {
		t.Fatal(err)
	}

	// Pages of 3: 0-2, 3-5, 6-7 of the batch; the held-out set of 5 wraps.
	for _, want := range [][4]int{{3, 6, 3, 5}, {6, 8, 0, 3}, {0, 3, 3, 5}} {
		if !v.key(keyNext) {
			t.Fatal("keyNext changed nothing")
		}
		a, b := v.page(len(v.batch.Images))
		c, d := v.page(len(v.evalIm.Images))
		if [4]int{a, b, c, d} != want {
			t.Errorf("offset %d: pages [%d,%d) and [%d,%d), want %v", v.offset, a, b, c, d, want)
		}
	}
	v.key(keyPrev)
	if a, b := v.page(8); a != 6 || b != 8 {
		t.Errorf("previous from the first page: [%d,%d), want the last [6,8)", a, b)
	}

	// Up: the step before, no longer following; new log rows do not move
	// it; Down back to the last step follows again.
	v.key(keyEarlier)
	pump(t, v)
	if v.follow || v.step != 11 || v.batch.Masks.Step != 10 {
		t.Fatalf("after Up: step %d following %v batch %d", v.step, v.follow, v.batch.Masks.Step)
	}
	appendLog(t, dir, 13, 14)
	time.Sleep(2 * time.Millisecond)
	v.update(true)
	if v.step != 11 || len(v.log) != 14 {
		t.Errorf("not following: step %d with %d log rows, want step 11 and 14 rows", v.step, len(v.log))
	}
	v.key(keyLater)
	v.key(keyLater)
	v.key(keyLater)
	if !v.follow || v.step != 14 {
		t.Errorf("Down past the last step: step %d following %v, want 14 and following", v.step, v.follow)
	}
	v.key(keyEarlier)
	v.key(keyFollow)
	if !v.follow || v.step != 14 {
		t.Errorf("F: step %d following %v, want 14 and following", v.step, v.follow)
	}
	pump(t, v)

	// A new checkpoint is picked up; a broken one is reported and the last
	// good pictures stay.
	old := v.feats
	if err := os.WriteFile(runlog.Path(dir, runlog.LatestCheckpoint), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	for end := time.Now().Add(time.Minute); v.featErr == "" && time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		v.update(false)
	}
	if v.featErr == "" || v.feats == nil || &v.feats[0] != &old[0] {
		t.Fatalf("a broken checkpoint: error %q, features kept %v", v.featErr, v.feats != nil)
	}
	if st := v.state(1000, 700); st.Features == nil {
		t.Errorf("a broken newer checkpoint hid the last good picture: %q", st.FeaturesNote)
	}
}
