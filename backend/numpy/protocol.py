"""The plugin side of ijepa's backend protocol (docs/PLUGINS.md), in Python.

Everything here is independent of numpy's maths: the go-plugin handshake,
the gRPC service, the tensor table under host-chosen ids, the command
stream, sticky errors that name the failing op and the command's position,
chunked writes and reads, guarded tensors and progress. The ops come from a
table of functions keyed by the catalogue's op names (numpy_ops.OPS); a
backend in Python on another array library replaces that table and the
allocation in Tensor, and keeps this file.
"""

import json
import os
import sys
import tempfile
import threading
from concurrent import futures

import grpc
import numpy as np

import backend_pb2 as pb
import backend_pb2_grpc as pb_grpc

# The wire's error kinds (ErrorKind in backend.proto).
OTHER = pb.ERROR_KIND_OTHER
UNSUPPORTED = pb.ERROR_KIND_UNSUPPORTED
SHAPE = pb.ERROR_KIND_SHAPE
INDEX = pb.ERROR_KIND_INDEX
CLOSED = pb.ERROR_KIND_CLOSED
PROTOCOL = pb.ERROR_KIND_PROTOCOL

# The message each kind starts with: package backend's sentinel errors.
_SENTINELS = {
    UNSUPPORTED: "not supported by this backend",
    SHAPE: "shape mismatch",
    INDEX: "index out of range",
    CLOSED: "backend is closed",
    PROTOCOL: "protocol error",
}

# Limits on what the host may ask for: the elements of one tensor (as the Go
# side's maxElements), the arguments of one op, and int32 attributes.
MAX_ELEMENTS = 1 << 40
MAX_ARGS = 64
INT32 = (-(1 << 31), (1 << 31) - 1)

# numpy's type for each dtype this backend stores (little-endian, the wire's
# byte order). f16 and bf16 are not supported.
NUMPY_DTYPES = {"f32": np.dtype("<f4"), "i32": np.dtype("<i4")}

# Guard regions: this many elements on each side of a guarded tensor, filled
# with a bit pattern that no op writes by chance.
GUARD_ELEMENTS = 16
GUARD_WORD = 0x7FC0DEAD  # a quiet NaN with a payload


