"""``glassnet info MODEL``: what a model file holds, without running it.

Architecture (layer by layer: sizes, activation, init, parameter count), loss and output,
dtype, seed, the task, target, class labels, feature names and input scaling, how it was
trained, and which glassnet wrote it in which format version.  ``--json`` prints the
file's metadata as JSON instead.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from .. import backend as _backend
from .._validation import GlassnetError
from ..io import _n_params, describe, read_header
from . import add_max_bytes_option

HELP = "Describe a model file: architecture, classes, features, scaling, version."


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model file from glassnet train or "
                                                  "Network.save")
    p.add_argument("--json", action="store_true",
                   help="print the metadata as JSON (a hand-edited user metadata section is "
                        "shown as it is, with a warning)")
    add_max_bytes_option(p)


def _short(values, limit: int = 8) -> str:
    values = list(values)
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    if args.json:
        return _print_json(args)
    info = describe(args.model, max_bytes=args.max_model_bytes)
    header = info["header"]
    console = Console() if Console().is_terminal else Console(width=120)
    net = header["network"]
    meta = header.get("metadata") or {}
    console.print(f"[bold]{args.model}[/]: glassnet model (format {header['format']} "
                  f"v{header['format_version']}, written by glassnet "
                  f"{header.get('glassnet_version', '?')} on {header.get('created', '?')})")
    layers = Table(title="Architecture", header_style="bold")
    for col, justify in (("layer", "right"), ("units", "left"), ("activation", "left"),
                         ("init", "left"), ("parameters", "right"), ("weight std", "right")):
        layers.add_column(col, justify=justify)
    n = len(info["layers"])
    for row in info["layers"]:
        kind = "output" if row["layer"] == n else "hidden"
        std = row["weight_std"]
        layers.add_row(f"{row['layer']} ({kind})", f"{row['fan_in']} -> {row['fan_out']}",
                       row["activation"], row["init"], f"{row['parameters']:,}",
                       "non-finite" if math.isnan(std) else f"{std:.3g}")
    console.print(layers)
    facts = [
        ("layer sizes", str(net["layer_sizes"])),
        ("loss / output", f"{net['loss']} / {_act_name(net['output'])}"),
        ("parameters", f"{info['n_parameters']:,}"
                       + ("" if info["finite"] else "  [red](some are NaN or inf)[/]")),
        ("dtype", net["dtype"]),
        ("seed", str(net.get("seed"))),
    ]
    if net.get("class", "Network") != "Network":
        extra = net.get("neuro") or {}
        facts.append(("class", net["class"] + "".join(f", {k} {v}" for k, v in extra.items())))
    if net.get("bias_init") is not None:
        facts.append(("bias init", str(net["bias_init"])))
    if meta.get("task"):
        facts.append(("task", meta["task"]))
    if meta.get("target_name") is not None:
        facts.append(("target", str(meta["target_name"])))
    if meta.get("classes") is not None:
        facts.append(("classes", f"{len(meta['classes'])}: {_short(meta['classes'], 12)}"))
    if meta.get("feature_names") is not None:
        facts.append(("features", f"{len(meta['feature_names'])}: {_short(meta['feature_names'], 12)}"))
    scaling = meta.get("scaling")
    if scaling:
        facts.append(("input scaling", "standardised, (x - mean) / std per feature"))
    elif "scaling" in meta:
        facts.append(("input scaling", "none (features used as they are)"))
    if meta.get("target_scaling"):
        ts = meta["target_scaling"]
        facts.append(("target scaling", f"mean {ts['mean']:.4g}, std {ts['std']:.4g}"))
    training = meta.get("training")
    if isinstance(training, dict):
        facts.append(("trained on", f"{training.get('data')} ({training.get('training_rows')} "
                                    f"rows, {training.get('validation_rows')} held out)"))
        facts.append(("training", f"{training.get('epochs')} epochs, {training.get('optimizer')} "
                                  f"lr {training.get('learning_rate')}, batch "
                                  f"{training.get('batch_size')}"))
        stopping = training.get("early_stopping")
        if isinstance(stopping, dict):
            facts.append(("kept epoch", f"{training.get('kept_epoch')} of "
                                        f"{training.get('epochs')} (early stopping on "
                                        f"{stopping.get('monitor')}, patience "
                                        f"{stopping.get('patience')})"))
        for split, values in (training.get("metrics") or {}).items():
            facts.append((f"{split} metrics", ", ".join(
                f"{k} {v:.1%}" if "accuracy" in k else f"{k} {v:.4g}" for k, v in values.items())))
    other = sorted(k for k in meta if k not in ("task", "target_name", "classes", "feature_names",
                                                 "scaling", "target_scaling", "training"))
    for key in other:
        facts.append((key, _short([meta[key]]) if not isinstance(meta[key], list)
                      else _short(meta[key])))
    # not stored in the file: the backend is chosen where the model is trained
    facts.append(("backend (here)", _backend.describe()))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in facts:
        table.add_row(k, v)
    console.print(table)
    if scaling and meta.get("feature_names"):
        sc = Table(title="Input scaling (first 10 features)", header_style="bold")
        sc.add_column("feature")
        sc.add_column("mean", justify="right")
        sc.add_column("std", justify="right")
        for name, m, s in list(zip(meta["feature_names"], scaling["mean"], scaling["std"]))[:10]:
            sc.add_row(str(name), f"{m:.4g}", f"{s:.4g}")
        console.print(sc)
    return 0


def _print_json(args) -> int:
    """The metadata as stored; the user section unchecked, its problem told on stderr."""
    header = read_header(args.model, check_metadata=False)
    try:
        n = describe(args.model, max_bytes=args.max_model_bytes)["n_parameters"]
    except GlassnetError as exc:
        print(f"glassnet info: warning: {exc}", file=sys.stderr)
        n = _n_params(header["network"]["layer_sizes"])
    print(json.dumps({**header, "n_parameters": n}, indent=2))
    return 0


def _act_name(spec) -> str:
    return spec if isinstance(spec, str) else f"{spec[0]}({spec[1]})"
