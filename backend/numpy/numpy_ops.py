"""Every op of ijepa's catalogue on numpy arrays.

OPS maps each op's name (its row in docs/OPS.md) to a function(args, attrs):
args are the op's tensors in the row's order, numpy arrays seen with the
shapes of the call (views of the tensors' storage, so writing into them
writes the tensor), None for an absent optional argument; attrs maps the
attribute names the row lists ("Alpha", "TransA", ...) to their values.
The shared checks (argument count, dtypes, storage shared by an output)
are done by protocol.check_args before a function runs; each function
checks the rest of its op's shape rule before it writes anything.

float32 arithmetic where the catalogue states it (matmul through BLAS,
AdamW, EMA, add, mul, scale, axpy); sums, means, the row statistics and the
transcendental ops (layernorm, softmax, GELU, the losses) in float64,
rounded to float32 once at the end, which the catalogue allows ("float32
or wider").
"""

import math

import numpy as np

from protocol import attr_error, index_error, shape_error

F32 = np.float32
F64 = np.float64


def _same_shapes(*arrays):
    if any(a.shape != arrays[0].shape for a in arrays[1:]):
        raise shape_error("all arguments must have one shape")


def _is_suffix(s, of):
    return len(s) <= len(of) and tuple(of[len(of) - len(s):]) == tuple(s)


def _rows(x):
    """x's elements as [R, C] over its last dimension C."""
    return x.reshape(-1, x.shape[-1])


def _check_eps(eps):
    if not (eps >= 0) or math.isinf(eps):
        raise attr_error("Eps %g must be finite and not negative" % eps)


def _check_scalar(t, name):
    if t.shape != (1,):
        raise shape_error("%s must be [1]" % name)


def _check_beta(beta):
    if not (beta > 0) or math.isinf(beta):
        raise attr_error("Beta %g must be positive and finite" % beta)


def _check_index(idx, rows):
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        raise index_error("indices span [%d,%d], rows are [0,%d)" % (idx.min(), idx.max(), rows))


def matmul(args, at):
    c, a, b = args
    r = a.ndim
    if r not in (2, 3) or b.ndim != r or c.ndim != r:
        raise shape_error("a, b and c must all be rank 2 or all rank 3")
    if r == 3 and not a.shape[0] == b.shape[0] == c.shape[0]:
        raise shape_error("batch sizes differ: a %d, b %d, c %d" % (a.shape[0], b.shape[0], c.shape[0]))
    opa = a.swapaxes(-1, -2) if at["TransA"] else a
    opb = b.swapaxes(-1, -2) if at["TransB"] else b
    (m, ka), (kb, n) = opa.shape[-2:], opb.shape[-2:]
    if ka != kb:
        raise shape_error("inner dimensions differ: op(a) is %dx%d, op(b) is %dx%d" % (m, ka, kb, n))
    if c.shape[-2:] != (m, n):
        raise shape_error("c is %dx%d, want %dx%d" % (c.shape[-2], c.shape[-1], m, n))
    alpha, beta = F32(at["Alpha"]), F32(at["Beta"])
    if beta == 0:  # c is not read, even if it holds NaN
        np.matmul(opa, opb, out=c)
        if alpha != 1:
            c *= alpha
        return
    p = np.matmul(opa, opb)
    p *= alpha
    c *= beta
    c += p


def _broadcast(ufunc):
    def op(args, at):
        y, a, b = args
        if y.shape != a.shape:
            raise shape_error("y must have a's shape")
        if not _is_suffix(b.shape, a.shape):
            raise shape_error("b must have a's shape or a trailing part of it")
        ufunc(a, b, out=y)
    return op


def scale(args, at):
    y, x = args
    _same_shapes(y, x)
    np.multiply(x, F32(at["Alpha"]), out=y)


def axpy(args, at):
    y, x = args
    _same_shapes(y, x)
    y += F32(at["Alpha"]) * x


def colsum(args, at):
    y, x = args
    if not _is_suffix(y.shape, x.shape):
        raise shape_error("y's shape must be a trailing part of x's")
    y[...] = x.reshape(-1, y.size).sum(axis=0, dtype=F64).reshape(y.shape)


