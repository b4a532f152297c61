"""``glassnet export MODEL --to onnx -o model.onnx``: a model file, served without glassnet.

``--to onnx`` writes an ONNX graph that standardizes the raw features, runs the network and
gives the class labels and probabilities (or the regression prediction with the target
scaling undone), exactly what ``glassnet predict`` computes; onnxruntime runs it alone.
``--to torch`` writes the ``nn.Sequential`` of :func:`glassnet.to_torch` with
``torch.save`` (read it back with ``torch.load(path, weights_only=False)``), ``--to
sklearn`` the fitted ``MLPClassifier`` / ``MLPRegressor`` (a ``Pipeline`` behind a
``StandardScaler`` when the model standardizes its inputs) of :func:`glassnet.to_sklearn`,
pickled.  Every file is written atomically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import export
from .._validation import GlassnetError
from ..io import atomic_write, load

HELP = "Export a model file to ONNX (served by onnxruntime alone), PyTorch or scikit-learn."

#: --to value -> (default suffix, what the file holds)
FORMATS = {
    "onnx": (".onnx", "an ONNX graph: labels and probabilities, or the prediction"),
    "torch": (".pt", "a torch nn.Sequential, saved with torch.save"),
    "sklearn": (".pkl", "a fitted scikit-learn MLP (or Pipeline), pickled"),
}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model file from glassnet train or "
                                                  "Network.save")
    # checked in run (not with choices=): a bad format is one line of error, not a usage dump
    p.add_argument("--to", dest="format", default="onnx", metavar="FORMAT",
                   help="onnx (default), torch or sklearn")
    p.add_argument("--output", "-o", default=None, metavar="FILE",
                   help="file to write (default: MODEL with the format's suffix: .onnx, .pt, "
                        ".pkl)")
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset to write (default: glassnet.export.DEFAULT_OPSET)")
    p.add_argument("--input-dtype", default=None, metavar="DTYPE",
                   help="the ONNX input's type, float32 or float64 (default: the model's "
                        "dtype); float64 keeps a float32 model's standardization exact")


def run(args) -> int:
    fmt = str(args.format).lower()
    if fmt not in FORMATS:
        raise GlassnetError(f"--to {args.format!r} is not a format glassnet exports; choose one "
                            f"of {', '.join(FORMATS)}.")
    for flag, value in (("--opset", args.opset), ("--input-dtype", args.input_dtype)):
        if value is not None and fmt != "onnx":
            raise GlassnetError(f"{flag} applies to --to onnx only, not --to {fmt}.")
    if args.input_dtype not in (None, "float32", "float64"):
        raise GlassnetError(f"--input-dtype must be float32 or float64; got "
                            f"{args.input_dtype!r}.")
    net = load(args.model)
    out = Path(args.output) if args.output else Path(args.model).with_suffix(FORMATS[fmt][0])
    if fmt == "onnx":
        export.to_onnx(net, out, opset=args.opset, input_dtype=args.input_dtype)
    elif fmt == "torch":
        module = export.to_torch(net)
        import torch
        with atomic_write(out, "wb") as f:
            torch.save(module, f)
    else:
        import pickle
        model = export.to_sklearn(net)
        with atomic_write(out, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"Wrote {out}: {FORMATS[fmt][1]}.", file=sys.stderr)
    return 0
