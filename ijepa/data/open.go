package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
)

// Kinds of dataset that Open knows.
const (
	KindProcedural  = "procedural"
	KindMNIST       = "mnist"
	KindCIFAR10     = "cifar10"
	KindImageFolder = "imagefolder"
)

// Kinds lists the dataset kinds Open accepts.
var Kinds = []string{KindProcedural, KindMNIST, KindCIFAR10, KindImageFolder}

// Spec says which dataset to open.
type Spec struct {
	// Kind is one of Kinds.
	Kind string
	// Path is the data directory (not used by procedural): for mnist the
	// folder of the IDX files, for cifar10 the folder of the .bin files,
	// for imagefolder the folder holding train/ and val/ (the official
	// root_path/image_folder).
	Path string
	// Train selects the training split; otherwise the held-out split
	// (mnist t10k, cifar10 test_batch, imagefolder val/ or test/).
	Train bool
	// Seed, N and Size define a procedural dataset: N images of Size x Size.
	// The held-out split uses a seed derived from Seed, so it shares no
	// image with the training split.
	Seed uint64
	N    int
	Size int
	// Folder says what an image folder does with images it cannot read
	// (skip them or fail, where to report them).
	Folder FolderOptions
}

// Open opens the dataset spec describes. A kind read from files needs
// their folder.
func Open(spec Spec) (Dataset, error) {
	if spec.Kind != KindProcedural && spec.Path == "" && slices.Contains(Kinds, spec.Kind) {
		return nil, fmt.Errorf("ijepa: dataset kind %s needs the folder of its files: give --dataset %s:DIR, or data.root_path (and data.image_folder) in the config", spec.Kind, spec.Kind)
	}
	switch spec.Kind {
	case KindProcedural:
		seed := spec.Seed
		if !spec.Train {
			seed = rng.Mix(spec.Seed, 0x7e57)
		}
		return NewProcedural(seed, spec.N, spec.Size)
	case KindMNIST:
		return OpenMNIST(spec.Path, spec.Train)
	case KindCIFAR10:
		return OpenCIFAR10Dir(spec.Path, spec.Train)
	case KindImageFolder:
		subs := []string{"val", "test"}
		if spec.Train {
			subs = []string{"train"}
		}
		for _, s := range subs {
			p := filepath.Join(spec.Path, s)
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				return OpenImageFolderWith(p, spec.Folder)
			}
		}
		return nil, fmt.Errorf("ijepa: dataset %q: no %v sub-folder", spec.Path, subs)
	}
	return nil, fmt.Errorf("ijepa: unknown dataset kind %q (want one of %v)", spec.Kind, Kinds)
}
