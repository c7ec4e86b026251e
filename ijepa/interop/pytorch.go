package interop

import (
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
)

// The official checkpoint is torch.save of a dict (src/train.py
// save_checkpoint): encoder, predictor and target_encoder are the state
// dicts of the DistributedDataParallel-wrapped networks (every name starts
// with "module."), opt is torch.optim.AdamW's state_dict, scaler the
// GradScaler's (or None), and epoch, loss, batch_size, world_size, lr are
// numbers. It is read with gopickle's PyTorch loader, which unpickles the
// objects and loads every storage into memory.

// ddpPrefix is what DistributedDataParallel adds before every name.
const ddpPrefix = "module."

// pyMetaKeys are the official checkpoint's scalar entries, kept as metadata.
var pyMetaKeys = []string{"epoch", "loss", "batch_size", "world_size", "lr"}

// kv is one entry of a Python dict.
type kv struct {
	key any
	val any
}

// pyDict returns the entries of a Python dict or OrderedDict in order.
func pyDict(v any) ([]kv, bool) {
	switch d := v.(type) {
	case *types.Dict:
		out := make([]kv, len(*d))
		for i, e := range *d {
			out[i] = kv{e.Key, e.Value}
		}
		return out, true
	case *types.OrderedDict:
		out := make([]kv, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, kv{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

func pyGet(entries []kv, key string) (any, bool) {
	for _, e := range entries {
		if k, ok := e.key.(string); ok && k == key {
			return e.val, true
		}
	}
	return nil, false
}

// pyList returns the items of a Python list or tuple.
func pyList(v any) ([]any, bool) {
	switch l := v.(type) {
	case *types.List:
		return *l, true
	case *types.Tuple:
		return *l, true
	}
	return nil, false
}

// pyScalar formats a Python number (or None) for metadata.
func pyScalar(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "None", true
	case bool, int, int64, float64, string:
		return fmt.Sprint(x), true
	case *big.Int:
		return x.String(), true
	}
	return "", false
}

// storages counts the tensors over each storage, so a storage's memory is
// given back when the last of them has been read.
type storages map[pytorch.StorageInterface]int

func (s storages) release(st pytorch.StorageInterface) {
	s[st]--
	if s[st] > 0 {
		return
	}
	delete(s, st)
	switch x := st.(type) {
	case *pytorch.FloatStorage:
		x.Data = nil
	case *pytorch.HalfStorage:
		x.Data = nil
	case *pytorch.BFloat16Storage:
		x.Data = nil
	case *pytorch.DoubleStorage:
		x.Data = nil
	}
}

// torchEntry describes a tensor of a PyTorch file as an entry: its shape,
// and a reader that converts any floating dtype to float32 and follows the
// tensor's offset and strides into its storage.
func torchEntry(t *pytorch.Tensor, refs storages) (*entry, error) {
	var f32 []float32
	var f64 []float64
	var size int
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		f32, size = s.Data, len(s.Data)
	case *pytorch.HalfStorage:
		f32, size = s.Data, len(s.Data)
	case *pytorch.BFloat16Storage:
		f32, size = s.Data, len(s.Data)
	case *pytorch.DoubleStorage:
		f64, size = s.Data, len(s.Data)
	default:
		return nil, fmt.Errorf("storage %T is not floating point", t.Source)
	}
	if len(t.Stride) != len(t.Size) {
		return nil, fmt.Errorf("%d strides for %d dimensions", len(t.Stride), len(t.Size))
	}
	numel, last := 1, t.StorageOffset
	for i, d := range t.Size {
		if d < 0 || t.Stride[i] < 0 {
			return nil, fmt.Errorf("size %v, strides %v", t.Size, t.Stride)
		}
		numel *= d
		if d > 0 {
			last += (d - 1) * t.Stride[i]
		}
	}
	if numel > 0 && (t.StorageOffset < 0 || last >= size) {
		return nil, fmt.Errorf("size %v, strides %v at offset %d reach past the %d values of its storage", t.Size, t.Stride, t.StorageOffset, size)
	}
	shape := backend.Shape(append([]int(nil), t.Size...))
	src := t.Source
	refs[src]++
	e := &entry{shape: shape, release: func() { refs.release(src) }}
	e.read = func(dst []float32) error {
		if len(dst) != numel {
			return fmt.Errorf("%d values, the tensor %v has %d", len(dst), shape, numel)
		}
		if _, live := refs[src]; !live {
			return fmt.Errorf("its data was already read and released")
		}
		if contiguous(t.Size, t.Stride) {
			off := t.StorageOffset
			if f32 != nil {
				copy(dst, f32[off:off+numel])
			} else {
				for i := range dst {
					dst[i] = float32(f64[off+i])
				}
			}
			return nil
		}
		at := func(i int) float32 {
			if f32 != nil {
				return f32[i]
			}
			return float32(f64[i])
		}
		// Walk the elements in row-major order, following the strides.
		idx := make([]int, len(t.Size))
		off := t.StorageOffset
		for k := 0; k < numel; k++ {
			dst[k] = at(off)
			for d := len(idx) - 1; d >= 0; d-- {
				idx[d]++
				off += t.Stride[d]
				if idx[d] < t.Size[d] {
					break
				}
				off -= idx[d] * t.Stride[d]
				idx[d] = 0
			}
		}
		return nil
	}
	return e, nil
}

// contiguous reports whether strides are the row-major ones of size.
func contiguous(size, stride []int) bool {
	want := 1
	for d := len(size) - 1; d >= 0; d-- {
		if size[d] != 1 && stride[d] != want {
			return false
		}
		want *= size[d]
	}
	return true
}

// openPyTorch reads a torch.save file: the official trainer's dict, or a
// bare state dict of one network.
func openPyTorch(path string) (*Checkpoint, error) {
	obj, err := loadPickle(path)
	if err != nil {
		return nil, fmt.Errorf("interop: %s: reading the PyTorch file: %w", path, err)
	}
	top, ok := pyDict(obj)
	if !ok {
		return nil, fmt.Errorf("interop: %s: the PyTorch file holds a %T, not a dict", path, obj)
	}
	c := &Checkpoint{Path: path, Format: PyTorch, Meta: map[string]string{}, parts: map[Part]bool{}, tensors: map[string]*entry{}}
	refs := storages{}
	nets := 0
	for _, p := range []Part{Encoder, Predictor, Target} {
		v, ok := pyGet(top, string(p))
		if !ok {
			continue
		}
		sd, ok := pyDict(v)
		if !ok {
			return nil, fmt.Errorf("interop: %s: %s is a %T, not a state dict", path, p, v)
		}
		if err := c.addStateDict(p, sd, refs); err != nil {
			return nil, err
		}
		nets++
	}
	if nets == 0 {
		// A bare state dict (torch.save(model.state_dict())): one network,
		// told by its names.
		p := Target
		for _, e := range top {
			if k, _ := e.key.(string); strings.HasPrefix(strings.TrimPrefix(k, ddpPrefix), "predictor_embed.") {
				p = Predictor
			}
		}
		if err := c.addStateDict(p, top, refs); err != nil {
			return nil, err
		}
		return c, nil
	}
	for _, k := range pyMetaKeys {
		if v, ok := pyGet(top, k); ok {
			if s, ok := pyScalar(v); ok {
				c.Meta[k] = s
			}
		}
	}
	if v, ok := pyGet(top, "opt"); ok && v != nil {
		opt, ok := pyDict(v)
		if !ok {
			return nil, fmt.Errorf("interop: %s: opt is a %T, not an optimizer state dict", path, v)
		}
		c.mapOpt = func(enc, pred []*nn.Param) error { return c.addOptimizer(opt, enc, pred, refs) }
	}
	return c, nil
}

// loadPickle runs gopickle's loader, turning its panics on the legacy
// formats it does not implement into errors.
func loadPickle(path string) (obj any, err error) {
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("%v (a legacy PyTorch format: save it again with a PyTorch of 1.6 or later)", r)
		}
	}()
	return pytorch.Load(path)
}

