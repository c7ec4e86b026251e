//go:build !cgo || !amd64

package half

// Without cgo on x86-64 the slice functions are the scalar ones in a loop.
const levelGo = 0

var levelNames = []string{"Go"}

var maxLevel, level = levelGo, levelGo

const minC = 0

func fastF32ToBF16([]uint16, []float32) int { return 0 }
func fastBF16ToF32([]float32, []uint16) int { return 0 }
func fastF32ToF16([]uint16, []float32) int  { return 0 }
func fastF16ToF32([]float32, []uint16) int  { return 0 }
