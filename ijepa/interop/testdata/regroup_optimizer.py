#!/usr/bin/env python3
"""Writes tiny_1group.pth.tar: tiny.pth.tar with its AdamW state's four
official parameter groups merged into one (as a fork or a fine-tune with a
one-group AdamW saves it), for the test that such a file's networks load
and its optimiser state is skipped with a warning.

No PyTorch needed: the pickle is read with stand-ins for torch's classes
and written back with the same references (unchanged, it round-trips byte
for byte; the script checks that), and every other member of the zip is
copied as it is.

usage: python3 regroup_optimizer.py [tiny.pth.tar] [tiny_1group.pth.tar]
"""
import io
import pickle
import sys
import types
import zipfile


class Call:
    """A call of a torch function the pickle makes (a tensor rebuilt)."""

    def __init__(self, fn, args):
        self.fn, self.args, self.state = fn, args, None

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):
        if self.state is None:
            return (self.fn, self.args)
        return (self.fn, self.args, self.state)


class PersistentID:
    """A storage reference (a file of the zip)."""

    def __init__(self, v):
        self.v = v


_stubs = {}


def stub(mod, name):
    """A function registered as mod.name, so that pickle writes the same
    global reference back."""
    if (mod, name) in _stubs:
        return _stubs[(mod, name)]
    m = sys.modules.get(mod)
    if m is None or not getattr(m, "__stand_in__", False):
        m = types.ModuleType(mod)
        m.__stand_in__ = True
        sys.modules[mod] = m

    def f(*args):
        return Call(f, args)

    f.__module__, f.__qualname__, f.__name__ = mod, name, name
    setattr(m, name, f)
    _stubs[(mod, name)] = f
    return f


class Reader(pickle.Unpickler):
    def find_class(self, mod, name):
        if (mod, name) == ("collections", "OrderedDict"):
            import collections
            return collections.OrderedDict
        return stub(mod, name)

    def persistent_load(self, pid):
        return PersistentID(pid)


class Writer(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.v if isinstance(obj, PersistentID) else None


def dump(obj):
    b = io.BytesIO()
    Writer(b, protocol=2).dump(obj)
    return b.getvalue()


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "tiny.pth.tar"
    dst = sys.argv[2] if len(sys.argv) > 2 else "tiny_1group.pth.tar"
    z = zipfile.ZipFile(src)
    name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
    raw = z.read(name)
    obj = Reader(io.BytesIO(raw)).load()
    if dump(obj) != raw:
        sys.exit("the pickle does not round-trip: refusing to rewrite it")
    groups = obj["opt"]["param_groups"]
    one = dict(groups[0])
    one["params"] = [p for g in groups for p in g["params"]]
    obj["opt"]["param_groups"] = [one]
    out = dump(obj)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as w:
        for info in z.infolist():
            w.writestr(info, out if info.filename == name else z.read(info.filename))
    print(f"wrote {dst}: {len(groups)} parameter groups merged into 1")


if __name__ == "__main__":
    main()
