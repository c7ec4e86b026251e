package model

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn"
)

// Batch is one training batch on the host: images and the masks of the
// multi-block sampler.
type Batch struct {
	// Images is [B, C, H, W] row-major (normalised pixels), C the
	// encoder's input channels, B = len(Context).
	Images []float32
	// Context holds each image's context patch indices, [B][Kc], in the
	// row-major patch grid (index = row*W + col).
	Context [][]int32
	// Targets holds the target blocks mask-major, [M][B][Kt].
	Targets [][][]int32
}

// Hyper are one step's scheduled values.
type Hyper struct {
	LR, WD, Momentum float64
}

// dims are a batch's sizes.
type dims struct{ B, M, Kc, Kt, N int }

// check validates a batch against the model and returns its sizes.
func (m *Model) check(b Batch) (dims, error) {
	n := m.EncCfg.NumPatches()
	d := dims{B: len(b.Context), M: len(b.Targets), N: n}
	if d.B == 0 || d.M == 0 {
		return d, fmt.Errorf("model: batch: %d images and %d target blocks; both must be at least 1", d.B, d.M)
	}
	s, ch := m.EncCfg.ImgSize, m.EncCfg.Channels
	if isCounter(m.be) && b.Images == nil {
		// CountStep: the images' tensor is counted, not filled.
	} else if want := d.B * ch * s * s; len(b.Images) != want {
		return d, fmt.Errorf("model: batch: %d pixel values for %d images of %dx%dx%d (want %d)", len(b.Images), d.B, ch, s, s, want)
	}
	d.Kc = len(b.Context[0])
	for i, c := range b.Context {
		if len(c) != d.Kc || d.Kc == 0 {
			return d, fmt.Errorf("model: batch: context of image %d has %d patches, image 0 has %d (all must have one length, at least 1)", i, len(c), d.Kc)
		}
		if err := inGrid(c, n); err != nil {
			return d, fmt.Errorf("model: batch: context of image %d: %w", i, err)
		}
	}
	for mi, t := range b.Targets {
		if len(t) != d.B {
			return d, fmt.Errorf("model: batch: target block %d covers %d images, the batch has %d", mi, len(t), d.B)
		}
		if mi == 0 {
			d.Kt = len(t[0])
		}
		for i, c := range t {
			if len(c) != d.Kt || d.Kt == 0 {
				return d, fmt.Errorf("model: batch: target block %d of image %d has %d patches, the first has %d (all must have one length, at least 1)", mi, i, len(c), d.Kt)
			}
			if err := inGrid(c, n); err != nil {
				return d, fmt.Errorf("model: batch: target block %d of image %d: %w", mi, i, err)
			}
		}
	}
	return d, nil
}

func inGrid(idx []int32, n int) error {
	for _, v := range idx {
		if v < 0 || int(v) >= n {
			return fmt.Errorf("patch index %d outside the %d patches", v, n)
		}
	}
	return nil
}

// deviceBatch is a batch uploaded to the backend, with the index tensors
// the forward pass gathers and scatters with.
type deviceBatch struct {
	dims
	img *backend.Tensor // [B, C, H, W]
	// ctxRows [B, Kc]: rows b*N + c of the [B*N, D] patch tokens kept by
	// the context encoder.
	ctxRows *backend.Tensor
	// ctxPos [B*Kc]: patch index c of each context token (predictor
	// positions).
	ctxPos *backend.Tensor
	// tgtRows [M*B, Kt]: rows b*N + t of the target tokens, mask-major.
	tgtRows *backend.Tensor
	// srcCtx [B*Kc] and srcMask [N] place the context tokens and the N
	// mask tokens (mask_token + position) into the predictor's source
	// table S [B*Kc + N, d]; seq [M*B, Kc+Kt] gathers each predictor
	// sequence from S; tail [M*B, Kt] picks the target positions out of the
	// [M*B*(Kc+Kt)] outputs.
	srcCtx, srcMask, seq, tail *backend.Tensor
}

