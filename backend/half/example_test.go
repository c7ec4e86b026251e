package half_test

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend/half"
)

func Example() {
	// 1 + 2^-8 lies halfway between the bfloat16s 1 and 1 + 2^-7: the tie
	// goes to the even mantissa, 1.
	fmt.Printf("%#04x %#04x\n", half.BF16FromFloat32(1+0x1p-8), half.BF16FromFloat32(1+0x1p-7))
	// 65519 rounds down to binary16's largest finite value, 65520 up to
	// infinity.
	fmt.Println(half.F16ToFloat32(half.F16FromFloat32(65519)), half.F16ToFloat32(half.F16FromFloat32(65520)))
	// Output:
	// 0x3f80 0x3f81
	// 65504 +Inf
}
