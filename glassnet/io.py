"""Model files: ``save(net, path)`` and ``load(path)``, safe and versioned.

A model file is an ``.npz`` archive (a zip) holding one ``.npy`` member per parameter
array and a ``metadata.json`` member::

    model.glassnet
      metadata.json     format name and version, glassnet version, the architecture
                        (layer sizes, activations, output, loss, dtype), the init specs,
                        the seed and generator state, array shapes, and user metadata
                        (class labels, feature names, input scaling, ...)
      weights_0.npy     (fan_in, fan_out) for layer 1
      ...
      biases_0.npy      (fan_out,) for layer 1
      ...

The arrays are read with ``np.load(path, allow_pickle=False)``, so a file can never run
code when it is opened: object arrays (pickles) are refused, never unpickled.  Files are
written atomically (a temporary file in the same directory, fsync, ``os.replace``): a
save that dies half-way leaves the previous file as it was.  ``np.load(path)`` opens a
model file without glassnet, and ``json.loads(np.load(path)["metadata.json"])`` reads
its metadata.

>>> import glassnet, tempfile, os
>>> net = glassnet.Network([4, 8, 3], seed=0)
>>> net.metadata["classes"] = ["a", "b", "c"]
>>> path = os.path.join(tempfile.mkdtemp(), "model.glassnet")
>>> net.save(path)
>>> glassnet.load(path).metadata["classes"]
['a', 'b', 'c']
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import math
import os
import stat
import struct
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import activations as _act
from . import initializers as _init
from . import _schema
from ._validation import GlassnetError, echo
from ._version import __version__
from .initializers import SymmetryWarning, resolve
from .network import Network
from .neuro import Neuro

#: the ``format`` field of every model file's metadata
FORMAT = "glassnet-model"
#: the newest format version this glassnet writes and reads
FORMAT_VERSION = 1
METADATA_MEMBER = "metadata.json"
#: a larger metadata.json is refused unread (a zip bomb would otherwise fill memory)
MAX_METADATA_BYTES = 64 << 20
#: what a damaged zip raises while being read (bad CRC, bad deflate stream, cut short, ...)
_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
           NotImplementedError, struct.error)


# --- atomic writes --------------------------------------------------------------------------

#: a temporary file of a killed save is reclaimed by the next save of the same target once
#: its writer is gone (its process no longer runs on this machine) or, whoever wrote it,
#: once it has not been touched for this long (a live save keeps writing to its file)
STALE_TEMP_SECONDS = 3600


class WriteError(GlassnetError):
    """A file could not be written (full disk, read-only folder, no permission, ...).

    ``errno`` is the operating system's error number when there was one.
    """

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


def _host_tag() -> str:
    """This machine, in 8 hex digits: a temporary's process id means something only here."""
    import socket
    return f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFFFFFF:08x}"


def _temp_prefix(name: str) -> str:
    return f".{name}.g{_host_tag()}-{os.getpid()}."


