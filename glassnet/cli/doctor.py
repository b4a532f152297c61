"""``glassnet doctor MODEL DATA.csv --target COLUMN``: why a model is not learning.

MODEL is a glassnet model file (``glassnet train``, ``Network.save``) or a ``.npz`` archive
of weight and bias arrays (give ``--activation``; see :data:`glassnet.convert.NPZ_LAYOUTS`).
A model file's stored feature names, class labels and input (and target) scaling are
applied to the data first, as ``glassnet predict`` does, and its training optimizer,
learning rate and batch size are the probe's defaults.  The report is printed as tables
(``--json``: the report's dict as JSON); the exit status is 1 when an error-level finding
exists, so the command can gate a CI job, and 2 for bad input.
"""
from __future__ import annotations

import argparse
import json
import zipfile

import numpy as np

from .. import data as D
from .._validation import GlassnetError
from ..convert import from_npz
from ..doctor import diagnose
from ..io import METADATA_MEMBER, load
from . import add_max_bytes_option, column_names

HELP = "Diagnose why a model is not learning: the cause and the fix (exit 1 on errors)."


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="a glassnet model file, or a .npz of weight and bias arrays "
                        "(with --activation)")
    p.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    p.add_argument("--target", type=column_names, default=None, metavar="COLUMN",
                   help="the target column (several, comma-separated, for several outputs; "
                        "default: the model file's target)")
    p.add_argument("--features", type=column_names, default=None, metavar="A,B,...",
                   help="feature columns (default: the model's, else every other column)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--activation", default=None, metavar="NAME",
                   help=".npz models: the hidden activation (e.g. sigmoid, relu)")
    p.add_argument("--output", default=None, metavar="NAME",
                   help=".npz models: the output activation (default: softmax for several "
                        "outputs, sigmoid for one)")
    p.add_argument("--loss", default=None, metavar="NAME",
                   help=".npz models: the loss (default: the one that pairs with the output)")
    p.add_argument("--steps", type=int, default=100, metavar="N",
                   help="probe steps on a copy of the model (default 100; 0 only inspects)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="probe batch size (default: the model's training batch size, or 32)")
    p.add_argument("--optimizer", default=None, metavar="NAME",
                   help="probe optimizer (default: the model's training optimizer, or sgd)")
    p.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                   help="probe learning rate (default: the model's, or the optimizer's)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the probe (default 0)")
    p.add_argument("--sep", default=",", help="CSV field separator (default ',')")
    add_max_bytes_option(p)


def _is_model_file(path: str) -> bool:
    """A glassnet model file is a zip holding metadata.json; a plain .npz is not."""
    try:
        with zipfile.ZipFile(path) as zf:
            return METADATA_MEMBER in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load_model(args):
    """(network, metadata) from MODEL: a glassnet model file or a .npz of weights."""
    import os


    if not os.path.exists(args.model):
        raise GlassnetError(f"model file {args.model!r} does not exist.")
    if not os.path.isfile(args.model):       # a folder, a device, a pipe: load says why
        load(args.model, max_bytes=args.max_model_bytes)
    if _is_model_file(args.model):
        given = [f"--{n}" for n in ("activation", "output", "loss") if getattr(args, n)]
        if given:
            raise GlassnetError(f"{' and '.join(given)} only apply to .npz weight files; "
                                f"{args.model!r} is a glassnet model file that names its own "
                                "activations and loss.")
        net = load(args.model, max_bytes=args.max_model_bytes)
        return net, dict(net.metadata or {})
    net = from_npz(args.model, activation=args.activation, output=args.output, loss=args.loss,
                   max_bytes=args.max_model_bytes)
    return net, {}


def _targets(net, meta, frame, targets, where):
    """The target column(s) as what the network trains on: class indices or values."""

    for t in targets:
        D.check_target_column(frame, t, where)
    if len(targets) > 1:
        values = [D.target_values(frame, t, where) for t in targets]
        for t, v in zip(targets, values):
            if v.dtype.kind not in "biuf":
                raise GlassnetError(f"{where}: target column {t!r} must be numeric when several "
                                    "target columns are given.")
        return np.column_stack([v.astype(np.float64) for v in values]), None
    raw = D.target_values(frame, targets[0], where)
    # one column for several outputs holds class labels (one-hot rows), whatever the loss:
    # a seed-style Neuro trains sigmoid outputs on squared error
    if not (net.is_classifier or net.layer_sizes[-1] > 1):
        if raw.dtype.kind not in "biuf":
            raise GlassnetError(f"{where}: the model is a regressor, but the target column "
                                f"{targets[0]!r} holds text such as {str(raw[0])!r}.")
        y = raw.astype(np.float64)
        scaling = meta.get("target_scaling")
        if scaling:
            y = (y - float(scaling["mean"])) / float(scaling["std"])
            return y, "targets standardized with the model's stored target scaling"
        return y, None
    classes = meta.get("classes")
    k = net.n_classes or net.layer_sizes[-1]
    if classes:   # checked here to name the file; diagnose maps them by the same classes
        D.class_codes(raw, classes, f"{where}: the target column {targets[0]!r}")
        return raw, None
    codes, labels = D.encode_labels(raw)
    if raw.dtype.kind in "iu" and raw.min() >= 0 and raw.max() < k:
        return raw.astype(np.int64), None          # already class indices 0..k-1
    if len(labels) != k:
        raise GlassnetError(f"{where}: the target column {targets[0]!r} has {len(labels)} "
                            f"distinct labels but the model has {k} classes, and the model "
                            "stores no class labels to match them with.")
    return codes, (f"labels {labels[:10]} mapped to classes 0..{k - 1} in sorted order (the "
                   "model stores no class labels)")


def run(args) -> int:

    if args.steps < 0:
        raise GlassnetError(f"--steps must be >= 0; got {args.steps}.")
    if args.batch_size is not None and args.batch_size < 1:
        raise GlassnetError(f"--batch-size must be at least 1; got {args.batch_size}.")
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise GlassnetError(f"--learning-rate must be > 0; got {args.learning_rate}.")
    net, meta = load_model(args)
    where = args.data
    frame = D.read_csv(args.data, sep=args.sep)
    targets = args.target or ([meta["target_name"]] if meta.get("target_name") else None)
    if not targets:
        raise GlassnetError("--target COLUMN is required: the model does not name its target "
                            "column.")
    for t in targets:
        D.check_target_column(frame, t, where)
    notes = []
    features = args.features or meta.get("feature_names")
    if features:
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise GlassnetError(f"{where}: the model's feature column(s) "
                                f"{D.quote_names(missing)} are not in the file. The columns "
                                f"are: {D.quote_names(list(frame.columns), 30)}.")
        clash = [t for t in targets if t in features]
        if clash:
            raise GlassnetError(f"{where}: the target column {clash[0]!r} is also a feature.")
    else:
        features = [str(c) for c in frame.columns if c not in targets]
    if len(features) != net.layer_sizes[0]:
        raise GlassnetError(f"{where}: {len(features)} feature columns "
                            f"({D.quote_names(features)}) but the model expects "
                            f"{net.layer_sizes[0]} inputs.")
    X = D.feature_matrix(frame, features, where)
    scaling = meta.get("scaling")
    if scaling:
        X = D.Standardizer.from_dict(scaling, X.shape[1]).transform(X)
        notes.append("features standardized with the model's stored scaling")
    y, note = _targets(net, meta, frame, targets, where)
    if note:
        notes.append(note)
    training = meta.get("training") or {}
    optimizer = args.optimizer or training.get("optimizer")    # None: sgd (a Neuro's own step)
    lr = args.learning_rate
    if lr is None and args.optimizer is None and isinstance(training.get("learning_rate"),
                                                             (int, float)):
        lr = float(training["learning_rate"])
    batch_size = args.batch_size or int(training.get("batch_size") or 32)
    report = diagnose(net, X, y, optimizer=optimizer, learning_rate=lr, batch_size=batch_size,
                      steps=args.steps, seed=args.seed, feature_names=features)
    report.context["model"] = args.model
    report.context["data"] = args.data
    report.context["target"] = targets if len(targets) > 1 else targets[0]
    if notes:
        report.context["notes"] = notes
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        _print_rich(report, notes)
    return 1 if report.errors else 0


def _print_rich(report, notes) -> None:
    try:
        from rich.console import Console
    except ImportError:  # pragma: no cover - rich is part of the cli extra
        print(report)
        return
    console = Console() if Console().is_terminal else Console(width=120)
    console.print(report)
    for note in notes:
        console.print(f"[dim]note: {note}[/]")