class OpFailure(Exception):
    """An op's failure: kind is one of the error kinds, and the message says
    what went wrong without the op and shapes (the error carries those)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def shape_error(message):
    return OpFailure(SHAPE, message)


def index_error(message):
    return OpFailure(INDEX, message)


def attr_error(message):
    return OpFailure(OTHER, message)


def load_catalogue(path):
    """Reads catalogue.json: the handshake values, the versions and the ops
    with their arguments and attributes, by name and by number."""
    with open(path) as f:
        cat = json.load(f)
    cat["by_number"] = {o["op"]: o for o in cat["ops"]}
    cat["dtype_names"] = {v: k for k, v in cat["dtypes"].items()}
    return cat


class Tensor:
    """A tensor: a flat numpy array of its elements; guarded tensors keep
    theirs inside a larger buffer between two guard regions."""

    __slots__ = ("dtype", "data", "guarded")

    def __init__(self, dtype, shape, guarded):
        n = int(np.prod(shape))
        self.dtype = dtype
        self.guarded = None  # the buffer with the guard regions
        if guarded:
            self.guarded = np.empty(n + 2 * GUARD_ELEMENTS, NUMPY_DTYPES[dtype])
            self.guarded.view(np.uint32)[:] = GUARD_WORD
            self.data = self.guarded[GUARD_ELEMENTS:GUARD_ELEMENTS + n]
        else:
            self.data = np.empty(n, NUMPY_DTYPES[dtype])

    def guards_intact(self):
        """Reports whether the guard regions still hold the guard pattern
        (true for a tensor without guards)."""
        if self.guarded is None:
            return True
        words = self.guarded.view(np.uint32)
        return bool(np.all(words[:GUARD_ELEMENTS] == GUARD_WORD) and np.all(words[-GUARD_ELEMENTS:] == GUARD_WORD))


def shape_string(dtype, dims):
    return "%s[%s]" % (dtype, ",".join(str(d) for d in dims))


class Session(pb_grpc.BackendServicer):
    """One host's session: the Backend service of backend.proto.

    The Submit stream's handler executes each batch as it arrives, holding
    self.cond's lock; Sync, Read, CheckGuards and Close wait on that
    condition until their batch has been executed. Progress reads counters
    without the lock, so it answers while a batch executes.
    """

    def __init__(self, catalogue, ops, info, on_end):
        self.cat = catalogue
        self.ops = ops  # op name -> function(args, attrs)
        self.info = info
        self.on_end = on_end  # called with an exit status when the session is over
        self.cond = threading.Condition()
        self.ready = False
        self.streaming = False
        self.ended = False
        self.closed = False
        self.tensors = {}
        self.write = None  # [id, tensor, bytearray, offset] while chunks arrive
        self.err = None  # the sticky error, a pb.Error
        self.received = 0
        self.executed = 0
        self.commands = 0

    # --- calls -------------------------------------------------------------

    def Hello(self, request, context):
        cat = self.cat
        with self.cond:
            self.ready = request.api_version == cat["api_version"] and request.catalogue_hash == cat["catalogue_hash"]
        return pb.HelloReply(api_version=cat["api_version"], catalogue_hash=cat["catalogue_hash"], info=self.info)

    def Submit(self, request_iterator, context):
        with self.cond:
            if self.streaming:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, "a Submit stream was already opened on this connection")
            self.streaming = True
        try:
            for batch in request_iterator:
                self._exec_batch(batch)
        except Exception:  # the stream broke off
            pass
        finally:
            with self.cond:
                self.ended = True
                closed = self.closed
                self.cond.notify_all()
        # The host ends the stream after Close. Ended before, the stream
        # broke off with the host's connection (grpc may report that as
        # a plain end): nobody will close the backend.
        if not closed:
            _say("the host's connection ended without closing the backend; exiting")
        self.on_end(0 if closed else 1)
        return pb.SubmitReply()

    def Sync(self, request, context):
        self._wait_for(request.seq, context)
        with self.cond:
            return pb.Status(error=self.err)

    def Read(self, request, context):
        self._wait_for(request.seq, context)
        with self.cond:
            data, status = self._read_locked(request.id)
        if data is None:
            yield pb.ReadChunk(status=status)
            return
        chunk = self.cat["chunk_bytes"]
        yield pb.ReadChunk(status=status, offset=0, data=data[:chunk])  # the status in the first message only
        for off in range(chunk, len(data), chunk):
            yield pb.ReadChunk(offset=off, data=data[off:off + chunk])

    def CheckGuards(self, request, context):
        self._wait_for(request.seq, context)
        with self.cond:
            if self.err is not None:
                return pb.Status(error=self.err)
            t = self.tensors.get(request.id)
            if t is None:
                self._protocol(0, "guard check of tensor %d, which does not exist" % request.id)
                return pb.Status(error=self.err)
            if not t.guards_intact():
                return pb.Status(error=pb.Error(kind=OTHER, message="guard region of tensor %d overwritten" % request.id))
            return pb.Status()

    def Progress(self, request, context):
        return pb.ProgressReply(received=self.received, executed=self.executed, commands=self.commands)

    def Close(self, request, context):
        missing = self._wait_for(request.seq, context, closing=True)
        with self.cond:
            if missing:  # the batches did not all arrive; close all the same
                self._protocol(0, "close: " + missing)
            self.closed = True
            self.tensors.clear()
            self.write = None
            return pb.Status(error=self.err)

    # --- waiting -----------------------------------------------------------

    def _wait_for(self, seq, context, closing=False):
        """Waits until batch seq has been executed. It aborts the call when
        the host gave up on it, or when the Submit stream ended first; then
        Close (closing) gets the reason instead."""
        with self.cond:
            while self.executed < seq:
                if self.ended:
                    missing = "batch %d never arrived: the Submit stream ended after batch %d" % (seq, self.executed)
                    if closing:
                        return missing
                    context.abort(grpc.StatusCode.FAILED_PRECONDITION, missing)
                if not context.is_active():
                    context.abort(grpc.StatusCode.CANCELLED, "the host gave up waiting")
                self.cond.wait(0.5)
        return None

    # --- the command stream ------------------------------------------------

    def _fail(self, kind, message, command, op=0, args=""):
        """Records the sticky error unless one is recorded. self.cond is held."""
        if self.err is None:
            if kind in _SENTINELS:
                message = "%s: %s" % (_SENTINELS[kind], message)
            self.err = pb.Error(kind=kind, message=message, op=op, args=args, command=command)

    def _protocol(self, command, message):
        self._fail(PROTOCOL, message, command)

    def _exec_batch(self, batch):
        with self.cond:
            self.received = max(self.received, batch.seq)
            if batch.seq != self.executed + 1:
                self._protocol(0, "batch %d arrived after batch %d" % (batch.seq, self.executed))
            elif not self.ready:
                self._protocol(0, "batch %d arrived before a Hello with matching versions" % batch.seq)
            elif self.closed:
                self._fail(CLOSED, "batch %d" % batch.seq, 0)
            else:
                for c in batch.commands:
                    n = self.commands + 1
                    self._exec(c, n)
                    self.commands = n
            self.executed = self.received
            self.cond.notify_all()

    def _exec(self, c, n):
        if self.write is not None and not (c.HasField("write") and c.write.id == self.write[0]):
            w = self.write
            self.write = None
            self._protocol(n, "the write of tensor %d ended after %d of %d bytes" % (w[0], w[3], len(w[2])))
        fields = [f for f in ("new", "run", "write", "release") if c.HasField(f)]
        if len(fields) != 1:
            self._protocol(n, "a command sets %d of new, run, write and release, not exactly one" % len(fields))
            return
        try:
            if fields[0] == "new":
                self._new(c.new, n)
            elif fields[0] == "release":
                self._release(c.release, n)
            elif self.err is None and fields[0] == "run":
                self._run(c.run, n)
            elif self.err is None:
                self._write(c.write, n)
        except Exception as e:  # a bug here or in an op: an error, not a dead plugin
            self._fail(OTHER, "the backend raised %s: %s" % (type(e).__name__, e), n)

    def _shape(self, dims, what):
        """Validates a shape from the wire: at least one dimension, each
        positive, at most MAX_ELEMENTS elements. It returns the product."""
        if len(dims) == 0:
            raise OpFailure(PROTOCOL, "%s: shape has no dimensions" % what)
        n = 1
        for d in dims:
            if d <= 0 or d > MAX_ELEMENTS or n > MAX_ELEMENTS // d:
                raise OpFailure(PROTOCOL, "%s: shape %s: dimension %d out of range (elements at most %d)" % (what, list(dims), d, MAX_ELEMENTS))
            n *= d
        return n

    def _new(self, m, n):
        what = "new tensor %d" % m.id
        if m.id == 0:
            return self._protocol(n, "new tensor with id 0")
        if m.id in self.tensors:
            return self._protocol(n, "new tensor with id %d, which is in use" % m.id)
        dtype = self.cat["dtype_names"].get(m.dtype)
        if dtype is None:
            return self._protocol(n, "%s: unknown dtype %d" % (what, m.dtype))
        try:
            self._shape(m.shape, what)
        except OpFailure as e:
            return self._protocol(n, str(e))
        if dtype not in NUMPY_DTYPES:
            return self._fail(UNSUPPORTED, "new %s: dtype %s" % (shape_string(dtype, m.shape), dtype), n)
        try:
            self.tensors[m.id] = Tensor(dtype, m.shape, m.guarded)
        except MemoryError:
            self._fail(OTHER, "new %s: out of memory" % shape_string(dtype, m.shape), n)

    def _release(self, m, n):
        for id in m.ids:
            if self.tensors.pop(id, None) is None and self.err is None:
                # After an error a failed new leaves its id unknown.
                self._protocol(n, "release of tensor %d, which does not exist" % id)

    def _write(self, m, n):
        if self.write is None:
            t = self.tensors.get(m.id)
            if t is None:
                return self._protocol(n, "write to tensor %d, which does not exist" % m.id)
            if m.offset != 0:
                return self._protocol(n, "write to tensor %d starts at byte %d, not 0" % (m.id, m.offset))
            size = t.data.nbytes
            if len(m.data) == size:  # the whole tensor in one chunk
                t.data[:] = np.frombuffer(m.data, t.data.dtype)
                return
            self.write = [m.id, t, bytearray(size), 0]
        id, t, buf, off = self.write
        if m.offset != off or len(m.data) == 0 or len(m.data) > len(buf) - off:
            self.write = None
            return self._protocol(n, "write to tensor %d: a chunk of %d bytes at byte %d, expected one at byte %d of %d"
                                  % (id, len(m.data), m.offset, off, len(buf)))
        buf[off:off + len(m.data)] = m.data
        self.write[3] = off = off + len(m.data)
        if off == len(buf):
            self.write = None
            t.data[:] = np.frombuffer(buf, t.data.dtype)

    def _run(self, m, n):
        spec = self.cat["by_number"].get(m.op)
        if spec is None:
            return self._protocol(n, "op %d is not in the catalogue" % m.op)
        name = spec["name"]
        if len(m.ids) > MAX_ARGS or len(m.ranks) != len(m.ids):
            return self._protocol(n, "%s with %d argument ids and %d ranks" % (name, len(m.ids), len(m.ranks)))
        if sum(m.ranks) != len(m.dims):
            return self._protocol(n, "%s: the ranks add up to %d dimensions, dims has %d" % (name, sum(m.ranks), len(m.dims)))
        # The attributes: float64 values in the order of the op's row, each
        # read as its type says (a bool is 0 or 1, an int exact).
        if len(m.attrs) != len(spec["attrs"]):
            return self._protocol(n, "%s takes %d attributes, not %d" % (name, len(spec["attrs"]), len(m.attrs)))
        attrs = {}
        for a, v in zip(spec["attrs"], m.attrs):
            if a["type"] == "bool" and v in (0, 1):
                v = bool(v)
            elif a["type"] == "int" and v.is_integer() and INT32[0] <= v <= INT32[1]:
                v = int(v)
            elif a["type"] != "float":
                return self._protocol(n, "%s: attribute %s = %r is not a value of its type" % (name, a["name"], v))
            attrs[a["name"]] = v
        # The arguments: views of the tensors with the shapes of this call.
        args, ids, shapes, dims = [], [], [], list(m.dims)
        for i, (id, r) in enumerate(zip(m.ids, m.ranks)):
            d, dims = dims[:r], dims[r:]
            if id == 0:
                if r != 0:
                    return self._protocol(n, "%s argument %d: an absent argument with a shape" % (name, i))
                args.append(None)
            else:
                t = self.tensors.get(id)
                if t is None:
                    return self._protocol(n, "%s argument %d: tensor %d does not exist (never created, or released)" % (name, i, id))
                try:
                    count = self._shape(d, "%s argument %d: tensor %d" % (name, i, id))
                except OpFailure as e:
                    return self._protocol(n, str(e))
                if count != t.data.size:
                    return self._protocol(n, "%s argument %d: tensor %d has %d elements, seen as %s" % (name, i, id, t.data.size, list(d)))
                args.append(t.data.reshape(d))
            ids.append(id)
            shapes.append(shape_string(self.tensors[id].dtype, d) if id else "nil")
        names = arg_names(spec, len(args))
        described = " ".join("%s=%s" % (names[i], shapes[i]) for i in range(len(args)))
        try:
            check_args(spec, names, args, ids, self.tensors)
            fn = self.ops.get(name)
            if fn is None:
                raise OpFailure(UNSUPPORTED, "%s is not implemented" % name)
            fn(args, attrs)
        except OpFailure as e:
            self._fail(e.kind, str(e), n, m.op, described)
        except Exception as e:  # numpy's own errors, or a bug in an op
            self._fail(OTHER, "%s: %s" % (type(e).__name__, e), n, m.op, described)

    def _read_locked(self, id):
        """Returns the bytes of tensor id and the status to send first, or
        None and the error. self.cond is held."""
        if self.err is not None:
            return None, pb.Status(error=self.err)
        if self.closed:
            return None, pb.Status(error=pb.Error(kind=CLOSED, message="read: backend is closed"))
        t = self.tensors.get(id)
        if t is None:
            self._protocol(0, "read of tensor %d, which does not exist" % id)
            return None, pb.Status(error=self.err)
        return t.data.tobytes(), pb.Status()


def _say(message):
    """Writes a line to standard error, which may be a pipe whose reader,
    the host, is gone."""
    try:
        print("ijepa-backend-numpy: " + message, file=sys.stderr, flush=True)
    except OSError:
        pass


def arg_names(spec, n):
    """The display name of each of n arguments of a call of the op:
    a variadic argument's tensors are numbered (out0, out1, ...)."""
    names = []
    extra = n - len(spec["args"])
    for a in spec["args"]:
        if a.get("variadic"):
            names += ["%s%d" % (a["name"], k) for k in range(extra + 1)]
        else:
            names.append(a["name"])
    while len(names) < n:
        names.append("arg%d" % len(names))
    return names[:n]


