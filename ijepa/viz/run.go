package viz

import (
	"fmt"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// RunTitle is a one-line description of a run's progress for a picture.
func RunTitle(dir string, log []runlog.LogRow) string {
	s := "run " + dir
	if len(log) == 0 {
		return s + ": no steps logged yet"
	}
	last := log[len(log)-1]
	return s + fmt.Sprintf(": step %d (epoch %d), loss %.4g, lr %.3g, wd %.3g, momentum %.5f, %.3g img/s",
		last.Step, last.Epoch, last.Loss, last.LR, last.WD, last.Momentum, last.ImgPerS)
}
