"""Training checkpoints: everything needed to resume a run and end bit-identical.

``fit(net, X, y, checkpoint="run.ckpt", checkpoint_every=5)`` writes a checkpoint every 5
epochs, when training ends, and when Ctrl-C stops it (then at the exact batch).  Running
the same call again resumes from it (``resume="auto"``, the default) and ends with the same
weights, optimizer state, random generator state and history as a run never interrupted.

A checkpoint is an ``.npz`` archive read with ``allow_pickle=False`` (it can never run
code)::

    meta.json      format and version, the architecture, the training settings, the data's
                   fingerprint, the random generator state (``net.rng.bit_generator.state``),
                   the history, the position (epoch, batch, step, running loss)
    params         the flat parameter buffer
    opt_0 ...      the optimizer state's arrays and counters, in a fixed order
    order          the current epoch's shuffled row order (mid-epoch checkpoints only)
    val_index      the rows held out by validation_split
    cb0.best_params ...  arrays of callbacks that keep state (early stopping's best weights)

Writes are atomic (a temporary file in the same folder, fsync, ``os.replace``), so a run
killed while writing leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Any, NamedTuple

import numpy as np

from ._validation import GlassnetError
from .io import atomic_write, check_archive

FORMAT = "glassnet-checkpoint"
VERSION = 1


class Checkpoint(NamedTuple):
    """A loaded checkpoint: ``meta`` (the JSON part) and its arrays."""

    meta: dict
    params: np.ndarray
    opt_leaves: list
    order: np.ndarray | None
    val_index: np.ndarray | None
    callbacks: list          # per stateful callback: its state dict (arrays included)


def _leaf_kind(value) -> str:
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    return "float"


def save(path, *, meta: dict, params: np.ndarray, opt_leaves: list,
         order: np.ndarray | None = None, val_index: np.ndarray | None = None,
         callbacks: list | None = None) -> None:
    """Write a checkpoint atomically; ``meta`` must be JSON-ready (NaN allowed)."""
    arrays: dict[str, np.ndarray] = {"params": params}
    kinds = []
    for i, leaf in enumerate(opt_leaves):
        kinds.append(_leaf_kind(leaf))
        arrays[f"opt_{i}"] = np.asarray(leaf)
    if order is not None:
        arrays["order"] = order
    if val_index is not None:
        arrays["val_index"] = val_index
    cb_meta = []
    for i, state in enumerate(callbacks or []):
        if state is None:
            cb_meta.append(None)
            continue
        scalars, names = {}, []
        for key, value in state.items():
            if key == "class":
                continue
            if isinstance(value, np.ndarray):
                arrays[f"cb{i}.{key}"] = value
                names.append(key)
            else:
                scalars[key] = value
        cb_meta.append({"class": state.get("class"), "scalars": scalars, "arrays": names})
    meta = dict(meta, format=FORMAT, version=VERSION, opt_kinds=kinds, callbacks=cb_meta)
    arrays["meta.json"] = np.array(json.dumps(meta))
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def load(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save`; a damaged or foreign file gives a clear error."""
    where = os.fspath(path)
    if not os.path.exists(where):
        raise GlassnetError(f"checkpoint {where!r} does not exist.")
    check_archive(where, what="checkpoint")
    try:
        with np.load(where, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise GlassnetError(f"checkpoint {where!r} cannot be read ({type(exc).__name__}: {exc}); "
                            "it is damaged or not a glassnet checkpoint. Delete it or pass "
                            "resume=False to start over.") from None
    try:
        meta = json.loads(str(arrays["meta.json"]))
    except (KeyError, ValueError):
        raise GlassnetError(f"checkpoint {where!r} has no readable meta.json: it is not a "
                            "glassnet checkpoint.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GlassnetError(f"checkpoint {where!r} is not a glassnet checkpoint (format "
                            f"{meta.get('format') if isinstance(meta, dict) else None!r}).")
    if meta.get("version") != VERSION:
        raise GlassnetError(f"checkpoint {where!r} has format version {meta.get('version')!r}; "
                            f"this glassnet reads version {VERSION}.")
    try:
        kinds = meta["opt_kinds"]
        leaves: list[Any] = []
        for i, kind in enumerate(kinds):
            value = arrays[f"opt_{i}"]
            leaves.append(value if kind == "array" else
                          bool(value) if kind == "bool" else
                          int(value) if kind == "int" else float(value))
        callbacks = []
        for i, entry in enumerate(meta["callbacks"]):
            if entry is None:
                callbacks.append(None)
                continue
            state = dict(entry["scalars"], **{k: arrays[f"cb{i}.{k}"] for k in entry["arrays"]})
            state["class"] = entry["class"]
            callbacks.append(state)
        params = arrays["params"]
    except (KeyError, TypeError, ValueError) as exc:
        raise GlassnetError(f"checkpoint {where!r} is incomplete (missing {exc}); it is damaged. "
                            "Delete it or pass resume=False to start over.") from None
    return Checkpoint(meta, params, leaves, arrays.get("order"), arrays.get("val_index"),
                      callbacks)


#: data up to this size is hashed whole (SHA-256 reads about 1 GB/s); larger data is
#: hashed by FINGERPRINT_SAMPLE_ROWS rows spread evenly over it, plus its shape and sums
FINGERPRINT_FULL_BYTES = 256 << 20
FINGERPRINT_SAMPLE_ROWS = 65536


def fingerprint(X: np.ndarray, Y: np.ndarray, sw: np.ndarray | None) -> dict:
    """The identity of the training data: shapes, float64 sums and a SHA-256 of the bytes.

    Data of the same shape and sums but other values (rows shuffled against their targets,
    two values swapped) gets another ``sha256``, so a checkpoint never resumes on it.

    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]]); Y = np.array([[0.0], [1.0]])
    >>> a, b = fingerprint(X, Y, None), fingerprint(X[::-1], Y, None)
    >>> a["x_sum"] == b["x_sum"], a["sha256"] == b["sha256"]
    (True, False)
    """
    import hashlib
    digest = hashlib.sha256()
    sampled = False
    for name, a in (("X", X), ("Y", Y), ("sample_weight", sw)):
        digest.update(name.encode())
        if a is None:
            continue
        a = np.asarray(a)
        if a.nbytes > FINGERPRINT_FULL_BYTES and a.shape[0] > FINGERPRINT_SAMPLE_ROWS:
            a = a[np.linspace(0, a.shape[0] - 1, FINGERPRINT_SAMPLE_ROWS).astype(np.int64)]
            sampled = True
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(memoryview(a).cast("B"))
    return {"shape": list(X.shape), "n_outputs": int(Y.shape[1]),
            "x_sum": float(np.sum(X, dtype=np.float64)),
            "y_sum": float(np.sum(Y, dtype=np.float64)),
            "w_sum": None if sw is None else float(np.sum(sw, dtype=np.float64)),
            "sha256": digest.hexdigest(), "sampled": sampled}


def same_data(old: dict | None, new: dict | None) -> bool:
    """Whether two fingerprints name the same data; a fingerprint from before the hash
    (no ``sha256``) is compared on the fields it has."""
    if old is None or new is None:
        return old is new
    return all(new.get(k) == v for k, v in old.items())