def arg_specs(spec, n):
    """The catalogue entry of each of n arguments, a variadic one repeated."""
    out = []
    extra = n - len(spec["args"])
    for a in spec["args"]:
        out += [a] * (extra + 1 if a.get("variadic") else 1)
    return out


def check_args(spec, names, args, ids, tensors):
    """The checks every op shares, from its row of the catalogue: the number
    of arguments, absent arguments only where optional, dtypes, and no output
    sharing storage with another argument unless the op runs in place on an
    input of the same shape."""
    variadic = any(a.get("variadic") for a in spec["args"])
    want = len(spec["args"])
    if len(args) < want if variadic else len(args) != want:
        raise shape_error("%d tensor arguments, want %s%d" % (len(args), "at least " if variadic else "", want))
    specs = arg_specs(spec, len(args))
    for i, a in enumerate(specs):
        if args[i] is None:
            if not a.get("optional"):
                raise OpFailure(OTHER, "argument %s is nil" % names[i])
        elif tensors[ids[i]].dtype != a["dtype"]:
            raise shape_error("argument %s is %s, want %s" % (names[i], tensors[ids[i]].dtype, a["dtype"]))
    for i, a in enumerate(specs):
        if args[i] is None or a["role"] == "in":
            continue
        for j, b in enumerate(specs):
            if j == i or ids[j] != ids[i]:
                continue
            if spec["in_place"] and b["role"] == "in" and args[j].shape == args[i].shape:
                continue
            raise shape_error("output %s shares storage with argument %s" % (names[i], names[j]))


