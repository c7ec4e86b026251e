package backend

import (
	"fmt"
	"slices"
	"strings"
)

// Op names one op of the closed catalogue. The catalogue covers the forward
// and backward pass of I-JEPA; its semantics are the table below, and the CPU
// backend (backend/cpu) is its executable specification.
type Op uint16

// The ops, in catalogue order. Add new ops at the end and bump APIVersion.
const (
	OpMatMul Op = iota + 1
	OpAdd
	OpMul
	OpScale
	OpAxpy
	OpColSum
	OpLayerNorm
	OpLayerNormBwd
	OpSoftmax
	OpSoftmaxBwd
	OpGELU
	OpGELUBwd
	OpGather
	OpScatterAdd
	OpSplitHeads
	OpMergeHeads
	OpPatchify
	OpSmoothL1
	OpSmoothL1Bwd
	OpMSE
	OpMSEBwd
	OpSum
	OpSumSq
	OpAdamW
	OpEMA
	OpFill
	OpCopy
	OpSiLU
	OpSiLUBwd
	OpCast
	numOps
)

// Role says how an op uses an argument.
type Role uint8

// Argument roles.
const (
	// In is read only.
	In Role = iota + 1
	// Out is written entirely; its previous contents are ignored.
	Out
	// InOut is read, then written (accumulators, optimiser state).
	InOut
)

// String returns "in", "out" or "inout".
func (r Role) String() string {
	switch r {
	case In:
		return "in"
	case Out:
		return "out"
	case InOut:
		return "inout"
	}
	return "?"
}

// Arg describes one tensor argument of an op.
type Arg struct {
	Name string
	Role Role
	// DType is I32 for indices, F32 for a floating argument, whose dtype in
	// a call is the one of its place in one of the op's signatures
	// (Spec.Sigs).
	DType DType
	// Optional arguments may be nil in a Call.
	Optional bool
	// Variadic marks an argument that stands for one or more consecutive
	// tensors (at most one per op).
	Variadic bool
	// Rows is, for an index argument (I32), the argument whose rows (first
	// dim) the indices address; every index must be in [0, rows).
	Rows int
}

// BindKind says what an argument of a gradient op (Spec.GradOf) stands for
// in the op it differentiates.
type BindKind uint8

// The kinds of binding.
const (
	// Grad: the argument receives the gradient of the loss with respect to
	// the forward argument, written (an Out argument) or added (InOut).
	Grad BindKind = iota + 1
	// Upstream: the argument is the gradient of the loss with respect to
	// the forward output.
	Upstream
	// Value: the argument is the forward argument's value (an input, or an
	// output the forward op computed).
	Value
)

// Bind ties one argument of a gradient op to argument Arg (an index into the
// Args of the op's GradOf) of the op it differentiates. A variadic argument
// binds to a variadic one, tensor by tensor.
type Bind struct {
	Kind BindKind
	Arg  int
}

func grad(i int) Bind     { return Bind{Grad, i} }
func upstream(i int) Bind { return Bind{Upstream, i} }
func value(i int) Bind    { return Bind{Value, i} }

// Spec is an op's row in the catalogue.
type Spec struct {
	Name string
	Args []Arg
	// Attrs lists the Attrs fields the op reads.
	Attrs []string
	// InPlace ops allow an output to be the same storage as an input of the
	// same shape; for every other op, outputs share no storage with any
	// other argument.
	InPlace bool
	// Optional ops may be missing from a backend; callers then compose them
	// from other ops. Every other op is required to train I-JEPA, and the
	// conformance suite fails a backend that lacks one.
	Optional bool
	// GradOf, for an op that computes the gradients of another op (its
	// backward op or its adjoint), is that op, and Binds says what each of
	// its arguments stands for there. Attributes of the same name are
	// shared. nn derives the backward rule of GradOf from it, and the
	// conformance suite checks the op against finite differences of GradOf.
	GradOf Op
	Binds  []Bind
	// Semantics is the exact definition, in the notation of the table.
	Semantics string
	// Sigs are the combinations of dtypes the op takes, one dtype per
	// argument of the row (a variadic argument's tensors share one). Unless the row gives them, they are every
	// floating argument float32, every one float16, or every one bfloat16
	// (Floats), with indices I32. A 16-bit signature computes as the table
	// header states (Table): inputs as given, arithmetic in float32 or
	// wider, one rounding to each output's dtype.
	Sigs    []Sig
	check   func(c Call) error
	indexed bool        // an argument is I32 indices
	attrs   []attrField // the fields Attrs names
}