// addStateDict adds a network's state dict under the part's prefix,
// without DistributedDataParallel's "module." prefixes.
func (c *Checkpoint) addStateDict(p Part, sd []kv, refs storages) error {
	for _, e := range sd {
		name, ok := e.key.(string)
		if !ok {
			return fmt.Errorf("interop: %s: %s: key %v is not a name", c.Path, p, e.key)
		}
		name = strings.TrimPrefix(name, ddpPrefix)
		t, ok := e.val.(*pytorch.Tensor)
		if !ok {
			return fmt.Errorf("interop: %s: %s: %s is a %T, not a tensor", c.Path, p, name, e.val)
		}
		en, err := torchEntry(t, refs)
		if err != nil {
			return fmt.Errorf("interop: %s: %s: tensor %s: %w", c.Path, p, name, err)
		}
		full := p.prefix() + name
		if _, dup := c.tensors[full]; dup {
			return fmt.Errorf("interop: %s: %s: tensor %s given twice (with and without %q?)", c.Path, p, name, ddpPrefix)
		}
		c.tensors[full] = en
	}
	c.parts[p] = true
	return nil
}

// TorchOrder returns params in the order of PyTorch's named_parameters():
// a module's own parameters first, then each child module's in the order
// the children were registered. Parameter names are dotted module paths
// and every constructor declares a module's parameters together, so the
// order follows from the names and the declaration order; for the official
// VisionTransformer it starts pos_embed, patch_embed.proj.weight, ..., and
// for the predictor mask_token, predictor_pos_embed, predictor_embed.weight.
func TorchOrder(params []*nn.Param) []*nn.Param {
	return torchOrder(params, "")
}

