#!/usr/bin/python3
"""Fixtures for ijepa-go's interoperability tests with the official I-JEPA.

Run with Debian's python3-torch (PyTorch 1.13; no other package):

  /usr/bin/python3 make_fixtures.py make DIR
      Builds a small I-JEPA (an encoder, its predictor and a target encoder
      with the module structure and parameter names of the official
      src/models/vision_transformer.py), trains it two steps as the official
      src/train.py does (AdamW with the official four parameter groups, smooth
      L1 loss, EMA), and writes
        DIR/tiny.pth.tar      the checkpoint exactly as the official
                              save_checkpoint writes it: torch.save of a dict
                              with the DistributedDataParallel state dicts
                              ('module.' prefixes), opt, scaler, epoch, loss,
                              batch_size, world_size, lr;
        DIR/tiny_expect.npz   fixed inputs and PyTorch's outputs for them:
                              mean-pooled and per-patch features of the target
                              encoder, mean-pooled features of the context
                              encoder, and one more training step (a batch
                              with masks, its hyper-parameters, its loss and
                              the features after it).

  /usr/bin/python3 make_fixtures.py check DIR
      Reads what the Go test wrote into DIR: ckpt.safetensors (a checkpoint
      saved by ijepa-go), target_encoder.safetensors (`ijepa export --part
      target_encoder`), features.npy, online_features.npy and, after one step
      on the fixture's batch, step_loss.npy, step_features.npy and
      step_online_features.npy. It loads the checkpoint into the official
      classes (load_state_dict with strict=True) and the optimiser state into
      torch.optim.AdamW, recomputes everything in PyTorch and exits non-zero
      when a relative error exceeds the tolerance. It prints the errors it
      measured.

The safetensors files are read by a small reader below that follows the
format's specification strictly (there is no safetensors package for
Python in Debian); safetensors.torch.load_file reads the same files.
"""

import collections
import contextlib
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

# The small configuration: 16x16 images of 4x4 patches (a 4x4 grid), an
# encoder of width 24, depth 2, 2 heads, MLP 96, a predictor of width 16,
# depth 2 (heads: the encoder's).
CFG = dict(img=16, patch=4, dim=24, depth=2, heads=2, mlp=96, pred_dim=16, pred_depth=2)
EPS = 1e-6           # LayerNorm eps of every block and final norm
TOL = 1e-6           # relative error allowed between ijepa-go and PyTorch (measured: 1.9e-7 at most)


# --- the official module structure (names and layouts) -----------------------

# The encoder's pieces are the ones scripts/torch_encoder.py defines for
# users loading an exported encoder (the same names and layouts).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
from torch_encoder import Attention, Block, MLP, sincos_2d  # noqa: E402


class PatchEmbed(nn.Module):
    def __init__(self, patch, dim):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


def gather(x, masks):
    """apply_masks: for each [B, K] index tensor, the rows x[b, idx[b]];
    concatenated along the batch (mask-major)."""
    return torch.cat([torch.gather(x, 1, m.unsqueeze(-1).expand(-1, -1, x.size(-1))) for m in masks], dim=0)


class VisionTransformer(nn.Module):
    def __init__(self, img, patch, dim, depth, heads, mlp):
        super().__init__()
        grid = img // patch
        self.patch_embed = PatchEmbed(patch, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid, dim), requires_grad=False)
        self.pos_embed.data.copy_(torch.from_numpy(sincos_2d(dim, grid)).float().unsqueeze(0))
        self.blocks = nn.ModuleList([Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=EPS)

    def forward(self, x, masks=None):
        x = self.patch_embed(x) + self.pos_embed
        if masks is not None:
            x = gather(x, masks)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class VisionTransformerPredictor(nn.Module):
    def __init__(self, num_patches, dim, pred_dim, depth, heads):
        super().__init__()
        # Registration order fixes named_parameters() and so the optimiser's
        # indices: mask_token before predictor_pos_embed, as in the official class.
        self.predictor_embed = nn.Linear(dim, pred_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, pred_dim))
        grid = int(round(num_patches ** 0.5))
        self.predictor_pos_embed = nn.Parameter(torch.zeros(1, num_patches, pred_dim), requires_grad=False)
        self.predictor_pos_embed.data.copy_(torch.from_numpy(sincos_2d(pred_dim, grid)).float().unsqueeze(0))
        self.predictor_blocks = nn.ModuleList([Block(pred_dim, heads, 4 * pred_dim) for _ in range(depth)])
        self.predictor_norm = nn.LayerNorm(pred_dim, eps=EPS)
        self.predictor_proj = nn.Linear(pred_dim, dim, bias=True)

    def forward(self, z, masks_x, masks):
        b = z.size(0) // len(masks_x)
        x = self.predictor_embed(z)
        pos = self.predictor_pos_embed.repeat(b, 1, 1)
        x = x + gather(pos, masks_x)
        n_ctx = x.size(1)
        tokens = self.mask_token + gather(pos, masks)   # [M*B, Kt, d]
        x = torch.cat([x.repeat(len(masks), 1, 1), tokens], dim=1)
        for blk in self.predictor_blocks:
            x = blk(x)
        x = self.predictor_norm(x)
        return self.predictor_proj(x[:, n_ctx:])