// Sig is one combination of dtypes an op takes: the dtype of each argument
// of its row, in order.
type Sig []DType

// Floats are the floating dtypes, in the order every op's default
// signatures take them.
var Floats = []DType{F32, F16, BF16}

// String formats the signature as "f32,bf16,bf16".
func (s Sig) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// Mixed reports whether the signature has floating arguments of more than
// one dtype.
func (s Sig) Mixed() bool {
	var first DType
	for _, d := range s {
		if d == I32 {
			continue
		}
		if first != 0 && d != first {
			return true
		}
		first = d
	}
	return false
}

func in(name string) Arg    { return Arg{Name: name, Role: In, DType: F32} }
func out(name string) Arg   { return Arg{Name: name, Role: Out, DType: F32} }
func inout(name string) Arg { return Arg{Name: name, Role: InOut, DType: F32} }
func opt(a Arg) Arg         { a.Optional = true; return a }
func many(a Arg) Arg        { a.Variadic = true; return a }
func idx(name string, rows int) Arg {
	return Arg{Name: name, Role: In, DType: I32, Rows: rows}
}

// specs is the op catalogue: the one place where each op's arguments and
// meaning are defined. Notation: tensors are row-major; "x as [R,C]" views a
// tensor's elements as R rows of C; sums run over the named index; arithmetic
// is float32 unless stated.
var specs = [numOps]Spec{
	OpMatMul: {Name: "matmul", Args: []Arg{inout("c"), in("a"), in("b")},
		Attrs: []string{"TransA", "TransB", "Alpha", "Beta"}, check: checkMatMul,
		Semantics: "c[z] = Alpha * op(a[z]) @ op(b[z]) + Beta * c[z] for every batch z, where op(x) = x^T when the Trans flag is set. " +
			"a, b and c are all rank 2 ([M,K] @ [K,N] -> [M,N]) or all rank 3 with one batch size Z. " +
			"When Beta is 0, c is not read (even NaN in c is ignored). Accumulation in float32 or wider. " +
			"Mixed: c float32 with a and b both f16 or both bf16: the products of the 16-bit inputs are exact, summed in float32 or wider, and c stays float32 (no 16-bit rounding).",
		Sigs: []Sig{{F32, F32, F32}, {F16, F16, F16}, {BF16, BF16, BF16}, {F32, F16, F16}, {F32, BF16, BF16}}},
	OpAdd: {Name: "add", Args: []Arg{out("y"), in("a"), in("b")}, InPlace: true, check: checkBroadcast,
		Semantics: "y = a + b. b has a's shape or a trailing part of it (b's shape equals the last dims of a's) and is repeated over a's leading dims (bias and position rows). y has a's shape."},
	OpMul: {Name: "mul", Args: []Arg{out("y"), in("a"), in("b")}, InPlace: true, check: checkBroadcast,
		Semantics: "y = a * b elementwise, with b broadcast over a's leading dims as in add."},
	OpScale: {Name: "scale", Args: []Arg{out("y"), in("x")}, Attrs: []string{"Alpha"}, InPlace: true, check: checkSameShape,
		Semantics: "y = Alpha * x."},
	OpAxpy: {Name: "axpy", Args: []Arg{inout("y"), in("x")}, Attrs: []string{"Alpha"}, InPlace: true, check: checkSameShape,
		Semantics: "y = y + Alpha * x (gradient accumulation)."},
	OpColSum: {Name: "colsum", Args: []Arg{out("y"), in("x")}, check: checkColSum,
		Semantics: "With y's shape a trailing part of x's and x as [R,C] where C = numel(y): y[j] = sum_r x[r,j] (the gradient of a broadcast add). Accumulation in float32 or wider."},
	OpLayerNorm: {Name: "layernorm", Args: []Arg{out("y"), out("mean"), out("rstd"), in("x"), opt(in("gamma")), opt(in("beta"))},
		Attrs: []string{"Eps"}, check: checkLayerNorm,
		Semantics: "Over the last dim C of x, row by row (x as [R,C]): mean[r] = sum_j x[r,j]/C; var = sum_j (x[r,j]-mean[r])^2/C (biased); rstd[r] = 1/sqrt(var+Eps); " +
			"y[r,j] = (x[r,j]-mean[r])*rstd[r]*gamma[j] + beta[j]. gamma and beta are [C], both given or both nil (nil: no affine, gamma=1, beta=0). mean and rstd are [R]."},
	OpLayerNormBwd: {Name: "layernorm_bwd", Args: []Arg{out("dx"), opt(out("dgamma")), opt(out("dbeta")), in("dy"), in("x"), in("mean"), in("rstd"), opt(in("gamma"))},
		check:  checkLayerNormBwd,
		GradOf: OpLayerNorm, Binds: []Bind{grad(3), grad(4), grad(5), upstream(0), value(3), value(1), value(2), value(4)},
		Semantics: "Gradients of layernorm given dy, with xhat = (x-mean)*rstd and g = dy*gamma (g = dy without gamma): " +
			"dx[r,j] = rstd[r] * (g[r,j] - sum_k g[r,k]/C - xhat[r,j] * sum_k g[r,k]*xhat[r,k]/C); dgamma[j] = sum_r dy[r,j]*xhat[r,j]; dbeta[j] = sum_r dy[r,j]. " +
			"dgamma and dbeta are written (not accumulated) when given, and must be nil without gamma."},
	OpSoftmax: {Name: "softmax", Args: []Arg{out("y"), in("x")}, Attrs: []string{"Alpha"}, check: checkSameShape,
		Semantics: "Over the last dim, row by row: y[r,j] = exp(Alpha*x[r,j] - m) / sum_k exp(Alpha*x[r,k] - m) with m = max_k Alpha*x[r,k]."},
	OpSoftmaxBwd: {Name: "softmax_bwd", Args: []Arg{out("dx"), in("dy"), in("y")}, Attrs: []string{"Alpha"}, check: checkSameShape,
		GradOf: OpSoftmax, Binds: []Bind{grad(1), upstream(0), value(0)},
		Semantics: "dx[r,j] = Alpha * y[r,j] * (dy[r,j] - sum_k dy[r,k]*y[r,k]), the gradient of softmax with input scale Alpha, given its output y."},
	OpGELU: {Name: "gelu", Args: []Arg{out("y"), in("x")}, InPlace: true, check: checkSameShape,
		Semantics: "y = x * Phi(x) = 0.5*x*(1 + erf(x/sqrt(2))), the exact GELU (PyTorch's default). erf accurate to float32."},
	OpGELUBwd: {Name: "gelu_bwd", Args: []Arg{out("dx"), in("dy"), in("x")}, InPlace: true, check: checkSameShape,
		GradOf: OpGELU, Binds: []Bind{grad(1), upstream(0), value(1)},
		Semantics: "dx = dy * (Phi(x) + x*phi(x)) with phi(x) = exp(-x^2/2)/sqrt(2*pi)."},
	OpGather: {Name: "gather", Args: []Arg{out("y"), in("x"), idx("idx", 1)}, check: checkGather,
		Semantics: "x as [S,C] (S = x's first dim); y's shape is idx's shape followed by x's dims after the first; y as [R,C] with R = numel(idx): y[r,:] = x[idx[r],:]. Every index must be in [0,S)."},
	OpScatterAdd: {Name: "scatter_add", Args: []Arg{inout("y"), in("x"), idx("idx", 0)}, check: checkScatterAdd,
		GradOf: OpGather, Binds: []Bind{grad(1), upstream(0), value(2)},
		Semantics: "The adjoint of gather: y as [S,C], x as [R,C] with x's shape idx's shape followed by y's dims after the first: y[idx[r],:] += x[r,:] for r in order. Repeated indices accumulate. Every index must be in [0,S)."},
	OpSplitHeads: {Name: "split_heads", Args: []Arg{many(out("out")), in("x")}, Attrs: []string{"Heads"}, check: checkHeads,
		GradOf: OpMergeHeads, Binds: []Bind{grad(1), upstream(0)},
		Semantics: "With G outputs, H = Heads, x [B,T,G*H*E] seen as [B,T,G,H,E]: out_g[b,h,t,e] = x[b,t,g,h,e], each out_g [B,H,T,E]. (G=3 splits a fused qkv projection in PyTorch's (3, heads, head_dim) order.)"},
	OpMergeHeads: {Name: "merge_heads", Args: []Arg{out("y"), many(in("in"))}, Attrs: []string{"Heads"}, check: checkHeads,
		GradOf: OpSplitHeads, Binds: []Bind{grad(1), upstream(0)},
		Semantics: "The inverse of split_heads: with G inputs in_g [B,H,T,E], y [B,T,G*H*E] seen as [B,T,G,H,E]: y[b,t,g,h,e] = in_g[b,h,t,e]."},
	OpPatchify: {Name: "patchify", Args: []Arg{out("y"), in("img")}, Attrs: []string{"Patch"}, check: checkPatchify,
		Semantics: "img [B,C,H,W] with P = Patch dividing H and W; y [B,(H/P)*(W/P),C*P*P]: y[b, i*(W/P)+j, c*P*P + u*P + v] = img[b, c, i*P+u, j*P+v]. " +
			"A patch embedding is then a matmul with a Conv2d weight [D,C,P,P] read as [D,C*P*P]."},
	OpSmoothL1: {Name: "smooth_l1", Args: []Arg{out("loss"), in("pred"), in("target")}, Attrs: []string{"Beta"}, check: checkLoss,
		Semantics: "loss[0] = mean over all N elements of l(d), d = pred-target, l(d) = 0.5*d^2/Beta if |d| < Beta else |d| - 0.5*Beta (PyTorch's smooth_l1_loss; Beta > 0). loss is [1]. Accumulation in float32 or wider."},
	OpSmoothL1Bwd: {Name: "smooth_l1_bwd", Args: []Arg{out("dpred"), in("dloss"), in("pred"), in("target")}, Attrs: []string{"Beta"}, check: checkLossBwd,
		GradOf: OpSmoothL1, Binds: []Bind{grad(1), upstream(0), value(1), value(2)},
		Semantics: "dpred = dloss[0]/N * (d/Beta if |d| < Beta else sign(d)), d = pred-target, N = numel(pred). dloss is [1]."},
	OpMSE: {Name: "mse", Args: []Arg{out("loss"), in("pred"), in("target")}, check: checkLoss,
		Semantics: "loss[0] = mean over all N elements of (pred-target)^2. loss is [1]. Accumulation in float32 or wider."},
	OpMSEBwd: {Name: "mse_bwd", Args: []Arg{out("dpred"), in("dloss"), in("pred"), in("target")}, check: checkLossBwd,
		GradOf: OpMSE, Binds: []Bind{grad(1), upstream(0), value(1), value(2)},
		Semantics: "dpred = dloss[0] * 2*(pred-target)/N, N = numel(pred). dloss is [1]."},
	OpSum: {Name: "sum", Args: []Arg{out("y"), in("x")}, check: checkReduce,
		Semantics: "y[0] = sum of all elements of x. y is [1]. Accumulation in float32 or wider."},
	OpSumSq: {Name: "sumsq", Args: []Arg{out("y"), in("x")}, check: checkReduce,
		Semantics: "y[0] = sum of the squares of all elements of x. y is [1]. Accumulation in float32 or wider."},
	OpAdamW: {Name: "adamw", Args: []Arg{inout("param"), inout("m"), inout("v"), in("grad")},
		Attrs: []string{"LR", "Beta1", "Beta2", "Eps", "WeightDecay", "Step"}, check: checkAdamW,
		Semantics: "One AdamW step as torch.optim.AdamW (amsgrad off), all four tensors of one shape, t = Step >= 1: " +
			"param *= 1 - LR*WeightDecay; m = Beta1*m + (1-Beta1)*grad; v = Beta2*v + (1-Beta2)*grad^2; " +
			"param -= (LR/(1-Beta1^t)) * m / (sqrt(v)/sqrt(1-Beta2^t) + Eps). The scalars 1-LR*WeightDecay, 1-Beta1, 1-Beta2, LR/(1-Beta1^t) and sqrt(1-Beta2^t) are computed in float64, then rounded to float32."},
	OpEMA: {Name: "ema", Args: []Arg{inout("target"), in("online")}, Attrs: []string{"Momentum"}, check: checkSameShape,
		Semantics: "target = m*target + (1-m)*online with m = Momentum; m and 1-m are computed in float64, then rounded to float32."},
	OpFill: {Name: "fill", Args: []Arg{out("y")}, Attrs: []string{"Alpha"}, check: checkFill,
		Semantics: "Every element of y = Alpha."},
	OpCopy: {Name: "copy", Args: []Arg{out("y"), in("x")}, check: checkCopy,
		Semantics: "y = x, element by element; x and y have the same number of elements (their shapes may differ)."},
	OpSiLU: {Name: "silu", Args: []Arg{out("y"), in("x")}, InPlace: true, Optional: true, check: checkSameShape,
		Semantics: "y = x * sigmoid(x) = x / (1 + exp(-x)) (SiLU, or swish)."},
	OpSiLUBwd: {Name: "silu_bwd", Args: []Arg{out("dx"), in("dy"), in("x")}, InPlace: true, Optional: true, check: checkSameShape,
		GradOf: OpSiLU, Binds: []Bind{grad(1), upstream(0), value(1)},
		Semantics: "dx = dy * s * (1 + x*(1-s)) with s = sigmoid(x)."},
	OpCast: {Name: "cast", Args: []Arg{out("y"), in("x")}, check: checkCopy,
		Sigs: []Sig{{F16, F32}, {BF16, F32}, {F32, F16}, {F32, BF16}},
		Semantics: "y = x converted to y's dtype, element by element; x and y have the same number of elements (their shapes may differ). " +
			"Widening (f16 or bf16 to f32) is exact. Narrowing rounds to nearest, ties to even; infinities and signed zeros are kept, a NaN stays a NaN; " +
			"f32 values from 65520 up in magnitude become f16 infinities, and f16 subnormals are kept (never flushed)."},
}