def device_info(cat, ops, backend, device, limits):
    """The Info of Hello: f32 and i32, and the ops of the catalogue that the
    table implements."""
    info = pb.Info(backend=backend, device=device, kind="cpu", memory=_total_memory(), guards=True)
    info.dtypes.extend(cat["dtypes"][d] for d in NUMPY_DTYPES)
    info.ops.extend(o["op"] for o in cat["ops"] if o["name"] in ops)
    for k, v in limits:
        info.limits.add(name=k, value=v)
    return info


def _total_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


# go-plugin's own services, which the host may call: the health service
# (go-plugin's Ping asks it whether "plugin" is SERVING) and the controller
# (its Shutdown asks the plugin to exit). Both have one-field messages,
# encoded here by hand rather than generated: HealthCheckResponse{status:
# SERVING} is field 1, varint 1; the controller's Empty is no bytes.
_SERVING = b"\x08\x01"


def _raw(handler):
    return grpc.unary_unary_rpc_method_handler(handler, request_deserializer=bytes, response_serializer=bytes)


def _health(request, context):
    return _SERVING


def serve(catalogue, ops, info):
    """Runs the plugin: checks the magic cookie, listens on a Unix socket,
    prints go-plugin's handshake line and serves until the host is done.
    It returns the exit status."""
    cat = catalogue
    if os.environ.get(cat["magic_cookie_key"]) != cat["magic_cookie_value"]:
        print("This binary is a plugin: an ijepa backend that ijepa starts (ijepa conformance --backend plugin:%s)." % sys.argv[0],
              file=sys.stderr)
        return 1
    done = threading.Event()
    status = [0]

    def end(code):
        status[0] = code
        done.set()

    def shutdown(request, context):
        end(0)
        return b""

    limit = 256 << 20  # gRPC's message limits, raised as the host raises its own
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)])
    pb_grpc.add_BackendServicer_to_server(Session(cat, ops, info, end), server)
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": _raw(_health)}),
        grpc.method_handlers_generic_handler("plugin.GRPCController", {"Shutdown": _raw(shutdown)}),
    ))
    sock_dir = tempfile.mkdtemp(prefix="ijepa-backend-numpy-", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    sock = os.path.join(sock_dir, "plugin.sock")
    if server.add_insecure_port("unix:" + sock) == 0:
        _say("cannot listen on %s" % sock)
        return 1
    server.start()
    print("1|%d|unix|%s|grpc|" % (cat["protocol_version"], sock), flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        status[0] = 1
    server.stop(grace=1).wait()
    try:
        os.remove(sock)
        os.rmdir(sock_dir)
    except OSError:
        pass
    return status[0]
