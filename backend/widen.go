package backend

import "errors"

var errWidenCast = errors.New("widen: cast is the device's own conversion and cannot be widened")

// Widen runs a call that has f16 or bf16 arguments on a device that computes
// the op in float32: every 16-bit argument is replaced by a float32 scratch
// tensor of the device (an input widened into it with the device's cast op,
// which is exact), the call runs in float32, and every 16-bit output is
// rounded back into its tensor with cast. The result is the op's 16-bit
// semantics (the op table's header) with the float32 result rounded to 16
// bits: a double rounding only where the float32 result lands on a 16-bit
// tie. A device runs the 16-bit calls it has no kernel of its own for
// through Widen, so one implementation serves every op in every dtype; the
// device must run cast itself (Widen refuses it) and frees the scratch as
// it frees any tensor (a queued use of a freed tensor must stay ordered
// before the next use of its memory).
func Widen(d Device, c Call) error {
	if c.Op == OpCast {
		return NewOpError(c, errWidenCast)
	}
	specs := c.Op.Expand(len(c.Args))
	args := make([]*Tensor, len(c.Args))
	var scratch []*Tensor
	defer func() {
		for _, t := range scratch {
			d.Free(t.store)
		}
	}()
	for i, t := range c.Args {
		if t == nil || t.dtype == F32 || t.dtype == I32 {
			args[i] = t
			continue
		}
		w := Placeholder(F32, t.shape...)
		impl, err := d.Alloc(w, false)
		if err != nil {
			return err
		}
		w.store.Impl = impl
		scratch = append(scratch, w)
		args[i] = w
		if specs[i].Role != Out {
			if err := d.Run(Call{Op: OpCast, Args: []*Tensor{w, t}}); err != nil {
				return err
			}
		}
	}
	if err := d.Run(Call{Op: c.Op, Args: args, Attrs: c.Attrs}); err != nil {
		return err
	}
	for i, t := range c.Args {
		if args[i] != t && specs[i].Role != In {
			if err := d.Run(Call{Op: OpCast, Args: []*Tensor{t, args[i]}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// HasHalf reports whether a call has an f16 or bf16 argument.
func HasHalf(c Call) bool {
	for _, t := range c.Args {
		if t != nil && (t.dtype == F16 || t.dtype == BF16) {
			return true
		}
	}
	return false
}