func init() {
	for o := Op(1); o < numOps; o++ {
		s := &specs[o]
		variadic := false
		for _, a := range s.Args {
			variadic = variadic || a.Variadic
			s.indexed = s.indexed || a.DType == I32
		}
		if s.indexed && variadic {
			panic(fmt.Sprintf("backend: op %s has index arguments and a variadic one", s.Name))
		}
		s.attrs = attrsOf(s)
		if s.Sigs == nil {
			s.Sigs = defaultSigs(s.Args)
		}
		if err := checkSigs(s); err != nil {
			panic("backend: " + err.Error())
		}
		if err := checkBinds(o); err != nil {
			panic("backend: " + err.Error())
		}
	}
}

// defaultSigs returns the signatures of a row that gives none: every
// floating argument of one of the Floats, indices I32.
func defaultSigs(args []Arg) []Sig {
	out := make([]Sig, len(Floats))
	for k, f := range Floats {
		out[k] = make(Sig, len(args))
		for i, a := range args {
			out[k][i] = a.DType
			if a.DType != I32 {
				out[k][i] = f
			}
		}
	}
	return out
}

// checkSigs checks a row's signatures: one dtype per argument, I32 exactly
// at the index arguments, floating dtypes elsewhere, the first signature the
// no signature twice.
func checkSigs(s *Spec) error {
	seen := map[string]bool{}
	for _, sig := range s.Sigs {
		if len(sig) != len(s.Args) {
			return fmt.Errorf("op %s: signature %v has %d dtypes for %d arguments", s.Name, sig, len(sig), len(s.Args))
		}
		for i, d := range sig {
			if (d == I32) != (s.Args[i].DType == I32) || !d.Valid() {
				return fmt.Errorf("op %s: signature %v: argument %s cannot be %v", s.Name, sig, s.Args[i].Name, d)
			}
		}
		if seen[sig.String()] {
			return fmt.Errorf("op %s: signature %v twice", s.Name, sig)
		}
		seen[sig.String()] = true
	}
	if len(s.Sigs) == 0 {
		return fmt.Errorf("op %s has no signature", s.Name)
	}
	return nil
}

