package data

import (
	"encoding/binary"
	"os"
	"path/filepath"
)

// ResidentBytes says how much memory the dataset spec describes holds once
// opened and read through, without opening it: MNIST and CIFAR-10 files
// are read into memory whole (their sizes, a gzip file's from its
// trailer), the procedural dataset caches its rendered images when they
// fit in 256 MiB, and an image folder decodes each image when read (0).
func ResidentBytes(spec Spec) int64 {
	switch spec.Kind {
	case KindProcedural:
		if n := int64(spec.N) * int64(spec.Size) * int64(spec.Size) * 4; n <= cacheBytes {
			return n
		}
	case KindMNIST:
		prefix := "t10k"
		if spec.Train {
			prefix = "train"
		}
		var total int64
		for _, kind := range [][2]string{{"images", "idx3"}, {"labels", "idx1"}} {
			for _, base := range []string{prefix + "-" + kind[0] + "-" + kind[1] + "-ubyte", prefix + "-" + kind[0] + "." + kind[1] + "-ubyte"} {
				if n := fileBytes(filepath.Join(spec.Path, base)); n > 0 {
					total += n
					break
				}
				if n := gzipBytes(filepath.Join(spec.Path, base+".gz")); n > 0 {
					total += n
					break
				}
			}
		}
		return total
	case KindCIFAR10:
		dir := spec.Path
		if _, err := os.Stat(filepath.Join(dir, "cifar-10-batches-bin")); err == nil {
			dir = filepath.Join(dir, "cifar-10-batches-bin")
		}
		names := []string{"test_batch.bin"}
		if spec.Train {
			names = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
		}
		var total int64
		for _, n := range names {
			total += fileBytes(filepath.Join(dir, n))
		}
		return total
	}
	return 0
}

func fileBytes(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// gzipBytes is a gzip file's uncompressed size (its trailer's ISIZE,
// modulo 2^32), 0 if there is no such file.
func gzipBytes(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < 4 {
		return 0
	}
	var b [4]byte
	if _, err := f.ReadAt(b[:], st.Size()-4); err != nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint32(b[:]))
}