def build():
    c = CFG
    enc = VisionTransformer(c["img"], c["patch"], c["dim"], c["depth"], c["heads"], c["mlp"])
    pred = VisionTransformerPredictor((c["img"] // c["patch"]) ** 2, c["dim"], c["pred_dim"], c["pred_depth"], c["heads"])
    return enc, pred


def make_optimizer(enc, pred):
    """torch.optim.AdamW over the official four groups (src/helper.py init_opt)."""
    def decayed(named, keep):
        return [p for n, p in named if (("bias" not in n) and (len(p.shape) != 1)) == keep]
    groups = [
        {"params": decayed(enc.named_parameters(), True)},
        {"params": decayed(pred.named_parameters(), True)},
        {"params": decayed(enc.named_parameters(), False), "WD_exclude": True, "weight_decay": 0},
        {"params": decayed(pred.named_parameters(), False), "WD_exclude": True, "weight_decay": 0},
    ]
    return torch.optim.AdamW(groups)


def train_step(enc, pred, target, opt, imgs, masks_enc, masks_pred, lr, wd, m,
               autocast=contextlib.nullcontext, scaler=None):
    """One step of the official train.py: schedules set before the forward,
    smooth L1 against layer-normed targets, AdamW, then EMA. The forward
    passes and the loss run under autocast() (the official trainer's
    torch.cuda.amp.autocast when use_bfloat16 is set); with a scaler,
    scaler.step(loss, opt) takes the backward pass and the optimiser's
    step, as the official scaler.scale(loss).backward(), scaler.step(opt),
    scaler.update()."""
    for g in opt.param_groups:
        g["lr"] = lr
        if not g.get("WD_exclude", False):
            g["weight_decay"] = wd
    with autocast():
        with torch.no_grad():
            h = target(imgs)
            h = F.layer_norm(h, (h.size(-1),))
            h = gather(h, masks_pred)
        z = pred(enc(imgs, masks_enc), masks_enc, masks_pred)
        loss = F.smooth_l1_loss(z, h)
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.step(loss, opt)
    opt.zero_grad()
    with torch.no_grad():
        for q, k in zip(enc.parameters(), target.parameters()):
            k.data.mul_(m).add_((1.0 - m) * q.detach().data)
    return float(loss)


def features(model, imgs):
    with torch.no_grad():
        tokens = model(imgs)
    return tokens.mean(dim=1), tokens


def random_masks(g, b, m, kc, kt, n):
    ctx = torch.stack([torch.randperm(n, generator=g)[:kc].sort().values for _ in range(b)])
    tgt = [torch.stack([torch.randperm(n, generator=g)[:kt].sort().values for _ in range(b)]) for _ in range(m)]
    return [ctx], tgt


# --- make ---------------------------------------------------------------------

def make(out):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    enc, pred = build()
    # Values far from the official initialisation (which leaves LayerNorms
    # at 1/0 and every bias at 0), so that every tensor changes the outputs
    # and a swapped or transposed tensor cannot go unnoticed.
    with torch.no_grad():
        for mod in (enc, pred):
            for name, p in mod.named_parameters():
                if not p.requires_grad:
                    continue
                if name.endswith("weight") and p.dim() >= 2:
                    p.normal_(0, p[0].numel() ** -0.5, generator=g)
                elif "norm" in name and name.endswith("weight"):
                    p.normal_(1, 0.2, generator=g)
                else:
                    p.normal_(0, 0.2, generator=g)
    target = VisionTransformer(CFG["img"], CFG["patch"], CFG["dim"], CFG["depth"], CFG["heads"], CFG["mlp"])
    target.load_state_dict(enc.state_dict())
    for p in target.parameters():
        p.requires_grad = False
    opt = make_optimizer(enc, pred)

    n = (CFG["img"] // CFG["patch"]) ** 2
    img_shape = (3, CFG["img"], CFG["img"])
    for step in range(2):
        imgs = torch.randn((2,) + img_shape, generator=g)
        masks_enc, masks_pred = random_masks(g, 2, 4, 6, 3, n)
        train_step(enc, pred, target, opt, imgs, masks_enc, masks_pred, lr=1e-3 * (step + 1), wd=0.04, m=0.996)

    # Save as the official trainer does, under DistributedDataParallel.
    tmp = tempfile.mkdtemp()
    dist.init_process_group("gloo", init_method="file://" + os.path.join(tmp, "pg"), rank=0, world_size=1)
    # (The official trainer wraps the target encoder before freezing it.)
    for p in target.parameters():
        p.requires_grad = True
    ddp = [torch.nn.parallel.DistributedDataParallel(mod, static_graph=s) for mod, s in ((enc, True), (pred, True), (target, False))]
    for p in target.parameters():
        p.requires_grad = False
    save = {
        "encoder": ddp[0].state_dict(),
        "predictor": ddp[1].state_dict(),
        "target_encoder": ddp[2].state_dict(),
        "opt": opt.state_dict(),
        # The state of an enabled torch.cuda.amp.GradScaler (the official
        # configs train in bfloat16 with a scaler); on a CPU-only machine the
        # scaler is disabled, so its dict is written out here.
        "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 2},
        "epoch": 1,
        "loss": 0.25,
        "batch_size": 2,
        "world_size": 1,
        "lr": 0.001,
    }
    torch.save(save, os.path.join(out, "tiny.pth.tar"))
    dist.destroy_process_group()

    imgs = torch.randn((3,) + img_shape, generator=g)
    feats, patches = features(target, imgs)
    online, _ = features(enc, imgs)
    step_imgs = torch.randn((2,) + img_shape, generator=g)
    masks_enc, masks_pred = random_masks(g, 2, 4, 6, 3, n)
    hyper = np.array([2e-3, 0.05, 0.99])
    loss = train_step(enc, pred, target, opt, step_imgs, masks_enc, masks_pred, *hyper)
    step_feats, _ = features(target, imgs)
    step_online, _ = features(enc, imgs)
    np.savez(
        os.path.join(out, "tiny_expect.npz"),
        config=np.array([CFG[k] for k in ("img", "patch", "dim", "depth", "heads", "mlp", "pred_dim", "pred_depth")], dtype=np.int64),
        images=imgs.numpy(),
        features=feats.numpy(),
        patch_features=patches.numpy(),
        online_features=online.numpy(),
        step_images=step_imgs.numpy(),
        step_context=masks_enc[0].numpy().astype(np.int64),
        step_targets=torch.stack(masks_pred).numpy().astype(np.int64),
        step_hyper=hyper,
        step_loss=np.array([loss]),
        step_features=step_feats.numpy(),
        step_online_features=step_online.numpy(),
    )


# --- check --------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I32": (torch.int32, 4), "I64": (torch.int64, 8)}


def read_safetensors(path):
    """Reads a safetensors file, checking the specification: an 8-byte
    little-endian header length N; N bytes of UTF-8 JSON starting with '{',
    possibly padded with spaces; an object of tensors {dtype, shape,
    data_offsets} and an optional __metadata__ map of strings; offsets
    relative to the data that follows, covering it with no hole and no
    overlap; row-major little-endian data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 8 + n <= len(raw), "header longer than the file"
    head = raw[8:8 + n].decode("utf-8")
    assert head.startswith("{"), "header does not start with '{'"
    assert head == head.rstrip(" ") or head.rstrip(" ").endswith("}"), "header padding is not spaces"
    pairs = json.loads(head, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate keys"
    header = dict(pairs)
    meta = header.pop("__metadata__", {})
    meta = dict(meta) if isinstance(meta, list) else meta
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()), "metadata must map strings to strings"
    data = memoryview(raw)[8 + n:]
    spans = []
    tensors = {}
    for name, info in header.items():
        info = dict(info)
        assert set(info) == {"dtype", "shape", "data_offsets"}, f"{name}: fields {sorted(info)}"
        dtype, size = SAFETENSORS_DTYPES[info["dtype"]]
        shape = list(info["shape"])
        begin, end = info["data_offsets"]
        assert end - begin == size * math.prod(shape), f"{name}: {end - begin} bytes for {shape}"
        spans.append((begin, end))
        buf = bytearray(data[begin:end])
        t = torch.frombuffer(buf, dtype=dtype) if buf else torch.zeros(0, dtype=dtype)
        tensors[name] = t.reshape(shape)
    spans.sort()
    pos = 0
    for begin, end in spans:
        assert begin == pos, "the data has a hole or an overlap"
        pos = end
    assert pos == len(data), "the data has bytes no tensor indexes"
    return tensors, meta


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def check(d):
    expect = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_expect.npz"))
    sd, meta = read_safetensors(os.path.join(d, "ckpt.safetensors"))
    shape = json.loads(meta["model"])
    c = CFG
    want = dict(Dim=c["dim"], Depth=c["depth"], Heads=c["heads"], MLPHidden=c["mlp"], ImgSize=c["img"], Patch=c["patch"], PredDim=c["pred_dim"], PredDepth=c["pred_depth"],
                InChans=3, PredHeads=c["heads"])
    assert shape == want, f"model {shape}, want {want}"
    enc, pred = build()
    target, _ = build()
    for p in target.parameters():
        p.requires_grad = False

    def part(prefix):
        return collections.OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))

    enc.load_state_dict(part("encoder."), strict=True)
    pred.load_state_dict(part("predictor."), strict=True)
    target.load_state_dict(part("target_encoder."), strict=True)
    # The optimiser: the official groups, with the moments saved under
    # opt.exp_avg(_sq).{encoder,predictor}.NAME and the step count.
    opt = make_optimizer(enc, pred)
    names = {}
    for net, mod in (("encoder.", enc), ("predictor.", pred)):
        for n, p in mod.named_parameters():
            names[id(p)] = net + n
    state, groups, idx = {}, [], 0
    steps = float(meta["adamw_steps"])
    for g in opt.param_groups:
        ids = []
        for p in g["params"]:
            name = names[id(p)]
            if p.requires_grad:
                state[idx] = {"step": torch.tensor(steps), "exp_avg": sd["opt.exp_avg." + name].clone(), "exp_avg_sq": sd["opt.exp_avg_sq." + name].clone()}
            elif "opt.exp_avg." + name in sd:
                raise AssertionError(f"optimiser state for the fixed {name}")
            ids.append(idx)
            idx += 1
        groups.append({k: v for k, v in g.items() if k != "params"} | {"params": ids})
    used = {k for k in sd if k.startswith(("encoder.", "predictor.", "target_encoder."))}
    used |= {"opt.exp_avg." + names[id(p)] for g in opt.param_groups for p in g["params"] if p.requires_grad}
    used |= {"opt.exp_avg_sq." + names[id(p)] for g in opt.param_groups for p in g["params"] if p.requires_grad}
    assert used == set(sd), f"tensors nobody reads: {sorted(set(sd) - used)}"
    opt.load_state_dict({"state": state, "param_groups": groups})

    only, ometa = read_safetensors(os.path.join(d, "target_encoder.safetensors"))
    alone, _ = build()
    alone.load_state_dict(only, strict=True)

    imgs = torch.from_numpy(expect["images"])
    errs = {}
    errs["features"] = rel_err(np.load(os.path.join(d, "features.npy")), features(target, imgs)[0].numpy())
    errs["online_features"] = rel_err(np.load(os.path.join(d, "online_features.npy")), features(enc, imgs)[0].numpy())
    errs["exported target_encoder features"] = rel_err(np.load(os.path.join(d, "features.npy")), features(alone, imgs)[0].numpy())
    masks_enc = [torch.from_numpy(expect["step_context"])]
    masks_pred = list(torch.from_numpy(expect["step_targets"]))
    loss = train_step(enc, pred, target, opt, torch.from_numpy(expect["step_images"]), masks_enc, masks_pred, *expect["step_hyper"])
    errs["step loss"] = rel_err(np.load(os.path.join(d, "step_loss.npy")), [loss])
    errs["step features"] = rel_err(np.load(os.path.join(d, "step_features.npy")), features(target, imgs)[0].numpy())
    errs["step online features"] = rel_err(np.load(os.path.join(d, "step_online_features.npy")), features(enc, imgs)[0].numpy())
    bad = False
    for k, v in errs.items():
        print(f"{k}: relative error {v:.3g}")
        bad |= not (v <= TOL)
    if bad:
        print(f"FAIL: a relative error above {TOL}")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    torch.set_num_threads(1)
    (make if sys.argv[1] == "make" else check)(sys.argv[2])