// SigOf returns the signature of the op's row that the dtypes of a call's
// arguments match (nil arguments, absent optional ones, match any dtype),
// or false when none does.
func (o Op) SigOf(args []*Tensor) (Sig, bool) {
	s := &specs[o]
next:
	for _, sig := range s.Sigs {
		for i, t := range args {
			if t != nil && t.DType() != sig[specIndex(*s, len(args), i)] {
				continue next
			}
		}
		return sig, true
	}
	return nil, false
}

// ArgRow returns the index in the op's row (Spec.Args, and each Sig) of
// argument i of a call of n arguments: a variadic argument's tensors share
// one.
func (o Op) ArgRow(n, i int) int { return specIndex(specs[o], n, i) }

// DTypes returns the dtypes the op's signatures give argument i of a call
// of n arguments, in the order of the signatures, each once.
func (o Op) DTypes(n, i int) []DType {
	s := &specs[o]
	var out []DType
	for _, sig := range s.Sigs {
		if d := sig[specIndex(*s, n, i)]; !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// Ops returns every op of the catalogue in order.
func Ops() []Op {
	ops := make([]Op, 0, numOps-1)
	for o := Op(1); o < numOps; o++ {
		ops = append(ops, o)
	}
	return ops
}

// Valid reports whether o is an op of the catalogue.
func (o Op) Valid() bool { return o >= 1 && o < numOps }

// Spec returns the op's row of the catalogue. It panics for an invalid op.
func (o Op) Spec() Spec {
	if !o.Valid() {
		panic(fmt.Sprintf("backend: invalid op %d", uint16(o)))
	}
	return specs[o]
}

// String returns the op's name ("matmul").
func (o Op) String() string {
	if !o.Valid() {
		return fmt.Sprintf("op(%d)", uint16(o))
	}
	return specs[o].Name
}

// ParseOp returns the op with the given name.
func ParseOp(name string) (Op, error) {
	for o := Op(1); o < numOps; o++ {
		if specs[o].Name == name {
			return o, nil
		}
	}
	return 0, fmt.Errorf("backend: unknown op %q", name)
}

// Signature formats the op's arguments and attributes, e.g.
// "matmul(inout c, in a, in b; TransA TransB Alpha Beta)".
func (o Op) Signature() string {
	s := o.Spec()
	args := make([]string, len(s.Args))
	for i, a := range s.Args {
		t := a.Role.String() + " " + a.Name
		if a.DType == I32 {
			t += ":i32"
		}
		if a.Variadic {
			t += "..."
		}
		if a.Optional {
			t += "?"
		}
		args[i] = t
	}
	sig := s.Name + "(" + strings.Join(args, ", ")
	if len(s.Attrs) > 0 {
		sig += "; " + strings.Join(s.Attrs, " ")
	}
	return sig + ")"
}

// CatalogueHash returns a short fingerprint of the catalogue — the ops'
// names, numbers, argument lists, attributes and signatures in order, the
// attributes' types and the dtypes' numbers: everything the plugin protocol encodes by
// number or position — which the plugin handshake compares.
func CatalogueHash() string {
	var b strings.Builder
	for o := Op(1); o < numOps; o++ {
		b.WriteString(o.Signature())
		b.WriteByte('\n')
	}
	for _, f := range attrFields {
		fmt.Fprintf(&b, "%s %v\n", f.name, f.kind)
	}
	for d := F32; d.Valid(); d++ {
		fmt.Fprintf(&b, "%d %v\n", d, d)
	}
	for o := Op(1); o < numOps; o++ {
		fmt.Fprintf(&b, "%s %v\n", specs[o].Name, specs[o].Sigs)
	}
	// FNV-1a, 64 bits.
	h := uint64(14695981039346656037)
	for _, c := range []byte(b.String()) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

// argNames returns the display name of each of n arguments of a call of o,
// numbering the tensors of a variadic argument.
func (o Op) argNames(n int) []string {
	names := make([]string, 0, n)
	if !o.Valid() {
		for i := 0; i < n; i++ {
			names = append(names, fmt.Sprintf("arg%d", i))
		}
		return names
	}
	args := specs[o].Args
	extra := n - len(args) // how many more tensors the variadic argument holds
	for _, a := range args {
		if a.Variadic {
			for k := 0; k <= extra; k++ {
				names = append(names, fmt.Sprintf("%s%d", a.Name, k))
			}
			continue
		}
		names = append(names, a.Name)
	}
	for len(names) < n {
		names = append(names, fmt.Sprintf("arg%d", len(names)))
	}
	return names[:n]
}

// Table formats the whole catalogue as Markdown: a table of the ops (number,
// name, signature, dtypes and semantics), what a 16-bit signature computes,
// then the attributes' types and the dtypes' numbers. docs/OPS.md is this
// output.
func Table() string {
	var b strings.Builder
	b.WriteString("| # | op | arguments; attributes | dtypes | semantics |\n|---|---|---|---|---|\n")
	for o := Op(1); o < numOps; o++ {
		s := specs[o]
		sig := strings.TrimSuffix(strings.TrimPrefix(o.Signature(), s.Name+"("), ")")
		notes := s.Semantics
		if s.InPlace {
			notes += " Outputs may be the same storage as an input."
		}
		if s.Optional {
			notes += " Optional."
		}
		notes += bindsNote(s)
		fmt.Fprintf(&b, "| %d | `%s` | %s | %s | %s |\n", o, s.Name, strings.ReplaceAll(sig, "|", "\\|"), sigsNote(s), strings.ReplaceAll(notes, "|", "\\|"))
	}
	b.WriteString("\n" + halfSemantics + "\n")
	b.WriteString("\nAttributes and their types:")
	for i, f := range attrFields {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s `%s` %v", sep, f.name, f.kind)
	}
	b.WriteString(".\n\nDtypes and their numbers:")
	for d := F32; d.Valid(); d++ {
		sep := ","
		if d == F32 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %d `%v`", sep, d, d)
	}
	b.WriteString(".\n")
	return b.String()
}

// halfSemantics is what a signature with 16-bit dtypes computes, for every
// op: the table's statement with these roundings.
const halfSemantics = "Dtypes: a signature without names gives every floating argument that dtype (indices stay i32); " +
	"`name=dtype` signatures are mixed. In a signature with f16 or bf16 arguments, the 16-bit inputs are taken as given " +
	"(widened exactly), the op computes as stated in float32 or wider (sums accumulate in float32 or wider, products of " +
	"16-bit values are exact), and each element of a 16-bit output is rounded once to its dtype, to nearest, ties to even, " +
	"as `cast` rounds (f16 overflow to infinity, subnormals kept). Scalar attributes are used as for f32 (rounded to float32). " +
	"The float64 statement of the conformance suite (conformance/naive) computes exactly this with one rounding; a backend " +
	"that rounds a float32 result to 16 bits differs from it in the last 16-bit place where the float32 result lands on a " +
	"16-bit tie, which the suite's per-dtype bounds allow (docs/CONFORMANCE.md)."

// sigsNote formats an op's signatures for the table: "f32 \\| f16 \\| bf16"
// for the default ones, a mixed one as "c=f32 a=b=bf16".
func sigsNote(s Spec) string {
	parts := make([]string, len(s.Sigs))
	for k, sig := range s.Sigs {
		if !sig.Mixed() {
			for _, d := range sig {
				if d != I32 {
					parts[k] = d.String()
				}
			}
			continue
		}
		var order []DType
		names := map[DType][]string{}
		for i, d := range sig {
			if d == I32 {
				continue
			}
			if names[d] == nil {
				order = append(order, d)
			}
			names[d] = append(names[d], s.Args[i].Name)
		}
		groups := make([]string, len(order))
		for g, d := range order {
			groups[g] = strings.Join(names[d], "=") + "=" + d.String()
		}
		parts[k] = strings.Join(groups, " ")
	}
	return strings.Join(parts, " \\| ")
}

// checkBinds checks a gradient op's bindings against the op it
// differentiates: one per argument, each to an argument of the right role
// and dtype (Grad: a float input; Upstream: an output; Value: any), variadic
// to variadic, and attributes the forward op has too.
func checkBinds(o Op) error {
	s := specs[o]
	if s.GradOf == 0 {
		if s.Binds != nil {
			return fmt.Errorf("op %s binds arguments but is the gradient of no op", s.Name)
		}
		return nil
	}
	f := specs[s.GradOf]
	if len(s.Binds) != len(s.Args) {
		return fmt.Errorf("op %s has %d arguments and %d bindings", s.Name, len(s.Args), len(s.Binds))
	}
	for i, b := range s.Binds {
		a := s.Args[i]
		if b.Arg < 0 || b.Arg >= len(f.Args) {
			return fmt.Errorf("op %s binds %s to argument %d of %s, which has %d", s.Name, a.Name, b.Arg, f.Name, len(f.Args))
		}
		fa := f.Args[b.Arg]
		ok := a.Variadic == fa.Variadic && a.DType == fa.DType
		switch b.Kind {
		case Grad:
			ok = ok && a.Role != In && fa.Role != Out && fa.DType == F32
		case Upstream:
			ok = ok && a.Role == In && fa.Role != In
		case Value:
			ok = ok && a.Role == In
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("op %s: argument %s cannot stand for %s of %s as bound (kind %d)", s.Name, a.Name, fa.Name, f.Name, b.Kind)
		}
	}
	for _, name := range s.Attrs {
		if !slices.Contains(f.Attrs, name) {
			return fmt.Errorf("op %s reads attribute %s, which %s lacks", s.Name, name, f.Name)
		}
	}
	return nil
}

// GradCall returns, for a call of the gradient op o with n arguments, the op
// it differentiates, that op's number of arguments in the matching call, and
// what each of the n arguments stands for there (Bind.Arg an index into the
// forward call's arguments). It panics for an op without GradOf.
func (o Op) GradCall(n int) (fwd Op, m int, binds []Bind) {
	s := specs[o]
	if s.GradOf == 0 {
		panic(fmt.Sprintf("backend: op %s is the gradient of no op", s.Name))
	}
	fwd = s.GradOf
	f := specs[fwd]
	extra := n - len(s.Args)
	m = len(f.Args)
	if variadic(f) {
		m += extra
	}
	// start[i] is the call index of spec argument i of the forward op.
	start := make([]int, len(f.Args))
	for i, k := 0, 0; i < len(f.Args); i++ {
		start[i] = k
		k++
		if f.Args[i].Variadic {
			k += extra
		}
	}
	binds = make([]Bind, 0, n)
	for i, b := range s.Binds {
		count := 1
		if s.Args[i].Variadic {
			count += extra
		}
		for k := 0; k < count; k++ {
			binds = append(binds, Bind{b.Kind, start[b.Arg] + k})
		}
	}
	return fwd, m, binds
}

func variadic(s Spec) bool {
	for _, a := range s.Args {
		if a.Variadic {
			return true
		}
	}
	return false
}

// bindsNote describes a gradient op's bindings for the table: " Gradient of
// softmax: dx is dL/dx, dy is dL/dy, y is y."
func bindsNote(s Spec) string {
	if s.GradOf == 0 {
		return ""
	}
	f := specs[s.GradOf]
	parts := make([]string, len(s.Binds))
	for i, b := range s.Binds {
		name := f.Args[b.Arg].Name
		switch b.Kind {
		case Grad:
			name = "dL/d" + name
			if s.Args[i].Role == InOut {
				name = "+= " + name
			}
		case Upstream:
			name = "dL/d" + name
		}
		parts[i] = s.Args[i].Name + " is " + name
	}
	return fmt.Sprintf(" Gradient op of %s: %s.", f.Name, strings.Join(parts, ", "))
}