def _check_stats(x, mean, rstd):
    rows = x.size // x.shape[-1]
    if mean.shape != (rows,) or rstd.shape != (rows,):
        raise shape_error("mean and rstd must be [%d], one per row" % rows)


def layernorm(args, at):
    y, mean, rstd, x, gamma, beta = args
    if y.shape != x.shape:
        raise shape_error("y must have x's shape")
    _check_stats(x, mean, rstd)
    cols = x.shape[-1]
    if (gamma is None) != (beta is None):
        raise shape_error("gamma and beta must be both given or both nil")
    if gamma is not None and (gamma.shape != (cols,) or beta.shape != (cols,)):
        raise shape_error("gamma and beta must be [%d]" % cols)
    eps = at["Eps"]
    _check_eps(eps)
    xs = _rows(x).astype(F64)
    mu = xs.mean(axis=1)
    d = xs - mu[:, None]
    rs = 1 / np.sqrt(np.mean(d * d, axis=1) + eps)
    out = d * rs[:, None]
    if gamma is not None:
        out = out * gamma + beta
    _rows(y)[...] = out
    mean[...] = mu
    rstd[...] = rs


def layernorm_bwd(args, at):
    dx, dgamma, dbeta, dy, x, mean, rstd, gamma = args
    if dx.shape != x.shape or dy.shape != x.shape:
        raise shape_error("dx and dy must have x's shape")
    _check_stats(x, mean, rstd)
    cols = x.shape[-1]
    if gamma is None and (dgamma is not None or dbeta is not None):
        raise shape_error("dgamma and dbeta need gamma")
    if any(t is not None and t.shape != (cols,) for t in (gamma, dgamma, dbeta)):
        raise shape_error("gamma, dgamma and dbeta must be [%d]" % cols)
    rs = rstd.astype(F64)[:, None]
    xhat = (_rows(x).astype(F64) - mean[:, None]) * rs
    g = _rows(dy).astype(F64)
    if dgamma is not None:
        dgamma[...] = np.sum(g * xhat, axis=0)
    if dbeta is not None:
        dbeta[...] = np.sum(g, axis=0)
    if gamma is not None:
        g = g * gamma
    _rows(dx)[...] = rs * (g - g.mean(axis=1, keepdims=True) - xhat * np.mean(g * xhat, axis=1, keepdims=True))


def softmax(args, at):
    y, x = args
    _same_shapes(y, x)
    z = _rows(x).astype(F64) * at["Alpha"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    _rows(y)[...] = e / e.sum(axis=1, keepdims=True)


def softmax_bwd(args, at):
    dx, dy, y = args
    _same_shapes(dx, dy, y)
    g, p = _rows(dy).astype(F64), _rows(y).astype(F64)
    _rows(dx)[...] = at["Alpha"] * p * (g - np.sum(g * p, axis=1, keepdims=True))


# The normal distribution function Phi, accurate to float32. numpy has no
# erf; Phi(x) = erfc(-x/sqrt(2))/2, with erfc of |x|/sqrt(2) by the
# Chebyshev fit of Numerical Recipes' erfcc, whose fractional error is below
# 1.2e-7 for every argument, evaluated in float64. For x > 0, Phi = 1 - that
# half erfc (at most 1/2), so the relative error stays below 1.2e-7 there too.
_ERFCC = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
          0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277]


def _phi_cdf(x):
    """Phi of every element of the float64 array x."""
    z = np.abs(x) * (1 / math.sqrt(2))
    t = 1 / (1 + 0.5 * z)
    p = np.full_like(t, _ERFCC[-1])  # Horner's rule, in place
    for c in reversed(_ERFCC[:-1]):
        p *= t
        p += c
    p -= z * z
    half_erfc = np.exp(p)
    half_erfc *= 0.5 * t  # erfc(|x|/sqrt(2)) / 2
    return np.where(x > 0, 1 - half_erfc, half_erfc)


def gelu(args, at):
    y, x = args
    _same_shapes(y, x)
    xs = x.astype(F64)
    y[...] = xs * _phi_cdf(xs)