func (m *Model) upload(be backend.Backend, b Batch) (*deviceBatch, error) {
	d, err := m.check(b)
	if err != nil {
		return nil, err
	}
	db := &deviceBatch{dims: d}
	B, M, Kc, Kt, N := d.B, d.M, d.Kc, d.Kt, d.N
	ctxRows := make([]int32, 0, B*Kc)
	ctxPos := make([]int32, 0, B*Kc)
	for i, c := range b.Context {
		for _, v := range c {
			ctxRows = append(ctxRows, int32(i*N)+v)
			ctxPos = append(ctxPos, v)
		}
	}
	tgtRows := make([]int32, 0, M*B*Kt)
	seq := make([]int32, 0, M*B*(Kc+Kt))
	tail := make([]int32, 0, M*B*Kt)
	for mi, t := range b.Targets {
		for i, c := range t {
			mb := mi*B + i
			for k := 0; k < Kc; k++ {
				seq = append(seq, int32(i*Kc+k))
			}
			for k, v := range c {
				tgtRows = append(tgtRows, int32(i*N)+v)
				seq = append(seq, int32(B*Kc)+v)
				tail = append(tail, int32(mb*(Kc+Kt)+Kc+k))
			}
		}
	}
	srcCtx := make([]int32, B*Kc)
	for i := range srcCtx {
		srcCtx[i] = int32(i)
	}
	srcMask := make([]int32, N)
	for i := range srcMask {
		srcMask[i] = int32(B*Kc + i)
	}
	s := m.EncCfg.ImgSize
	if b.Images == nil {
		db.img = be.New(backend.F32, B, m.EncCfg.Channels, s, s) // CountStep: counted, not filled
	} else {
		db.img = backend.FromF32(be, b.Images, B, m.EncCfg.Channels, s, s)
	}
	for _, u := range []struct {
		dst   **backend.Tensor
		v     []int32
		shape []int
	}{
		{&db.ctxRows, ctxRows, []int{B, Kc}},
		{&db.ctxPos, ctxPos, []int{B * Kc}},
		{&db.tgtRows, tgtRows, []int{M * B, Kt}},
		{&db.srcCtx, srcCtx, []int{B * Kc}},
		{&db.srcMask, srcMask, []int{N}},
		{&db.seq, seq, []int{M * B, Kc + Kt}},
		{&db.tail, tail, []int{M * B, Kt}},
	} {
		*u.dst = backend.FromI32(be, u.v, u.shape...)
	}
	if err := be.Err(); err != nil {
		db.release(be)
		return nil, fmt.Errorf("model: upload: %w", err)
	}
	return db, nil
}

func (db *deviceBatch) release(be backend.Backend) {
	for _, t := range []*backend.Tensor{db.img, db.ctxRows, db.ctxPos, db.tgtRows, db.srcCtx, db.srcMask, db.seq, db.tail} {
		if t != nil {
			be.Release(t)
		}
	}
}

// targets runs the target branch: the target encoder on every patch (with
// its final affine norm), a layer norm over features without affine
// parameters (eps 1e-5), and the target blocks gathered mask-major:
// [M*B, Kt, D]. It is not differentiated (run it on the plain backend).
func (m *Model) targets(be backend.Backend, db *deviceBatch) (*backend.Tensor, error) {
	h, err := m.Target.Forward(be, db.img, nil)
	if err != nil {
		return nil, err
	}
	norm := &nn.LayerNorm{Dim: m.EncCfg.Dim, Eps: TargetEps}
	hn, err := norm.Forward(be, h)
	be.Release(h)
	if err != nil {
		return nil, err
	}
	defer be.Release(hn)
	d := m.EncCfg.Dim
	flat := backend.Reshape(hn, db.B*db.N, d)
	defer be.Release(flat)
	out := be.New(backend.F32, db.M*db.B, db.Kt, d)
	backend.Gather(be, out, flat, db.tgtRows)
	return out, nil
}

// predict runs the context branch: the context encoder on the context
// patches, then the predictor: [M*B, Kt, D].
func (m *Model) predict(be backend.Backend, db *deviceBatch) (*backend.Tensor, error) {
	z, err := m.Encoder.Forward(be, db.img, db.ctxRows)
	if err != nil {
		return nil, err
	}
	defer be.Release(z)
	return m.Predictor.Forward(be, z, db)
}

