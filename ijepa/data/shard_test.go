package data

import (
	"context"
	"slices"
	"testing"
)

// distributedSampler is PyTorch's DistributedSampler(shuffle, drop_last
// False) followed by a DataLoader(batch, drop_last True), written out:
// the epoch's order padded to a multiple of ranks with its beginning,
// rank's shard order[rank::ranks], cut into whole batches.
func distributedSampler(order []int, ranks, rank, batch int) [][]int {
	total := ShardLen(len(order), ranks) * ranks
	padded := append([]int(nil), order...)
	for len(padded) < total {
		padded = append(padded, order[:min(len(order), total-len(padded))]...)
	}
	var shard []int
	for i := rank; i < total; i += ranks {
		shard = append(shard, padded[i])
	}
	var out [][]int
	for k := 0; (k+1)*batch <= len(shard); k++ {
		out = append(out, shard[k*batch:(k+1)*batch])
	}
	return out
}

// TestShardsAreDistributedSampler checks each rank's batches against
// DistributedSampler's over two epochs, with padding (11 images on 3
// ranks), and that the ranks' images and masks are those the one-rank loader
// with the global batch gives (with GlobalMasks): the same images, crops and
// masks at each position of the global batch. It catches a shard that
// differs from the sampler's, augmentations or masks that depend on the
// number of ranks, and a rank that reads another's images.
func TestShardsAreDistributedSampler(t *testing.T) {
	const n, ranks, batch = 11, 3, 2
	base := testLoaderConfig(t, n)
	base.BatchSize = batch
	base.Ranks = ranks
	base.GlobalMasks = true
	l, err := NewLoader(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	ipe := l.StepsPerEpoch()
	order := [][]int{l.Order(0), l.Order(1)}
	l.Close()
	if want := StepsPerEpoch(4, batch, true); ipe != want {
		t.Fatalf("steps per epoch %d, want %d (a shard of ceil(11/3) = 4 images)", ipe, want)
	}
	base.Steps = 2 * ipe
	var rankBatches [ranks][]*Batch
	for r := 0; r < ranks; r++ {
		cfg := base
		cfg.Rank = r
		rankBatches[r] = collect(t, cfg)
		for e := 0; e < 2; e++ {
			want := distributedSampler(order[e], ranks, r, batch)
			for k := 0; k < int(ipe); k++ {
				if got := rankBatches[r][e*int(ipe)+k].Indices; !slices.Equal(got, want[k]) {
					t.Errorf("rank %d epoch %d batch %d: images %v, DistributedSampler %v", r, e, k, got, want[k])
				}
			}
		}
	}
	one := base
	one.Ranks, one.BatchSize = 1, batch*ranks
	// The one-rank loader's own epochs differ (no padding, 3 batches of 6
	// of 11 images); its first epoch's first batch is the same global batch.
	ref := collect(t, LoaderConfig{Dataset: one.Dataset, Transform: one.Transform, BatchSize: one.BatchSize, Masks: one.Masks,
		Seed: one.Seed, Shuffle: true, DropLast: true, Steps: 1})[0]
	per := len(ref.Images) / ref.B()
	for q := 0; q < ref.B(); q++ {
		rb, p := rankBatches[q%ranks][0], q/ranks
		if rb.Indices[p] != ref.Indices[q] {
			t.Fatalf("global position %d: rank %d has image %d, the one-rank loader %d", q, q%ranks, rb.Indices[p], ref.Indices[q])
		}
		if !slices.Equal(rb.Images[p*per:(p+1)*per], ref.Images[q*per:(q+1)*per]) {
			t.Errorf("global position %d: rank %d's crop differs from the one-rank loader's", q, q%ranks)
		}
		if !slices.Equal(rb.Masks.Context[p], ref.Masks.Context[q]) {
			t.Errorf("global position %d: context mask differs", q)
		}
		for m := range ref.Masks.Targets {
			if !slices.Equal(rb.Masks.Targets[m][p], ref.Masks.Targets[m][q]) {
				t.Errorf("global position %d: target block %d differs", q, m)
			}
		}
	}
	// Without GlobalMasks each rank samples its own: rank 0 as a single
	// process would, rank 1 other positions.
	own := base
	own.GlobalMasks, own.Steps = false, 1
	own.Rank = 1
	r1 := collect(t, own)[0].Masks
	own.Rank = 0
	r0 := collect(t, own)[0].Masks
	if slices.Equal(r0.Context[0], r1.Context[0]) && slices.Equal(r0.Targets[0][0], r1.Targets[0][0]) {
		t.Error("ranks 0 and 1 sampled the same masks")
	}
	if r0.PredSize != r1.PredSize || r0.EncSize != r1.EncSize {
		t.Errorf("ranks drew different block sizes at one step: %v/%v and %v/%v", r0.PredSize, r0.EncSize, r1.PredSize, r1.EncSize)
	}
}

// TestResumeOnOtherRanks runs the loader on 2 ranks to a mid-epoch step,
// then resumes from its position on 1 and on 3 ranks: the global order of
// images must go on where it stopped, to the end of the epoch, with the
// epoch ending on its last step. It catches a resume that repeats or skips
// images, and one that shifts the epochs' steps.
func TestResumeOnOtherRanks(t *testing.T) {
	const n, batch = 40, 3
	base := testLoaderConfig(t, n)
	base.BatchSize = batch
	order := func() []int {
		l, err := NewLoader(context.Background(), base)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Order(1)
	}()
	global := func(ranks int, start, offset, steps int64) (seen []int, epochs []int64, pos [2]int64) {
		var perRank [][]*Batch
		for r := 0; r < ranks; r++ {
			cfg := base
			cfg.Ranks, cfg.Rank, cfg.StartStep, cfg.StartOffset, cfg.Steps = ranks, r, start, offset, steps
			perRank = append(perRank, collect(t, cfg))
			if r == 0 {
				l, err := NewLoader(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				pos[0], pos[1] = l.Position(start + steps)
				l.Close()
			}
		}
		for s := range perRank[0] {
			for p := 0; p < batch; p++ {
				for r := 0; r < ranks; r++ {
					seen = append(seen, perRank[r][s].Indices[p])
				}
			}
			epochs = append(epochs, perRank[0][s].Epoch)
		}
		return
	}
	// Two ranks: 20 images each, 6 steps an epoch; stop after step 9
	// (epoch 1, 3 batches of 6 in).
	ipe2 := StepsPerEpoch(ShardLen(n, 2), batch, true)
	first, _, pos := global(2, ipe2, 0, 3)
	if pos != [2]int64{1, 18} {
		t.Fatalf("position after 3 steps of epoch 1 on 2 ranks: %v, want [1 18]", pos)
	}
	for _, ranks := range []int{1, 3} {
		start, off := ResumeStep(n, batch, ranks, pos[0], pos[1])
		ipe := StepsPerEpoch(ShardLen(n, ranks), batch, true)
		if start/ipe != 1 {
			t.Fatalf("%d ranks: resumed at step %d, epoch %d, want epoch 1", ranks, start, start/ipe)
		}
		rest, epochs, _ := global(ranks, start, off, 2*ipe-start)
		if epochs[len(epochs)-1] != 1 {
			t.Errorf("%d ranks: the epoch's last batch is in epoch %d", ranks, epochs[len(epochs)-1])
		}
		got := append(append([]int(nil), first...), rest...)
		g := batch * ranks
		whole := 18 + (len(order)-18)/g*g // what fits in whole global batches after the offset
		if !slices.Equal(got, order[:whole]) {
			t.Errorf("%d ranks (resumed at step %d, offset %d): images %v, want the epoch's order %v", ranks, start, off, got, order[:whole])
		}
	}
}
