package data

// ShardLen is the number of images each of ranks reads per epoch in
// data-parallel training: the n images padded to a multiple of ranks (as
// PyTorch's DistributedSampler pads, by repeating the order's beginning),
// divided by ranks. The steps per epoch are StepsPerEpoch(ShardLen(n,
// ranks), batch, dropLast).
func ShardLen(n, ranks int) int {
	ranks = max(ranks, 1)
	return (n + ranks - 1) / ranks
}

// ResumeStep is where a loader of n images, batch images per rank on
// ranks ranks, with DropLast, goes on from a position a checkpoint recorded
// (Loader.Position: an epoch, and the images of its order read before),
// possibly on another number of ranks. The epoch's remaining whole global
// batches are given the epoch's last steps, so that epochs keep their
// steps (epoch = step / steps per epoch) and the schedules their meaning;
// the loader starts at step with LoaderConfig.StartOffset = startOffset
// (0 when the epoch has no whole batch left and the next one starts).
func ResumeStep(n, batch, ranks int, epoch, offset int64) (step, startOffset int64) {
	ranks = max(ranks, 1)
	ipe := StepsPerEpoch(ShardLen(n, ranks), batch, true)
	padded := int64(ShardLen(n, ranks) * ranks)
	left := min(max(padded-offset, 0)/int64(batch*ranks), ipe)
	if left == 0 {
		return (epoch + 1) * ipe, 0
	}
	return (epoch+1)*ipe - left, offset
}
