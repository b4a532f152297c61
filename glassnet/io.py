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
import json
import math
import os
import struct
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import activations as _act
from . import initializers as _init
from ._validation import GlassnetError
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

@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None) -> Iterator[Any]:
    """Open a temporary file next to ``path``; on success fsync it and move it over ``path``.

    If the block raises (or the process dies), ``path`` keeps its previous content and the
    temporary file is removed (or, after a hard kill, left as ``.NAME.*.tmp``).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("hello")
    >>> with open(p) as f:
    ...     f.read()
    'hello'
    """
    path = _as_path(path, "file")
    folder = path.parent
    if not folder.is_dir():
        raise GlassnetError(f"Cannot write {str(path)!r}: the folder {str(folder)!r} does not "
                            "exist.")
    if path.is_dir():
        raise GlassnetError(f"Cannot write {str(path)!r}: it is a folder, not a file.")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:   # a read-only folder, no permission, no space
        raise GlassnetError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.") from None
    try:
        with os.fdopen(fd, mode, encoding=encoding,
                       **({} if "b" in mode else {"newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


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


def read_header(path) -> dict:
    """The checked metadata of a model file (format, architecture, user metadata), no arrays."""
    path = _as_path(path)
    if not path.exists():
        _fail(path, "no such file.")
    if path.is_dir():
        _fail(path, "it is a folder, not a model file.")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        _fail(path, f"it cannot be read ({exc.strerror or exc}).")
    if not head:
        _fail(path, "the file is empty.")
    try:
        with zipfile.ZipFile(path) as zf:
            if METADATA_MEMBER not in zf.namelist():
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
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        got = header.get("format") if isinstance(header, dict) else None
        _fail(path, f"its metadata names format {got!r}, not {FORMAT!r}: not a glassnet model "
                    "file.")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        _fail(path, f"its format_version is {version!r}; expected a positive integer.")
    if version > FORMAT_VERSION:
        _fail(path, f"it was written in model format version {version} (by glassnet "
                    f"{header.get('glassnet_version', '?')}), newer than this glassnet reads "
                    f"(up to {FORMAT_VERSION}); upgrade glassnet to load it.")
    _check_architecture(path, header)
    return header


def _check_architecture(path, header: dict) -> None:
    """Every field load needs, with its type; shapes must follow from layer_sizes."""
    net = header.get("network")
    if not isinstance(net, dict):
        _fail(path, "its metadata has no 'network' section.")
    sizes = net.get("layer_sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
        _fail(path, f"its layer_sizes {sizes!r} are not a list of at least two positive integers.")
    n_layers = len(sizes) - 1
    acts = net.get("activations")
    if not isinstance(acts, list) or len(acts) != n_layers - 1:
        _fail(path, f"it lists {len(acts) if isinstance(acts, list) else acts!r} hidden "
                    f"activations, but layer_sizes {sizes} has {n_layers - 1} hidden layers.")
    for key in ("loss", "dtype"):
        if not isinstance(net.get(key), str):
            _fail(path, f"its network {key!r} is {net.get(key)!r}; expected a name.")
    if net["dtype"] not in ("float32", "float64"):
        _fail(path, f"its dtype {net['dtype']!r} is not 'float32' or 'float64'.")
    if "output" not in net:
        _fail(path, "its network has no 'output' activation.")
    # optional fields: absent (or null) is fine, anything else must have the right type
    seed = net.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        _fail(path, f"its seed {seed!r} is not a non-negative integer (or null).")
    for key, kind, expected in (("rng_state", dict, "a generator state object"),
                                ("needs_data_init", bool, "true or false"),
                                ("neuro", dict, "an object")):
        if net.get(key) is not None and not isinstance(net[key], kind):
            _fail(path, f"its {key} {net[key]!r:.60} is not {expected}.")
    init = net.get("init")
    if init is not None and (not isinstance(init, list) or len(init) != n_layers):
        _fail(path, f"its init list has {len(init) if isinstance(init, list) else init!r} "
                    f"entries; expected one per layer ({n_layers}).")
    arrays = header.get("arrays")
    if not isinstance(arrays, dict):
        _fail(path, "its metadata has no 'arrays' section.")
    for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name, shape in ((f"weights_{l}", [fi, fo]), (f"biases_{l}", [fo])):
            entry = arrays.get(name)
            if not isinstance(entry, dict) or entry.get("shape") != shape:
                listed = entry.get("shape") if isinstance(entry, dict) else None
                _fail(path, f"layer {l + 1} is {fi} -> {fo} units by layer_sizes {sizes}, so "
                            f"{name} should have shape {tuple(shape)}, but the metadata lists "
                            f"{None if listed is None else tuple(listed)}: metadata and arrays "
                            "disagree (hand-edited?).")
    if not isinstance(header.get("metadata", {}), dict):
        _fail(path, "its user 'metadata' is not a JSON object.")


def load(path):
    """Read a model file written by :func:`save` (or ``Network.save``); returns the Network.

    The network comes back with its weights, architecture, init specs, seed and generator
    state (so further training continues as it would have), and ``net.metadata``.  A
    damaged, truncated, hand-edited or foreign file raises GlassnetError naming the file
    and the problem; object arrays (pickles) are refused, never executed.
    """
    path = _as_path(path)
    header = read_header(path)
    arch = header["network"]
    sizes = arch["layer_sizes"]
    n_layers = len(sizes) - 1
    values = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            members = set(npz.files)
            for kind in ("weights", "biases"):
                for l in range(n_layers):
                    name = f"{kind}_{l}"
                    if name not in members:
                        _fail(path, f"the array {name} (layer {l + 1}) is missing.")
                    _check_member(path, npz, name, (sizes[l], sizes[l + 1])
                                  if kind == "weights" else (sizes[l + 1],))
                    values[name] = _read_array(path, npz, name)
    except GlassnetError:
        raise
    except (*_DAMAGE, ValueError) as exc:
        _fail(path, f"the file is truncated or corrupted ({exc}).")
    net = _build(path, arch)
    for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        for kind, views, shape in (("weights", net.weights, (fi, fo)),
                                   ("biases", net.biases, (fo,))):
            arr = values[f"{kind}_{l}"]
            if arr.shape != shape:
                _fail(path, f"{kind}_{l} has shape {arr.shape}, but layer {l + 1} is {fi} -> "
                            f"{fo} units by layer_sizes {sizes}, so it should be {shape}: "
                            "metadata and arrays disagree (hand-edited?).")
            # straight into the parameter buffer: a diverged (NaN) model still loads, so
            # that it can be inspected
            views[l][...] = arr
    net.metadata = dict(header.get("metadata") or {})
    return net


def _check_member(path, npz, name: str, shape: tuple) -> None:
    """Read only the ``.npy`` header of ``name``: refuse pickles, non-numbers and wrong
    shapes before any data is read (a hostile header may promise terabytes)."""
    try:
        with npz.zip.open(name + ".npy") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            found, _, dtype = read(f)
    except KeyError:
        _fail(path, f"the member {name} is not an .npy array.")
    except (*_DAMAGE, ValueError, SyntaxError) as exc:
        _fail(path, f"the array {name} is truncated or corrupted ({exc}).")
    if dtype.hasobject:
        _fail(path, f"the array {name} holds Python objects (a pickle); glassnet refuses "
                    "to load pickled data, which could run arbitrary code.")
    if dtype.kind not in "biuf":
        _fail(path, f"the array {name} has dtype {dtype}; expected real numbers.")
    if tuple(found) != tuple(shape):
        _fail(path, f"the array {name} has shape {tuple(found)}, but the metadata's "
                    f"layer_sizes make it {tuple(shape)}: metadata and arrays disagree "
                    "(hand-edited?).")


def _read_array(path, npz, name: str) -> np.ndarray:
    try:
        arr = npz[name]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            _fail(path, f"the array {name} holds Python objects (a pickle); glassnet refuses "
                        "to load pickled data, which could run arbitrary code.")
        raise
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        kind = getattr(arr, "dtype", type(arr).__name__)
        _fail(path, f"the array {name} has dtype {kind}; expected real numbers.")
    return arr


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


def describe(path) -> dict:
    """What ``glassnet info`` prints, as a dict: header fields plus parameter statistics."""
    header = read_header(path)
    net = load(path)
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