// Forward maps the context tokens z [B, Kc, D] to predictions [M*B, Kt, D]
// of the target blocks of db.
func (p *Predictor) Forward(be backend.Backend, z *backend.Tensor, db *deviceBatch) (*backend.Tensor, error) {
	B, M, Kc, Kt, N, d := db.B, db.M, db.Kc, db.Kt, db.N, p.Dim
	tmp := backend.Temps{B: be}
	defer tmp.Release()

	// Context tokens: embed, add their positions.
	x, err := p.Embed.Forward(be, z)
	if err != nil {
		return nil, err
	}
	tmp.Keep(x)
	xf := tmp.View(x, B*Kc, d)
	pos := tmp.View(p.Pos.Value, N, d)
	pc := tmp.New(B*Kc, d)
	backend.Gather(be, pc, pos, db.ctxPos)
	backend.Add(be, xf, xf, pc)
	// Mask tokens for every position: mask_token + pos, [N, d].
	mt := tmp.New(N, d)
	tok := tmp.View(p.MaskToken.Value, d)
	backend.Add(be, mt, pos, tok)
	// The source table S = [context tokens; mask tokens], then one gather
	// builds every (target block, image) sequence: the image's context
	// followed by the mask tokens of the block's positions, mask-major.
	src := tmp.New(B*Kc+N, d)
	backend.Fill(be, src, 0)
	backend.ScatterAdd(be, src, xf, db.srcCtx)
	backend.ScatterAdd(be, src, mt, db.srcMask)
	seq := be.New(backend.F32, M*B, Kc+Kt, d)
	backend.Gather(be, seq, src, db.seq)
	for _, bl := range p.Blocks {
		y, err := bl.Forward(be, seq)
		be.Release(seq)
		if err != nil {
			return nil, err
		}
		seq = y
	}
	tmp.Keep(seq)
	// Keep the target positions, then norm (row-wise, so norming after the
	// gather equals the official norm-then-select) and project.
	seqf := tmp.View(seq, M*B*(Kc+Kt), d)
	out := tmp.New(M*B, Kt, d)
	backend.Gather(be, out, seqf, db.tail)
	normed, err := p.Norm.Forward(be, out)
	if err != nil {
		return nil, err
	}
	tmp.Keep(normed)
	return p.Proj.Forward(be, normed)
}

// loss returns the configured loss of pred against target, [1].
func (m *Model) loss(be backend.Backend, pred, target *backend.Tensor) (*backend.Tensor, error) {
	l := be.New(backend.F32, 1)
	if m.Cfg.Loss == L2 {
		backend.MSE(be, l, pred, target)
	} else {
		backend.SmoothL1(be, l, pred, target, 1)
	}
	return l, nil
}

// Step runs one training step on the batch: the targets from the target
// encoder, the context encoder and predictor forward, the loss, the
// backward pass (with the gradients averaged across ranks by m.Sync, when
// set), an AdamW step with h.LR and h.WD, and the EMA of the target
// encoder with h.Momentum. It returns the loss, read back once at
// the end. Every intermediate tensor is released before it returns.
func (m *Model) Step(b Batch, h Hyper) (float64, error) {
	be := m.be
	if be == nil {
		return 0, fmt.Errorf("model: step: the model is not allocated")
	}
	db, err := m.upload(be, b)
	if err != nil {
		return 0, err
	}
	defer db.release(be)
	tgt, err := m.targets(be, db)
	if err != nil {
		return 0, err
	}
	defer be.Release(tgt)
	tape := nn.NewTape(be)
	defer tape.Close()
	for _, p := range m.Trainable() {
		if err := tape.Watch(p.Value, p.Grad); err != nil {
			return 0, err
		}
	}
	if m.Sync != nil {
		tape.OnGrad(m.Sync.GradReady)
	}
	pred, err := m.predict(tape, db)
	if err != nil {
		return 0, err
	}
	l, err := m.loss(tape, pred, tgt)
	be.Release(pred)
	if err != nil {
		return 0, err
	}
	defer be.Release(l)
	if err := tape.Backward(l); err != nil {
		return 0, err
	}
	if m.Sync != nil {
		if err := m.Sync.Wait(); err != nil {
			return 0, fmt.Errorf("model: step: %w", err)
		}
	}
	if err := m.Opt.Step(be, h.LR, h.WD); err != nil {
		return 0, err
	}
	if err := nn.EMA(be, m.Target.Params(), m.Encoder.Params(), h.Momentum); err != nil {
		return 0, err
	}
	v, err := backend.ReadF32(be, l)
	if err != nil {
		return 0, fmt.Errorf("model: step: %w", err)
	}
	return float64(v[0]), nil
}