func torchOrder(params []*nn.Param, prefix string) []*nn.Param {
	var own []*nn.Param
	var children []string
	byChild := map[string][]*nn.Param{}
	for _, p := range params {
		head, _, nested := strings.Cut(strings.TrimPrefix(p.Name, prefix), ".")
		if !nested {
			own = append(own, p)
			continue
		}
		if _, seen := byChild[head]; !seen {
			children = append(children, head)
		}
		byChild[head] = append(byChild[head], p)
	}
	for _, ch := range children {
		own = append(own, torchOrder(byChild[ch], prefix+ch+".")...)
	}
	return own
}

// OptimizerGroups returns the official AdamW parameter groups
// (src/helper.py init_opt), each in named_parameters() order: the encoder's
// decayed parameters, the predictor's, then the encoder's and the
// predictor's parameters without weight decay. PyTorch numbers the
// parameters of an optimiser's state_dict consecutively through the groups.
func OptimizerGroups(enc, pred []*nn.Param) [4][]*nn.Param {
	var g [4][]*nn.Param
	for i, ps := range [][]*nn.Param{enc, pred} {
		for _, p := range TorchOrder(ps) {
			if p.DecayGroup() {
				g[i] = append(g[i], p)
			} else {
				g[2+i] = append(g[2+i], p)
			}
		}
	}
	return g
}