def gelu_bwd(args, at):
    dx, dy, x = args
    _same_shapes(dx, dy, x)
    xs = x.astype(F64)
    pdf = np.exp(-0.5 * xs * xs) / math.sqrt(2 * math.pi)
    dx[...] = dy * (_phi_cdf(xs) + xs * pdf)


def _sigmoid(xs):
    # 1/(1+exp(-x)) without overflow: exp of a negative number only.
    e = np.exp(-np.abs(xs))
    return np.where(xs >= 0, 1 / (1 + e), e / (1 + e))


def silu(args, at):
    y, x = args
    _same_shapes(y, x)
    xs = x.astype(F64)
    y[...] = xs * _sigmoid(xs)


def silu_bwd(args, at):
    dx, dy, x = args
    _same_shapes(dx, dy, x)
    xs = x.astype(F64)
    s = _sigmoid(xs)
    dx[...] = dy * s * (1 + xs * (1 - s))


def gather(args, at):
    y, x, idx = args
    if y.shape != idx.shape + x.shape[1:]:
        raise shape_error("y must be %s (idx's shape, then x's dims after the first)" % _dims(idx.shape + x.shape[1:]))
    _check_index(idx, x.shape[0])
    rows = x.reshape(x.shape[0], -1)
    np.take(rows, idx.reshape(-1), axis=0, out=y.reshape(idx.size, rows.shape[1]), mode="clip")


def scatter_add(args, at):
    y, x, idx = args
    if x.shape != idx.shape + y.shape[1:]:
        raise shape_error("x must be %s (idx's shape, then y's dims after the first)" % _dims(idx.shape + y.shape[1:]))
    _check_index(idx, y.shape[0])
    rows, ids = y.reshape(y.shape[0], -1), idx.reshape(-1)
    # Sum the rows of each index (in float64), then add each sum once:
    # repeated indices accumulate without a Python loop over rows.
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    sums = np.add.reduceat(x.reshape(ids.size, -1)[order].astype(F64), starts, axis=0)
    targets = sorted_ids[starts]
    rows[targets] = rows[targets] + sums


def _dims(shape):
    return "[%s]" % ",".join(str(d) for d in shape)


