#!/usr/bin/python3
"""Load an encoder exported by ijepa-go into PyTorch, and check it.

  python3 scripts/torch_encoder.py ENCODER.safetensors [--idx IMAGES --features FEATURES.npy] [--limit N]

ENCODER.safetensors is what `ijepa export --part target_encoder` (or
`--part encoder`) writes: a state dict with the official names
(patch_embed.proj.weight, pos_embed, blocks.0.attn.qkv.weight, ...) and
metadata with the model's shape. load_encoder() builds a module with the
official VisionTransformer's structure and names (facebookresearch/ijepa
src/models/vision_transformer.py, in_chans included) and loads the file
into it with strict=True. With the official repository at hand the same
file loads into its class:

  from src.models.vision_transformer import VisionTransformer
  enc = VisionTransformer(img_size=[28], patch_size=4, in_chans=1, embed_dim=128,
                          depth=4, num_heads=4, mlp_ratio=4)
  enc.load_state_dict(safetensors.torch.load_file("encoder.safetensors"))

With --idx (an IDX image file, e.g. data/fashion/t10k-images-idx3-ubyte) and
--features (the .npy `ijepa embed --dataset ... --split test` wrote for the
same images), the script runs the first --limit images through the module
(normalised as ijepa-go's evaluation does: the image at the encoder's size,
pixel/255 minus the mean over the standard deviation, ImageNet's or, for one
channel, their means 0.449 and 0.226), mean-pools the output over patches and
compares with the .npy rows; it exits 1 when the relative error (max |a-b| /
max |b|) passes 1e-4.

Needs only PyTorch and NumPy (Debian's python3-torch); the safetensors file
is read by a few lines below (Debian has no safetensors package for Python;
safetensors.torch.load_file reads the same file).
"""

import argparse
import gzip
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    """The tensors (a dict of name -> tensor) and the metadata of a file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out, meta


def sincos_2d(dim, grid):
    """The fixed 2-D sin-cos position table [grid*grid, dim] of the official
    code (no class token)."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)
    rows, cols = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")

    def enc(pos):
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([enc(cols), enc(rows)], axis=1)


class MLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        att = (qkv[0] @ qkv[1].transpose(-2, -1)) * (c // self.heads) ** -0.5
        return self.proj((att.softmax(dim=-1) @ qkv[2]).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, hidden)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_chans, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """The official encoder's structure and parameter names; forward gives
    the patch tokens after the final norm, [B, N, D]."""

    def __init__(self, img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_hidden):
        super().__init__()
        grid = img_size // patch_size
        self.img_size, self.in_chans = img_size, in_chans
        self.patch_embed = PatchEmbed(patch_size, in_chans, embed_dim)
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_2d(embed_dim, grid)).float().unsqueeze(0), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


def load_encoder(path):
    """The encoder in path as a VisionTransformer in eval mode, loaded with
    strict=True. Its shape is the file's "model" metadata, else the tensors'
    shapes and the "heads" metadata."""
    sd, meta = read_safetensors(path)
    w = sd["patch_embed.proj.weight"]  # [D, C, P, P]
    grid = int(round(sd["pos_embed"].shape[1] ** 0.5))
    shape = json.loads(meta["model"]) if "model" in meta else {}
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    enc = VisionTransformer(
        img_size=shape.get("ImgSize", grid * w.shape[2]), patch_size=shape.get("Patch", w.shape[2]),
        in_chans=shape.get("InChans", w.shape[1]), embed_dim=shape.get("Dim", w.shape[0]),
        depth=shape.get("Depth", depth), num_heads=shape.get("Heads", int(meta.get("heads", 0)) or None),
        mlp_hidden=shape.get("MLPHidden", sd["blocks.0.mlp.fc1.weight"].shape[0] if depth else 4 * w.shape[0]))
    enc.load_state_dict(sd, strict=True)
    return enc.eval()


def read_idx_images(path, limit):
    """The first limit images of an unsigned-byte IDX file [N, H, W] or
    [N, H, W, 3], as uint8 [n, H, W, C]."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    nd = raw[3]
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    x = np.frombuffer(raw[4 + 4 * nd:], dtype=np.uint8).reshape(dims)
    if x.ndim == 3:
        x = x[..., None]
    return x[:limit]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("encoder", help="safetensors file written by `ijepa export --part target_encoder`")
    ap.add_argument("--idx", help="IDX image file whose features --features holds")
    ap.add_argument("--features", help=".npy features of those images written by `ijepa embed --dataset`")
    ap.add_argument("--limit", type=int, default=256, help="images to compare (default 256)")
    a = ap.parse_args()
    enc = load_encoder(a.encoder)
    n_params = sum(p.numel() for p in enc.parameters())
    print(f"{a.encoder}: VisionTransformer, {enc.in_chans} input channel(s) of {enc.img_size}x{enc.img_size}, "
          f"width {enc.norm.normalized_shape[0]}, depth {len(enc.blocks)}, {enc.blocks[0].attn.heads if enc.blocks else 0} heads, "
          f"{n_params} parameters: loaded with strict=True")
    if not a.idx and not a.features:
        return
    if not (a.idx and a.features):
        raise SystemExit("--idx and --features go together")
    imgs = read_idx_images(a.idx, a.limit)
    want = np.load(a.features)[:len(imgs)]
    if imgs.shape[1] != enc.img_size or imgs.shape[2] != enc.img_size or imgs.shape[3] != enc.in_chans:
        raise SystemExit(f"{a.idx}: images {imgs.shape[1:]}, the encoder takes {enc.img_size}x{enc.img_size}x{enc.in_chans}"
                         " (this check does not resize)")
    mean, std = ([0.449], [0.226]) if enc.in_chans == 1 else ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    x = torch.from_numpy(imgs.astype(np.float32) / 255).permute(0, 3, 1, 2)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        got = enc(x).mean(dim=1).numpy()
    err = float(np.abs(got - want).max() / np.abs(want).max())
    print(f"features of the first {len(imgs)} images of {a.idx}: max relative difference to {a.features} {err:.2e}")
    if err > 1e-4:
        sys.exit(1)


if __name__ == "__main__":
    main()
