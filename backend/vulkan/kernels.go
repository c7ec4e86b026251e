//go:build linux && cgo

package vulkan

import "reflect"

// A kernel is one shaders/*.comp with the Go type of its push constant block
// (`layout(push_constant) uniform Params`): one field per member, in order,
// named as the member with its first letter upper-cased, uint32 for uint and
// float32 for float. TestPushConstantsMatchShaders reads every shader's block
// and compares it with the type registered here, member by member.
type kernel[P any] struct{ name string }

// kernelTypes lists every kernel's push constant type, for the test.
var kernelTypes = map[string]reflect.Type{}

func newKernel[P any](name string) kernel[P] {
	kernelTypes[name] = reflect.TypeFor[P]()
	return kernel[P]{name}
}

// The kernels. Offsets (the O... fields) are element offsets of a tensor in
// the block bound at the matching binding.
var (
	kActivation  = newKernel[activationPush]("activation")
	kAdamW       = newKernel[adamwPush]("adamw")
	kBinary      = newKernel[binaryPush]("binary")
	kColSum      = newKernel[colsumPush]("colsum")
	kGather      = newKernel[gatherPush]("gather")
	kHeads       = newKernel[headsPush]("heads")
	kLayerNorm   = newKernel[layernormPush]("layernorm")
	kLayerNormBw = newKernel[layernormBwdPush]("layernorm_bwd")
	kLinear      = newKernel[linearPush]("linear")
	kLossBwd     = newKernel[lossBwdPush]("loss_bwd")
	kMatMul      = newKernel[matmulPush]("matmul")
	kPatchify    = newKernel[patchifyPush]("patchify")
	kReduce      = newKernel[reducePush]("reduce")
	kScatterAdd  = newKernel[scatterAddPush]("scatter_add")
	kSoftmax     = newKernel[softmaxPush]("softmax")
)

// adamwPush: param, moments, gradient; the step's scalars, computed in
// float64 on the host (adamw.comp).
type adamwPush struct {
	Op, Om, Ov, Og                           uint32
	N                                        uint32
	Decay, B1, B2, Omb1, Omb2, Lrc, Bc2, Eps float32
}

// binaryPush: y = a op b with b repeated every Nb elements.
type binaryPush struct {
	Oy, Oa, Ob uint32
	N, Nb      uint32
}

// colsumPush: column sums of an R x C matrix (MODE 1: of a*(x-mean)*rstd),
// in chunks of Rows rows.
type colsumPush struct {
	Oy, Oa, Ox, Om, Ors uint32
	R, C, Rows          uint32
}

// gatherPush: y[r] = x[idx[r]] for R rows of C.
type gatherPush struct {
	Oy, Ox, Oi uint32
	R, C       uint32
}

// activationPush: o = f(i0) for an activation f, or its gradient with i0 =
// dy and i1 = x.
type activationPush struct {
	Oo, Oi0, Oi1 uint32
	N            uint32
}

// headsPush: one part of G of a head split or merge.
type headsPush struct {
	Opk, Opt            uint32
	B, T, G, Part, H, E uint32
}

// layernormPush: R rows of C.
type layernormPush struct {
	Oy, Om, Ors, Ox, Og, Ob uint32
	R, C                    uint32
	Eps                     float32
}

// layernormBwdPush: dx of R rows of C.
type layernormBwdPush struct {
	Odx, Ody, Ox, Om, Ors, Og uint32
	R, C                      uint32
}

// linearPush: y = r*y + q*x (READ_Y) or y = q*x.
type linearPush struct {
	Oy, Ox uint32
	N      uint32
	R, Q   float32
}

// lossBwdPush: dpred of smooth L1 (MODE 0) or MSE (MODE 1).
type lossBwdPush struct {
	Od, Odl, Op, Ot uint32
	N               uint32
	Beta            float32
}

// matmulPush: c = alpha*op(a)@op(b) + beta*c, M x N over K.
type matmulPush struct {
	Oc, Oa, Ob  uint32
	M, N, K     uint32
	Alpha, Beta float32
}

// patchifyPush: img [B,C,H,W] in patches of P.
type patchifyPush struct {
	Oy, Oi        uint32
	B, C, H, W, P uint32
}

// reducePush: y[0] = Scale * the sum of a term over N elements, Chunk per
// workgroup.
type reducePush struct {
	Oy, Oa, Ob  uint32
	N, Chunk    uint32
	Beta, Scale float32
}

// scatterAddPush: y[idx[r]] += x[r] following the plan in the int array
// bound at binding 2.
type scatterAddPush struct {
	Oy, Ox, Oi                uint32
	Oseg, Orows, Odest, Odseg uint32
	N                         uint32
	C                         uint32
}

// softmaxPush: R rows of C, input scale Alpha.
type softmaxPush struct {
	Oo, Oi0, Oi1 uint32
	R, C         uint32
	Alpha        float32
}