def _heads(packed, parts, heads):
    """Checks a head split or merge; it returns packed seen as [B,T,G,H,E]."""
    if heads <= 0:
        raise attr_error("Heads %d must be positive" % heads)
    if packed.ndim != 3:
        raise shape_error("the packed tensor must be [B,T,G*H*E]")
    b, t, w = packed.shape
    g = len(parts)
    if w % (g * heads):
        raise shape_error("the packed tensor's last dim %d is not a multiple of G*Heads = %d*%d" % (w, g, heads))
    want = (b, heads, t, w // (g * heads))
    if any(p.shape != want for p in parts):
        raise shape_error("each head tensor must be %s ([B,Heads,T,E])" % _dims(want))
    return packed.reshape(b, t, g, heads, want[3])


def split_heads(args, at):
    outs, x = args[:-1], args[-1]
    xs = _heads(x, outs, at["Heads"])
    for g, out in enumerate(outs):
        out[...] = xs[:, :, g].transpose(0, 2, 1, 3)


def merge_heads(args, at):
    y, ins = args[0], args[1:]
    ys = _heads(y, ins, at["Heads"])
    for g, part in enumerate(ins):
        ys[:, :, g] = part.transpose(0, 2, 1, 3)


def patchify(args, at):
    y, img = args
    p = at["Patch"]
    if p <= 0:
        raise attr_error("Patch %d must be positive" % p)
    if img.ndim != 4:
        raise shape_error("img must be [B,C,H,W]")
    b, c, h, w = img.shape
    if h % p or w % p:
        raise shape_error("image %dx%d is not a multiple of patch %d" % (h, w, p))
    want = (b, (h // p) * (w // p), c * p * p)
    if y.shape != want:
        raise shape_error("y must be %s" % _dims(want))
    y[...] = img.reshape(b, c, h // p, p, w // p, p).transpose(0, 2, 4, 1, 3, 5).reshape(want)


def _loss_args(args, grad):
    if grad:
        dpred, dloss, pred, target = args
        _check_scalar(dloss, "dloss")
        if not dpred.shape == pred.shape == target.shape:
            raise shape_error("dpred, pred and target must have one shape")
    else:
        loss, pred, target = args
        _check_scalar(loss, "loss")
        if pred.shape != target.shape:
            raise shape_error("pred and target must have one shape")
    return pred.astype(F64) - target


def smooth_l1(args, at):
    beta = at["Beta"]
    d = _loss_args(args, False)
    _check_beta(beta)
    ad = np.abs(d)
    args[0][0] = np.mean(np.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta))


def smooth_l1_bwd(args, at):
    beta = at["Beta"]
    d = _loss_args(args, True)
    _check_beta(beta)
    dpred, dloss = args[0], args[1]
    dpred[...] = float(dloss[0]) / d.size * np.where(np.abs(d) < beta, d / beta, np.sign(d))


def mse(args, at):
    d = _loss_args(args, False)
    args[0][0] = np.mean(d * d)


def mse_bwd(args, at):
    d = _loss_args(args, True)
    dpred, dloss = args[0], args[1]
    dpred[...] = float(dloss[0]) * 2 * d / d.size


def sum_(args, at):
    y, x = args
    _check_scalar(y, "y")
    y[0] = x.sum(dtype=F64)


def sumsq(args, at):
    y, x = args
    _check_scalar(y, "y")
    xs = x.reshape(-1).astype(F64)
    y[0] = np.dot(xs, xs)


def adamw(args, at):
    param, m, v, grad = args
    _same_shapes(param, m, v, grad)
    lr, b1, b2, wd, t = at["LR"], at["Beta1"], at["Beta2"], at["WeightDecay"], at["Step"]
    if t < 1:
        raise attr_error("Step %d must be at least 1" % t)
    for name, b in (("Beta1", b1), ("Beta2", b2)):
        if not 0 <= b < 1:
            raise attr_error("%s %g must be in [0,1)" % (name, b))
    if not (math.isfinite(lr) and math.isfinite(wd)):
        raise attr_error("LR and WeightDecay must be finite")
    _check_eps(at["Eps"])
    # The scalars in float64, then rounded to float32, as the catalogue says.
    step_size = F32(lr / (1 - b1 ** t))
    bc2_sqrt = F32(math.sqrt(1 - b2 ** t))
    param *= F32(1 - lr * wd)
    m *= F32(b1)
    m += F32(1 - b1) * grad
    v *= F32(b2)
    v += F32(1 - b2) * grad * grad
    param -= step_size * m / (np.sqrt(v) / bc2_sqrt + F32(at["Eps"]))


def ema(args, at):
    target, online = args
    _same_shapes(target, online)
    mom = at["Momentum"]
    target *= F32(mom)
    target += F32(1 - mom) * online


def fill(args, at):
    args[0][...] = F32(at["Alpha"])


def copy(args, at):
    y, x = args
    if y.size != x.size:
        raise shape_error("y has %d elements, x has %d" % (y.size, x.size))
    y.reshape(-1)[...] = x.reshape(-1)


OPS = {
    "matmul": matmul,
    "add": _broadcast(np.add),
    "mul": _broadcast(np.multiply),
    "scale": scale,
    "axpy": axpy,
    "colsum": colsum,
    "layernorm": layernorm,
    "layernorm_bwd": layernorm_bwd,
    "softmax": softmax,
    "softmax_bwd": softmax_bwd,
    "gelu": gelu,
    "gelu_bwd": gelu_bwd,
    "silu": silu,
    "silu_bwd": silu_bwd,
    "gather": gather,
    "scatter_add": scatter_add,
    "split_heads": split_heads,
    "merge_heads": merge_heads,
    "patchify": patchify,
    "smooth_l1": smooth_l1,
    "smooth_l1_bwd": smooth_l1_bwd,
    "mse": mse,
    "mse_bwd": mse_bwd,
    "sum": sum_,
    "sumsq": sumsq,
    "adamw": adamw,
    "ema": ema,
    "fill": fill,
    "copy": copy,
}