// addOptimizer maps torch.optim.AdamW's state_dict — state keyed by the
// parameters' positions in the groups, each with step, exp_avg and
// exp_avg_sq — to the project's moment names and step count.
func (c *Checkpoint) addOptimizer(opt []kv, enc, pred []*nn.Param, refs storages) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("interop: %s: opt: %s", c.Path, fmt.Sprintf(format, a...))
	}
	groups := OptimizerGroups(enc, pred)
	prefix := map[*nn.Param]string{}
	for _, p := range enc {
		prefix[p] = Encoder.prefix()
	}
	for _, p := range pred {
		prefix[p] = Predictor.prefix()
	}
	gv, _ := pyGet(opt, "param_groups")
	pg, ok := pyList(gv)
	if !ok || len(pg) != len(groups) {
		return fail("%d parameter groups; the official trainer's AdamW has the 4 of helper.py init_opt", len(pg))
	}
	byIndex := map[int]*nn.Param{}
	for i, g := range pg {
		gd, ok := pyDict(g)
		if !ok {
			return fail("group %d is a %T", i, g)
		}
		pv, _ := pyGet(gd, "params")
		ids, ok := pyList(pv)
		if !ok || len(ids) != len(groups[i]) {
			return fail("group %d has %d parameters, the official group has %d", i, len(ids), len(groups[i]))
		}
		for k, id := range ids {
			n, ok := id.(int)
			if !ok {
				return fail("group %d: parameter id %v is not an int", i, id)
			}
			byIndex[n] = groups[i][k]
		}
	}
	sv, _ := pyGet(opt, "state")
	state, ok := pyDict(sv)
	if !ok {
		return fail("no state dict")
	}
	if len(state) == 0 {
		return nil // saved before the first step: a fresh optimiser
	}
	steps := -1
	seen := map[*nn.Param]bool{}
	for _, e := range state {
		n, ok := e.key.(int)
		p := byIndex[n]
		if !ok || p == nil {
			return fail("state for parameter %v, which no group holds", e.key)
		}
		if !p.Trainable {
			return fail("state for %s%s, which is fixed", prefix[p], p.Name)
		}
		st, ok := pyDict(e.val)
		if !ok {
			return fail("state of %s%s is a %T", prefix[p], p.Name, e.val)
		}
		got := map[string]bool{}
		for _, f := range st {
			key, _ := f.key.(string)
			got[key] = true
			switch key {
			case "step":
				s, err := stepValue(f.val)
				if err != nil {
					return fail("%s%s: step: %v", prefix[p], p.Name, err)
				}
				if steps >= 0 && s != steps {
					return fail("%s%s has taken %d steps, other parameters %d; one step count is kept", prefix[p], p.Name, s, steps)
				}
				steps = s
			case "exp_avg", "exp_avg_sq":
				t, ok := f.val.(*pytorch.Tensor)
				if !ok {
					return fail("%s of %s%s is a %T", key, prefix[p], p.Name, f.val)
				}
				en, err := torchEntry(t, refs)
				if err != nil {
					return fail("%s of %s%s: %v", key, prefix[p], p.Name, err)
				}
				avg, sq := model.MomentNames(prefix[p], p.Name)
				name := avg
				if key == "exp_avg_sq" {
					name = sq
				}
				c.tensors[name] = en
			default:
				return fail("%s%s: state %q is not AdamW's (amsgrad is not supported)", prefix[p], p.Name, key)
			}
		}
		if !got["step"] || !got["exp_avg"] || !got["exp_avg_sq"] {
			return fail("%s%s: state has %v, want step, exp_avg and exp_avg_sq", prefix[p], p.Name, keys(got))
		}
		seen[p] = true
	}
	for _, ps := range [][]*nn.Param{enc, pred} {
		for _, p := range nn.Trainable(ps) {
			if !seen[p] {
				return fail("no state for %s%s", prefix[p], p.Name)
			}
		}
	}
	c.Steps = steps
	return nil
}

// stepValue reads AdamW's step count: a number, or a one-element tensor
// (PyTorch 1.12 on).
func stepValue(v any) (int, error) {
	var f float64
	switch x := v.(type) {
	case int:
		return x, nil
	case float64:
		f = x
	case *pytorch.Tensor:
		e, err := torchEntry(x, storages{})
		if err != nil {
			return 0, err
		}
		if e.shape.NumElements() != 1 {
			return 0, fmt.Errorf("a tensor of shape %v", e.shape)
		}
		var one [1]float32
		if err := e.read(one[:]); err != nil {
			return 0, err
		}
		f = float64(one[0])
	default:
		return 0, fmt.Errorf("a %T", v)
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, fmt.Errorf("%v is not a step count", f)
	}
	return int(f), nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
