#!/usr/bin/python3
"""Replays a training run of ijepa-go in PyTorch, step for step.

  /usr/bin/python3 torch_replay.py DIR fp32|bf16|fp16

DIR holds what TestTrainingFollowsPyTorch (ijepa/train) wrote: replay.json
(the model's shape and the number of target blocks), the initial encoder,
predictor and target encoder (`ijepa export --part ...` names: the official
state dicts), per step its images and its context and target patch indices
(flat), and every step's scheduled learning rate, weight decay and EMA
momentum (hyper.json, one row a step). This script loads
the initial state into the official classes of ijepa/interop's fixture
(make_fixtures.py) and trains the same steps on the same batches as the
official train.py does, in fp32 or under bf16 or fp16 autocast with its
GradScaler, and writes the losses to DIR/torch_PRECISION.json.

The autocast is the policy of torch.cuda.amp.autocast, the one the
official trainer runs under (use_bfloat16): matrix products (linear,
conv2d, matmul) take 16-bit inputs, sum in float32 and round their output
to 16 bits; layer_norm, softmax and smooth_l1_loss compute in float32;
every other op computes in the widest dtype of its inputs, so the residual
stream stays float32. PyTorch 1.13's CPU autocast has other lists (softmax
and layer_norm are not on its float32 list) and its CPU kernels no float16
products, so the policy is applied here by a TorchFunctionMode instead.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "interop", "testdata"))
from make_fixtures import (  # noqa: E402
    VisionTransformer, VisionTransformerPredictor, make_optimizer, read_safetensors, train_step)

LOWER = {F.linear, F.conv2d, torch.matmul, torch.Tensor.__matmul__, torch.Tensor.matmul, torch.bmm, torch.mm}
FLOAT32 = {F.layer_norm, F.softmax, torch.softmax, torch.Tensor.softmax, F.smooth_l1_loss}
# Ops PyTorch 1.13 has no float16 CPU kernel for, outside LOWER: computed
# in float32 and rounded once, as CUDA's float16 kernels compute them.
WIDENED = {F.gelu}


def floating(a):
    return isinstance(a, torch.Tensor) and a.is_floating_point()


class Autocast(TorchFunctionMode):
    """CUDA autocast's policy on any device (see the module's doc). The
    products take their inputs rounded to the low dtype and run in float32
    (products of two bf16 or two f16 values are exact there), their output
    rounded once: CUDA's 16-bit products, and the only way to them on a CPU
    without float16 matrix kernels."""

    def __init__(self, low):
        super().__init__()
        self.low = low

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in LOWER or (func in WIDENED and any(floating(a) and a.dtype == self.low for a in args)):
            def cast(a):
                return a.to(self.low).float() if floating(a) else a
            out = func(*(cast(a) for a in args), **{k: cast(v) for k, v in kwargs.items()})
            return out.to(self.low)
        if func in FLOAT32:
            def cast(a):
                return a.float() if floating(a) else a
            args = tuple(cast(a) for a in args)
            kwargs = {k: cast(v) for k, v in kwargs.items()}
        return func(*args, **kwargs)


class GradScaler:
    """torch.cuda.amp.GradScaler's defaults and rules, as the official
    trainer runs it with autocast: the loss scaled by 2^16 for the backward
    pass, the gradients unscaled, the step skipped and the scale halved when
    one of them is not finite, the scale doubled after 2000 clean steps."""

    def __init__(self):
        self.scale, self.tracker = 65536.0, 0

    def step(self, loss, opt):
        (loss * self.scale).backward()
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if all(bool(torch.isfinite(g).all()) for g in grads):
            inv = torch.tensor(1.0 / self.scale, dtype=torch.float32)
            for g in grads:
                g.mul_(inv)
            opt.step()
            self.tracker += 1
            if self.tracker == 2000:
                self.scale, self.tracker = self.scale * 2, 0
        else:
            self.scale, self.tracker = self.scale * 0.5, 0


def load(module, path):
    sd, _ = read_safetensors(path)
    module.load_state_dict(sd, strict=True)


def main(d, precision):
    cfg = json.load(open(os.path.join(d, "replay.json")))
    torch.set_num_threads(cfg.get("threads", 1))
    enc = VisionTransformer(cfg["img"], cfg["patch"], cfg["dim"], cfg["depth"], cfg["heads"], cfg["mlp"])
    target = VisionTransformer(cfg["img"], cfg["patch"], cfg["dim"], cfg["depth"], cfg["heads"], cfg["mlp"])
    pred = VisionTransformerPredictor((cfg["img"] // cfg["patch"]) ** 2, cfg["dim"], cfg["pred_dim"],
                                      cfg["pred_depth"], cfg["heads"])
    load(enc, os.path.join(d, "encoder.safetensors"))
    load(pred, os.path.join(d, "predictor.safetensors"))
    load(target, os.path.join(d, "target_encoder.safetensors"))
    for p in target.parameters():
        p.requires_grad = False
    opt = make_optimizer(enc, pred)
    low = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    kw = {"autocast": lambda: Autocast(low), "scaler": GradScaler()} if low else {}
    hyper = json.load(open(os.path.join(d, "hyper.json")))
    losses = []
    for s, (lr, wd, m) in enumerate(hyper):
        step = os.path.join(d, "step%04d_" % (s + 1))
        imgs = torch.from_numpy(np.load(step + "images.npy")).reshape(-1, 3, cfg["img"], cfg["img"])
        ctx = torch.from_numpy(np.load(step + "context.npy")).reshape(len(imgs), -1)
        tgt = torch.from_numpy(np.load(step + "targets.npy")).reshape(cfg["masks"], len(imgs), -1)
        losses.append(train_step(enc, pred, target, opt, imgs, [ctx], list(tgt), lr, wd, m, **kw))
        if not np.isfinite(losses[-1]):
            break
    with open(os.path.join(d, "torch_%s.json" % precision), "w") as f:
        json.dump(losses, f)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("fp32", "bf16", "fp16"):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