def _temp_pattern(name: str):
    import re
    # ours: .NAME.g<host>-<pid>.<random>.tmp; before glassnet 0.x: .NAME.<random>.tmp
    return re.compile(rf"^\.{re.escape(name)}\.(?:g(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)\.)?"
                      r"[a-z0-9_]{8}\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True             # someone else's process (or not ours to judge): keep
    return True


def reclaim_temporaries(path) -> list[Path]:
    """Remove the stale temporary files that killed saves of ``path`` left beside it.

    Only files named like glassnet's own temporaries of this very target, owned by this
    user, and stale: written by a process of this machine that no longer runs, or untouched
    for :data:`STALE_TEMP_SECONDS`.  A save in progress (another process writing the same
    target) is never touched.  Returns what was removed.
    """
    path = Path(path)
    folder, pattern = path.parent, _temp_pattern(path.name)
    host, now, removed = _host_tag(), time.time(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or (hasattr(os, "getuid")
                                              and info.st_uid != os.getuid()):
            continue
        pid = match.group("pid")
        writer_gone = (pid is not None and match.group("host") == host
                       and int(pid) != os.getpid() and not _pid_alive(int(pid)))
        if writer_gone or now - info.st_mtime > STALE_TEMP_SECONDS:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _special_kind(path: Path) -> str | None:
    """'a character device', 'a pipe' or 'a socket' for an existing non-file; else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def is_stream(path) -> bool:
    """True for ``-`` and for paths that name a device or pipe (``/dev/stdout``,
    ``/dev/null``, a FIFO): written in place, never replaced."""
    return os.fspath(path) == "-" or _special_kind(Path(os.fspath(path))) is not None


def write_target(path) -> Path:
    """Where writing ``path`` really goes: through symlinks (however many) to their target.

    >>> write_target("model.glassnet").name
    'model.glassnet'
    """
    path = _as_path(path, "file")
    if not path.is_symlink() or _special_kind(path) is not None:
        return path          # /dev/stdout -> /proc/self/fd/1 -> a pipe: opened as it is
    return Path(os.path.realpath(path))


def _write_error(path, exc: OSError) -> WriteError:
    return WriteError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.",
                      getattr(exc, "errno", None))


def _temporary_beside(target: Path, shown: str) -> tuple[int, str]:
    """A new temporary file in ``target``'s folder, as ``(fd, path)``, after reclaiming
    stale ones: the folder must exist and ``target`` must not be a folder."""
    folder = target.parent
    if not folder.is_dir():
        raise WriteError(f"Cannot write {shown!r}: the folder {str(folder)!r} does not exist.")
    if target.is_dir():
        raise WriteError(f"Cannot write {shown!r}: it is a folder, not a file.")
    reclaim_temporaries(target)
    try:
        return tempfile.mkstemp(dir=folder, prefix=_temp_prefix(target.name), suffix=".tmp")
    except OSError as exc:   # a read-only folder, no permission, no space
        raise _write_error(shown, exc) from None


def check_writable(path, needed_bytes: int | None = None) -> Path:
    """Fail early if ``path`` cannot be written: call it before hours of training.

    The folder must exist and accept a new file (a probe temporary is created and removed:
    read-only folders, missing permissions and full disks show up here), ``path`` must not
    be a folder, and, given ``needed_bytes``, the disk must have that much room.  Devices and
    pipes only need to be writable.  Returns where the write will go (symlinks followed).
    """
    shown = str(path)
    target = write_target(path)
    if _special_kind(target) is not None:
        if not os.access(target, os.W_OK):
            raise WriteError(f"Cannot write {shown!r}: permission denied.")
        return target
    fd, probe = _temporary_beside(target, shown)
    os.close(fd)
    os.unlink(probe)
    folder = target.parent
    if needed_bytes is not None:
        import shutil
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = None
        if free is not None and free < needed_bytes:
            raise WriteError(f"Cannot write {shown!r}: the disk has {free:,} bytes free and the "
                             f"file needs about {needed_bytes:,}.")
    return target


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None) -> Iterator[Any]:
    """Open a temporary file next to ``path``; on success fsync it and move it over ``path``.

    If the block raises (or the process dies), ``path`` keeps its previous content and the
    temporary file is removed (or, after a hard kill, left as ``.NAME.*.tmp`` until the next
    write of the same file reclaims it, see :func:`reclaim_temporaries`).

    What ``path`` is stays what it was: a symlink is written through, atomically beside its
    target (the link stays a link); a device or pipe (``/dev/stdout``, ``/dev/null``, a
    FIFO) is written to in place, never replaced by a file.  A write the system refuses
    (disk full, read-only) raises :class:`WriteError`, one line naming the file.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("hello")
    >>> with open(p) as f:
    ...     f.read()
    'hello'
    """
    shown = str(path)
    target = write_target(path)
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    text_args = {} if "b" in mode else {"newline": ""}
    if _special_kind(target) is not None:
        with _stream(target, shown, mode, encoding, text_args) as f:
            yield f
        return
    fd, tmp = _temporary_beside(target, shown)
    folder = target.parent
    try:
        with os.fdopen(fd, mode, encoding=encoding, **text_args) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(shown, exc) from None
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def _stream(target: Path, shown: str, mode: str, encoding, text_args) -> Iterator[Any]:
    """Write straight into a device or pipe (there is nothing to replace atomically)."""
    try:
        f = open(target, mode, encoding=encoding, **text_args)
    except OSError as exc:
        raise _write_error(shown, exc) from None
    try:
        with f:
            yield f
            f.flush()
    except OSError as exc:
        raise _write_error(shown, exc) from None


@contextlib.contextmanager
def open_output(path, mode: str = "w") -> Iterator[Any]:
    """Where a command writes a table: ``-`` is standard output, anything else goes through
    :func:`atomic_write`."""
    if os.fspath(path) == "-":
        out = sys.stdout.buffer if "b" in mode else sys.stdout
        yield out
        out.flush()
        return
    with atomic_write(path, mode) as f:
        yield f


def _file_mode(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 & ~umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- JSON-ready values ----------------------------------------------------------------------

def to_jsonable(value: Any, where: str = "metadata") -> Any:
    """NumPy scalars and arrays become Python numbers and lists; anything else must be JSON.

    Raises GlassnetError naming the key path of a value JSON cannot hold.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value.tolist())]
        return value.tolist()
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise GlassnetError(f"{where} keys must be strings; got {k!r}.")
            out[k] = to_jsonable(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise GlassnetError(f"{where} holds a {type(value).__name__} ({value!r:.60}), which a model "
                        "file cannot store; use numbers, strings, booleans, lists and dicts.")


def _init_spec_to_json(spec) -> Any:
    """An ``init=`` value as JSON: a name, ``{"name": ..., **params}``, or ``{"custom": label}``."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, _init.Initializer):
        key = _init.ALIASES.get(spec.name.lower(), spec.name.lower())
        if key not in _init.NAMES:
            return {"custom": spec.name}
        return {"name": spec.name, **to_jsonable(spec.params, "init params")}
    if isinstance(spec, dict):
        return to_jsonable(spec, "init")
    if (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str)
            and isinstance(spec[1], dict)):
        return {"name": spec[0], **to_jsonable(spec[1], "init params")}
    return {"custom": getattr(spec, "__name__", type(spec).__name__)}


def _init_spec_from_json(spec) -> Any:
    """The inverse of :func:`_init_spec_to_json`; a custom callable comes back as None."""
    if isinstance(spec, dict) and "custom" in spec:
        return None
    return spec


def _rng_state(net) -> dict | None:
    state = net.rng.bit_generator.state
    return to_jsonable(state, "rng state") if state.get("bit_generator") == "PCG64" else None


# --- save -----------------------------------------------------------------------------------

def _architecture(net) -> dict:
    arch = {
        "class": type(net).__name__,
        "layer_sizes": list(net.layer_sizes),
        "activations": [_act.to_spec(a) for a in net.activations[:-1]],
        "output": _act.to_spec(net.output),
        "loss": net.loss.name,
        "dtype": net.dtype.name,
        "init": [_init_spec_to_json(s) for s in net.init],
        "bias_init": _init_spec_to_json(net.bias_init),
        "seed": net.seed if isinstance(net.seed, (int, np.integer)) else None,
        "rng_state": _rng_state(net),
        "needs_data_init": bool(net.needs_data_init),
    }
    if isinstance(net, Neuro):
        arch["neuro"] = {"learning_rate": net.learning_rate, "quiet": net.quiet}
    return to_jsonable(arch, "network")


def save(net, path, *, metadata: dict | None = None) -> Path:
    """Write ``net`` to ``path`` as a model file, atomically; returns the path.

    ``metadata`` (JSON-ready: numbers, strings, lists, dicts; NumPy values are converted)
    is stored with the model; by default it is ``net.metadata``.  The suffix is up to you;
    ``.glassnet`` is the convention.
    """
    if not isinstance(net, Network):
        raise GlassnetError(f"save needs a glassnet Network; got {type(net).__name__}.")
    user = getattr(net, "metadata", None) if metadata is None else metadata
    if user is not None and not isinstance(user, dict):
        raise GlassnetError(f"metadata must be a dict; got {type(user).__name__}.")
    names = ([f"weights_{l}" for l in range(net.n_layers)]
             + [f"biases_{l}" for l in range(net.n_layers)])
    arrays = list(net.weights) + list(net.biases)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "glassnet_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "network": _architecture(net),
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.name}
                   for n, a in zip(names, arrays)},
        "metadata": to_jsonable(dict(user or {})),
    }
    text = json.dumps(header, indent=1, allow_nan=True)
    path = _as_path(path)
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(METADATA_MEMBER, text)
            _write_arrays(zf, names, arrays)
    return path


def _write_arrays(zf: zipfile.ZipFile, names, arrays) -> None:
    for name, arr in zip(names, arrays):
        with zf.open(name + ".npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)


# --- load -----------------------------------------------------------------------------------

def _fail(path, problem: str) -> None:
    raise GlassnetError(f"Cannot load model file {str(path)!r}: {problem}")


def _as_path(path, what: str = "model file") -> Path:
    """``path`` as a Path, or a GlassnetError saying what a path is."""
    try:
        return Path(os.fspath(path))
    except TypeError:
        raise GlassnetError(f"path must be the {what}'s path (a str or os.PathLike); got "
                            f"{type(path).__name__} {path!r:.60}.") from None


#: the largest model whose arrays load without asking: 4 GiB of weights.  Raise it with
#: ``load(path, max_bytes=...)``, the environment variable below, or ``--max-model-bytes``
DEFAULT_MAX_MODEL_BYTES = 4 << 30
MAX_BYTES_ENV = "GLASSNET_MAX_MODEL_BYTES"
#: what an .npy member may hold besides its data: magic, version and header (NumPy pads
#: the header to 64 bytes; 64 KiB is far more than any header glassnet or NumPy writes)
NPY_HEADER_ROOM = 1 << 16
#: arrays are read in pieces this large, straight into the network's parameter buffer
_READ_CHUNK = 16 << 20


@functools.lru_cache(maxsize=1)
def _schemas():
    """The model file's metadata schema (built on first use)."""
    S = _schema
    act = S.OneOf(S.Str(nonempty=True), S.List(S.Anything(), min_len=1),
                  expected="an activation name or [name, {parameters}]")
    init = S.OneOf(S.Null(), S.Str(nonempty=True), S.Dict(),
                   expected="an init name, {\"name\": ..., parameters} or null")
    number = S.Num(finite=False)
    network = S.Dict({
        "class": S.Optional(S.Enum("Network", "Neuro")),
        "layer_sizes": S.List(S.Int(minimum=1), min_len=2),
        "activations": S.List(act),
        "output": act,
        "loss": S.Str(nonempty=True),
        "dtype": S.Enum("float32", "float64"),
        "init": S.Optional(S.List(init)),
        "bias_init": init,
        "seed": S.Optional(S.Int(minimum=0)),
        "rng_state": S.Optional(S.Dict()),
        "needs_data_init": S.Optional(S.Bool()),
        "neuro": S.Optional(S.Dict({"learning_rate": S.Num(), "quiet": S.Bool()})),
    }, required=["layer_sizes", "activations", "output", "loss", "dtype"])
    array = S.Dict({"shape": S.List(S.Int(minimum=0)), "dtype": S.Str()}, required=["shape"])
    label = S.OneOf(S.Str(), S.Int(), S.Num(), S.Bool(),
                    expected="a class label (a string, a number or true/false)")
    scores = S.Dict(rest=S.Dict(rest=S.Optional(number)))
    user = S.Dict({
        "task": S.Optional(S.Enum("classification", "regression")),
        "target_name": S.Optional(S.Str()),
        "classes": S.Optional(S.List(label, min_len=1, unique=True)),
        "feature_names": S.Optional(S.List(S.Str(), unique=True)),
        "scaling": S.Optional(S.Dict({"mean": S.List(S.Num()),
                                      "std": S.List(S.Num(positive=True))},
                                     required=["mean", "std"])),
        "target_scaling": S.Optional(S.Dict({"mean": S.Num(), "std": S.Num(positive=True)},
                                            required=["mean", "std"])),
        "training": S.Optional(S.Dict({
            "data": S.Optional(S.Str()), "rows": S.Optional(S.Int(minimum=0)),
            "training_rows": S.Optional(S.Int(minimum=0)),
            "validation_rows": S.Optional(S.Int(minimum=0)),
            "epochs": S.Optional(S.Int(minimum=0)), "batch_size": S.Optional(S.Int(minimum=1)),
            "optimizer": S.Optional(S.Str()), "learning_rate": S.Optional(number),
            "seed": S.Optional(S.Int()), "seconds": S.Optional(number),
            "final_loss": S.Optional(number), "metrics": S.Optional(scores),
        })),
    })
    return S.Dict({
        "format": S.Str(), "format_version": S.Int(minimum=1),
        "glassnet_version": S.Optional(S.Str()), "created": S.Optional(S.Str()),
        "network": network, "arrays": S.Dict(rest=array), "metadata": S.Optional(user),
    }, required=["format", "format_version", "network", "arrays"])


def max_model_bytes(max_bytes=None) -> int:
    """The limit on a model's array data: ``max_bytes``, else $GLASSNET_MAX_MODEL_BYTES,
    else :data:`DEFAULT_MAX_MODEL_BYTES`.  Sizes may carry a unit: ``8G``, ``512M``, ``2.5GiB``.
    """
    where = "max_bytes"
    if max_bytes is None:
        max_bytes = os.environ.get(MAX_BYTES_ENV) or DEFAULT_MAX_MODEL_BYTES
        where = f"${MAX_BYTES_ENV}" if os.environ.get(MAX_BYTES_ENV) else where
    return parse_size(max_bytes, where)


def parse_size(value, where: str = "size") -> int:
    """Bytes from an int or text such as ``4096``, ``512M``, ``8G``, ``1.5GiB`` (powers of 1024)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        number = int(value)
    else:
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        scale = 1
        if text and text[-1] in "KMGT":
            scale = 1024 ** ("KMGT".index(text[-1]) + 1)
            text = text[:-1]
        try:
            number = int(float(text) * scale)
        except (ValueError, OverflowError):
            raise GlassnetError(f"{where} must be a size in bytes such as 4096, 512M or 8G; got "
                                f"{echo(value)}.") from None
    if number < 1:
        raise GlassnetError(f"{where} must be a positive number of bytes; got {echo(value)}.")
    return number


def _open_regular(path: Path):
    """Open ``path`` for reading only if it is a regular file (never blocking on a pipe)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        _fail(path, "no such file.")
    except IsADirectoryError:
        _fail(path, "it is a folder, not a model file.")
    except OSError as exc:
        _fail(path, f"it cannot be read ({exc.strerror or exc}).")
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            _fail(path, "it is a folder, not a model file.")
        if not stat.S_ISREG(mode):
            kind = _special_kind(path) or "not a regular file"
            _fail(path, f"it is {kind}, not a model file on disk (a device or pipe could be "
                        "endless).")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_header(path, *, check_metadata: bool = True) -> dict:
    """The checked metadata of a model file (format, architecture, user metadata), no arrays.

    ``check_metadata=False`` leaves the user ``metadata`` section unchecked (``glassnet info
    --json`` shows a hand-edited file as it is); the format and the architecture are always
    checked.
    """
    path = _as_path(path)
    with _open_regular(path) as f:
        return _read_header(path, f, check_metadata)[0]


def check_archive(path, *, max_bytes=None, what: str = "archive") -> None:
    """Refuse, before NumPy reads it, an .npz archive that is not a regular file, names a
    member twice, or whose members would inflate past the limit (:func:`max_model_bytes`).

    For archives whose arrays have no architecture to bound them member by member (a plain
    .npz of weights, a checkpoint): the sum of the members' declared sizes is what NumPy can
    inflate (zipfile stops at the declared size and checks the CRC), so bounding it bounds
    the memory a hostile file can take.
    """
    path = _as_path(path, what)
    limit = max_model_bytes(max_bytes)

    def refuse(problem: str) -> None:
        raise GlassnetError(f"Cannot read {what} {str(path)!r}: {problem}")

    try:
        with _open_regular(path) as f:
            with zipfile.ZipFile(f) as zf:
                infos = zf.infolist()
    except GlassnetError as exc:      # not a regular file, or missing: say it as this kind
        refuse(str(exc).split(": ", 1)[-1])
    except _DAMAGE:
        return                        # not a zip: NumPy's own reading says what it is
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        refuse(f"it holds the member(s) {twice[:5]} more than once (which copy would be "
               "meant?).")
    total = sum(info.file_size for info in infos)
    if total > limit + NPY_HEADER_ROOM * len(infos):
        refuse(f"its members would inflate to {total:,} bytes, more than the limit of "
               f"{limit:,} bytes. If the file is what you expect, raise the limit: "
               f"max_bytes=..., ${MAX_BYTES_ENV} or --max-model-bytes.")


def _read_header(path: Path, f, check_metadata: bool = True) -> tuple[dict, zipfile.ZipFile]:
    """(header, open ZipFile) of the model file open as ``f``; the header checked in full."""
    head = f.read(4)
    if not head:
        _fail(path, "the file is empty.")
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
        names = [info.filename for info in zf.infolist()]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            _fail(path, f"it holds the member(s) {twice[:5]} more than once; a model file names "
                        "each member once (which copy would be meant?).")
        if METADATA_MEMBER not in names:
            _fail(path, f"it has no {METADATA_MEMBER}, so it is not a glassnet model file "
                        "(a plain .npz of arrays?).")
        size = zf.getinfo(METADATA_MEMBER).file_size
        if size > MAX_METADATA_BYTES:
            _fail(path, f"its {METADATA_MEMBER} would inflate to {size:,} bytes (more than "
                        f"{MAX_METADATA_BYTES:,}): damaged or hostile, not read.")
        raw = zf.read(METADATA_MEMBER)
    except _DAMAGE as exc:
        if head == b"PK\x03\x04":
            _fail(path, f"the file is truncated or corrupted ({exc}).")
        _fail(path, "it is not a glassnet model file (not an .npz/zip archive).")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(path, f"{METADATA_MEMBER} is not valid JSON ({exc}).")
    except RecursionError:
        _fail(path, f"{METADATA_MEMBER} nests lists or objects too deeply to read.")
    _check_header(path, header, check_metadata)
    return header, zf


def _check_header(path, header, check_metadata: bool = True) -> None:
    """Format and version first (a foreign file is named as such), then the whole schema,
    then what the schema cannot say: shapes follow from layer_sizes."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        got = header.get("format") if isinstance(header, dict) else None
        _fail(path, f"its metadata names format {got!r:.80}, not {FORMAT!r}: not a glassnet "
                    "model file.")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        _fail(path, f"its format_version is {version!r:.80}; expected a positive integer.")
    if version > FORMAT_VERSION:
        _fail(path, f"it was written in model format version {version} (by glassnet "
                    f"{str(header.get('glassnet_version', '?'))[:40]}), newer than this "
                    f"glassnet reads (up to {FORMAT_VERSION}); upgrade glassnet to load it.")
    if _schema.depth(header) > _schema.MAX_DEPTH:
        _fail(path, f"its {METADATA_MEMBER} nests lists or objects more than "
                    f"{_schema.MAX_DEPTH} levels deep; glassnet's metadata never does.")
    try:
        if check_metadata:
            _schemas().check(header, "")
        else:
            _schemas().check(dict(header, metadata=None), "")
    except _schema.SchemaError as exc:
        _fail(path, f"in its {METADATA_MEMBER}, {exc} (Hand-edited?)")
    _check_architecture(path, header, check_metadata)


def _check_architecture(path, header: dict, check_metadata: bool = True) -> None:
    """What the schema cannot say: counts and shapes that follow from layer_sizes."""
    net = header["network"]
    sizes = net["layer_sizes"]
    n_layers = len(sizes) - 1
    acts = net["activations"]
    if len(acts) != n_layers - 1:
        _fail(path, f"it lists {len(acts)} hidden activations, but layer_sizes {_short(sizes)} "
                    f"has {n_layers - 1} hidden layers.")
    init = net.get("init")
    if init is not None and len(init) != n_layers:
        _fail(path, f"its init list has {len(init)} entries; expected one per layer "
                    f"({n_layers}).")
    arrays = header["arrays"]
    for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name, shape in ((f"weights_{l}", [fi, fo]), (f"biases_{l}", [fo])):
            entry = arrays.get(name)
            if entry is None or entry["shape"] != shape:
                listed = None if entry is None else tuple(entry["shape"])
                _fail(path, f"layer {l + 1} is {fi} -> {fo} units by layer_sizes "
                            f"{_short(sizes)}, so {name} should have shape {tuple(shape)}, but "
                            f"the metadata lists {listed}: metadata and arrays disagree "
                            "(hand-edited?).")
    meta = header.get("metadata") if check_metadata else None
    meta = meta or {}
    n_in = sizes[0]
    for key in ("feature_names",):
        if meta.get(key) is not None and len(meta[key]) != n_in:
            _fail(path, f"its metadata.{key} lists {len(meta[key])} names, but the network "
                        f"has {n_in} inputs.")
    scaling = meta.get("scaling")
    if scaling is not None and not len(scaling["mean"]) == len(scaling["std"]) == n_in:
        _fail(path, f"its metadata.scaling has {len(scaling['mean'])} means and "
                    f"{len(scaling['std'])} stds; the network has {n_in} inputs.")


def _short(sizes) -> str:
    return echo(sizes, 120)


def _n_params(sizes) -> int:
    return sum(fi * fo + fo for fi, fo in zip(sizes[:-1], sizes[1:]))


def load(path, *, max_bytes=None):
    """Read a model file written by :func:`save` (or ``Network.save``); returns the Network.

    The network comes back with its weights, architecture, init specs, seed and generator
    state (so further training continues as it would have), and ``net.metadata``.  A
    damaged, truncated, hand-edited or foreign file raises GlassnetError naming the file
    and the problem; object arrays (pickles) are refused, never executed.

    Memory is bounded by what the metadata says: every member must fit the size its
    ``layer_sizes`` allow before it is inflated, and arrays go straight into the network's
    parameter buffer, so a model needs about the memory of its arrays.  ``max_bytes``
    (default :data:`DEFAULT_MAX_MODEL_BYTES`, 4 GiB, or ``$GLASSNET_MAX_MODEL_BYTES``) caps
    the parameters' size; raise it to load a bigger model.
    """
    return _load(path, max_bytes)[0]


def _load(path, max_bytes=None):
    """(network, header) from one reading of the file."""
    path = _as_path(path)
    limit = max_model_bytes(max_bytes)
    with _open_regular(path) as f:
        header, zf = _read_header(path, f)
        arch = header["network"]
        sizes = arch["layer_sizes"]
        need = _n_params(sizes) * np.dtype(arch["dtype"]).itemsize
        if need > limit:
            _fail(path, f"its layer_sizes {_short(sizes)} hold {_n_params(sizes):,} parameters "
                        f"({need:,} bytes in {arch['dtype']}), more than the limit of "
                        f"{limit:,} bytes. If the file is what you expect, raise the limit: "
                        f"load(..., max_bytes=...), ${MAX_BYTES_ENV} or --max-model-bytes.")
        net = _build(path, arch)
        members = {info.filename: info for info in zf.infolist()}
        for kind, views in (("weights", net.weights), ("biases", net.biases)):
            for l in range(net.n_layers):
                name = f"{kind}_{l}"
                info = members.get(name + ".npy")
                if info is None:
                    _fail(path, f"the array {name} (layer {l + 1}) is missing.")
                _read_member(path, zf, info, name, views[l])
    net.metadata = dict(header.get("metadata") or {})
    return net, header


def _read_member(path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                 dest: np.ndarray) -> None:
    """Check the ``.npy`` member ``name`` and read it into ``dest`` (a view of the network's
    parameters), never holding more than a chunk besides.

    Before anything is inflated the member's declared size must fit ``dest`` (at most 16
    bytes a number plus the header); the header must then describe real numbers of
    ``dest``'s shape, and the member hold exactly that many bytes (zipfile stops at the
    declared size and checks the CRC at the end, so nothing more is ever inflated).
    """
    shape = dest.shape
    if info.file_size > dest.size * 16 + NPY_HEADER_ROOM:
        _fail(path, f"the array {name} would inflate to {info.file_size:,} bytes, but "
                    f"layer_sizes make it {shape} ({dest.size:,} numbers): damaged or hostile, "
                    "not read.")
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            found, fortran, dtype = read(f)
            if dtype.hasobject:
                _fail(path, f"the array {name} holds Python objects (a pickle); glassnet "
                            "refuses to load pickled data, which could run arbitrary code.")
            if dtype.kind not in "biuf":
                _fail(path, f"the array {name} has dtype {dtype}; expected real numbers.")
            if tuple(found) != tuple(shape):
                _fail(path, f"the array {name} has shape {tuple(found)}, but the metadata's "
                            f"layer_sizes make it {tuple(shape)}: metadata and arrays disagree "
                            "(hand-edited?).")
            data_bytes = dest.size * dtype.itemsize
            if info.file_size != f.tell() + data_bytes:
                _fail(path, f"the array {name} holds {info.file_size - f.tell():,} bytes of "
                            f"data; its header promises {data_bytes:,}: damaged.")
            flat = dest.reshape(-1) if not fortran else np.empty(dest.size, dest.dtype)
            step = max(_READ_CHUNK // dtype.itemsize, 1)
            for start in range(0, dest.size, step):
                count = min(step, dest.size - start)
                chunk = f.read(count * dtype.itemsize)
                if len(chunk) != count * dtype.itemsize:
                    raise EOFError(f"{name} ends early")
                flat[start:start + count] = np.frombuffer(chunk, dtype)
            if fortran:
                dest[...] = flat.reshape(shape, order="F")
    except GlassnetError:
        raise
    except (*_DAMAGE, ValueError, SyntaxError) as exc:
        _fail(path, f"the array {name} is truncated or corrupted ({exc}).")


def _build(path, arch: dict):
    """A Network with the saved architecture (weights filled in by the caller)."""
    sizes = arch["layer_sizes"]
    init = arch.get("init")
    init = [_init_spec_from_json(s) for s in init] if init is not None else None
    bias_init = _init_spec_from_json(arch.get("bias_init"))
    seed = arch.get("seed")
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else None
    try:
        hidden = [_act.from_spec(s) for s in arch["activations"]]
        output = _act.from_spec(arch["output"])
        with warnings.catch_warnings():
            # the saved weights replace the drawn ones: a symmetric *init* is not news here
            warnings.simplefilter("ignore", SymmetryWarning)
            if arch.get("class") == "Neuro" and isinstance(arch.get("neuro"), dict):
                extra = arch["neuro"]
                net = Neuro(sizes, extra.get("learning_rate", 0.1), hidden + [output],
                            init=init,
                            bias_init=bias_init, seed=seed, dtype=arch["dtype"],
                            quiet=bool(extra.get("quiet", False)))
            else:
                net = Network(sizes, activation=hidden, output=output, loss=arch["loss"],
                              init=init, bias_init=bias_init, seed=seed, dtype=arch["dtype"])
    except GlassnetError as exc:
        _fail(path, f"its architecture is invalid: {exc}")
    if net.loss.name != arch["loss"]:
        _fail(path, f"its loss {arch['loss']!r} does not match its output "
                    f"{arch['output']!r} (the network resolved loss {net.loss.name!r}).")
    state = arch.get("rng_state")
    if isinstance(state, dict):
        try:
            net.rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError):
            _fail(path, "its generator state (rng_state) is damaged.")
    net.needs_data_init = bool(arch.get("needs_data_init", False))
    return net


def describe(path, *, max_bytes=None) -> dict:
    """What ``glassnet info`` prints, as a dict: header fields plus parameter statistics."""
    net, header = _load(path, max_bytes)
    finite = bool(np.all(np.isfinite(net.params)))
    layers = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        layers.append({
            "layer": l + 1, "fan_in": W.shape[0], "fan_out": W.shape[1],
            "activation": net.activations[l].name,
            "init": _describe_init(header["network"].get("init"), l, net.activations[l]),
            "parameters": int(W.size + b.size),
            "weight_std": float(np.std(W)) if np.all(np.isfinite(W)) else math.nan,
        })
    return {"header": header, "layers": layers, "n_parameters": int(net.params.size),
            "finite": finite, "is_classifier": net.is_classifier}


def _describe_init(init, l: int, activation) -> str:
    spec = None if init is None else init[l]
    if spec is None:   # the scheme that suits the activation, as Network picks it
        return f"default ({resolve(None, activation).name})"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and "custom" in spec:
        return f"custom ({spec['custom']})"
    if isinstance(spec, dict):
        params = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
        return f"{spec.get('name')}({params})" if params else str(spec.get("name"))
    return str(spec)