// Features encodes images [B, C, H, W] (host, row-major) with the target
// encoder, or with the context encoder when online is true, on every patch,
// and returns the mean over patch tokens of the last layer's output (after
// the final norm): [B, D] row-major, the representation the paper evaluates.
func (m *Model) Features(images []float32, online bool) ([]float32, error) {
	if m.be == nil {
		return nil, fmt.Errorf("model: features: the model is not allocated")
	}
	enc := m.Target
	if online {
		enc = m.Encoder
	}
	f, _, err := Embed(m.be, enc, images, false)
	return f, err
}

// Embed encodes images [B, C, H, W] (host, row-major) with enc on be, on
// every patch, and returns the mean over patch tokens of the output (after
// the final norm), [B, D] row-major, and when tokens is true the output
// itself, [B, N, D] row-major (nil otherwise).
func Embed(be backend.Backend, enc *nn.ViT, images []float32, tokens bool) (pooled, all []float32, err error) {
	return EmbedWith(be, enc, images, Embedding{Tokens: tokens})
}

// Embedding says which features EmbedWith computes.
type Embedding struct {
	// Layers is how many of the last blocks' outputs, each through the
	// final norm, make the features (0 or 1: the encoder's output).
	Layers int
	// Concat concatenates the layers' features (oldest first, Layers*D
	// wide) instead of averaging them (D wide).
	Concat bool
	// Tokens also returns the per-patch features.
	Tokens bool
}

// Dim is the width of the features of an encoder of width d.
func (e Embedding) Dim(d int) int {
	if e.Concat && e.Layers > 1 {
		return e.Layers * d
	}
	return d
}

// EmbedWith encodes images [B, C, H, W] (host, row-major) with enc on be,
// on every patch, and returns the mean over patch tokens of the features e
// describes, [B, e.Dim(D)] row-major, and with e.Tokens the per-patch
// features, [B, N, e.Dim(D)] (nil otherwise).
func EmbedWith(be backend.Backend, enc *nn.ViT, images []float32, e Embedding) (pooled, all []float32, err error) {
	s, n, d := enc.Cfg.ImgSize, enc.Cfg.NumPatches(), enc.Cfg.Dim
	per := enc.Cfg.Channels * s * s
	if len(images) == 0 || len(images)%per != 0 {
		return nil, nil, fmt.Errorf("model: features: %d pixel values are not a whole number of %dx%dx%d images", len(images), enc.Cfg.Channels, s, s)
	}
	b := len(images) / per
	img := backend.FromF32(be, images, b, enc.Cfg.Channels, s, s)
	defer be.Release(img)
	layers := max(e.Layers, 1)
	hs, err := enc.ForwardLayers(be, img, layers)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		for _, h := range hs {
			be.Release(h)
		}
	}()
	// The mean over tokens as a batched product: [B,1,N] ones @ [B,N,D],
	// scaled by 1/N.
	ones := be.New(backend.F32, b, 1, n)
	defer be.Release(ones)
	backend.Fill(be, ones, 1)
	out := be.New(backend.F32, b, 1, d)
	defer be.Release(out)
	width := e.Dim(d)
	pooled = make([]float32, b*width)
	if e.Tokens {
		all = make([]float32, b*n*width)
	}
	for l, h := range hs {
		backend.MatMul(be, out, ones, h, false, false, 1/float64(n), 0)
		p, err := backend.ReadF32(be, out)
		if err != nil {
			return nil, nil, fmt.Errorf("model: features: %w", err)
		}
		combine(pooled, p, b, d, l, layers, e.Concat)
		if e.Tokens {
			t, err := backend.ReadF32(be, h)
			if err != nil {
				return nil, nil, fmt.Errorf("model: features: %w", err)
			}
			combine(all, t, b*n, d, l, layers, e.Concat)
		}
	}
	return pooled, all, nil
}

// combine adds layer l of layers (rows x d values, src) into dst: as its
// columns l*d.. of rows of layers*d with concat, else as its share of the
// mean.
func combine(dst, src []float32, rows, d, l, layers int, concat bool) {
	if layers == 1 {
		copy(dst, src)
		return
	}
	if concat {
		for r := 0; r < rows; r++ {
			copy(dst[(r*layers+l)*d:][:d], src[r*d:][:d])
		}
		return
	}
	w := 1 / float32(layers)
	for i, v := range src[:rows*d] {
		dst[i] += w * v
	}
}
