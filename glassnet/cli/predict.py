"""``glassnet predict MODEL DATA.csv``: predictions as CSV, to a file or standard output.

The model file says which columns are features, how to scale them and what the class
labels are (``glassnet train`` stores all of it).  The output has one row per data row:
the ``--keep`` columns first, then the prediction in a column named after the target
(``predicted_<target>`` when the target itself is kept), then, with ``--proba``, one
probability column per class, ``proba_<label>``.  When the data file also holds the
target column, the accuracy (or RMSE) on it is reported on standard error.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import add_max_bytes_option, column_names

HELP = "Predict with a model file on a CSV file; writes CSV (labels, and probabilities " \
       "with --proba)."


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model file from glassnet train or "
                                                  "Network.save")
    p.add_argument("data", metavar="DATA.csv", help="rows to predict: a CSV with the model's "
                                                    "feature columns")
    p.add_argument("--output", "-o", default=None, metavar="FILE",
                   help="CSV file to write (default, or '-': standard output)")
    p.add_argument("--proba", action="store_true",
                   help="add one probability column per class (classifiers)")
    p.add_argument("--keep", type=column_names, default=[], metavar="A,B,...",
                   help="columns to copy from DATA into the output (e.g. an id column)")
    p.add_argument("--ignore-extra", action="store_true",
                   help="ignore columns the model does not know instead of refusing the file")
    p.add_argument("--sep", default=",", help="CSV field separator (default ',')")
    add_max_bytes_option(p)


def run(args) -> int:
    import pandas as pd

    from .. import data as D
    from .._validation import GlassnetError
    from ..io import load, open_output

    net = load(args.model, max_bytes=args.max_model_bytes)
    meta = net.metadata or {}
    where = args.data
    frame = D.read_csv(args.data, sep=args.sep)
    target = meta.get("target_name")
    n_in = net.layer_sizes[0]
    features = meta.get("feature_names")
    if features is not None and (not isinstance(features, list)
                                 or not all(isinstance(c, str) for c in features)):
        raise GlassnetError(f"{args.model}: its stored feature_names {features!r:.80} are not a "
                            "list of column names (hand-edited metadata?).")
    if features is None:
        # a model saved without column names: every column, in order (minus --keep)
        features = [str(c) for c in frame.columns if c not in args.keep and c != target]
        if len(features) != n_in:
            raise GlassnetError(f"{where}: the model stores no feature names, so every column "
                                f"is a feature; it expects {n_in} but the file has "
                                f"{len(features)} ({D.quote_names(features)}).")
    absent = [c for c in args.keep if c not in frame.columns]
    if absent:
        raise GlassnetError(f"{where}: --keep names column(s) {D.quote_names(absent)} that are not "
                            f"in the file. The columns are: {D.quote_names(list(frame.columns), 30)}.")
    D.match_columns(frame, features, where, target=target, allowed_extra=args.keep,
                    ignore_extra=args.ignore_extra)
    X = D.feature_matrix(frame, features, where)
    scaling = meta.get("scaling")
    if scaling:
        X = D.Standardizer.from_dict(scaling, n_in,
                                     what=f"scaling (in {args.model!r})").transform(X)
    task = meta.get("task") or ("classification" if net.is_classifier else "regression")
    if args.proba and task != "classification":
        raise GlassnetError("--proba needs a classifier; this model is a regressor "
                            f"(loss {net.loss.name!r}).")

    result = pd.DataFrame({c: frame[c] for c in args.keep})
    name = target or "prediction"
    if target is not None and target in args.keep:
        name = f"predicted_{target}"
    with np.errstate(all="ignore"):
        if task == "classification":
            proba = net.predict_proba(X)                    # (rows, classes)
            codes = np.argmax(proba, axis=1)
            classes = meta.get("classes") or list(range(proba.shape[1]))
            if len(classes) != proba.shape[1]:
                raise GlassnetError(f"{args.model}: the model lists {len(classes)} class labels "
                                    f"but has {proba.shape[1]} class outputs.")
            result[name] = D.decode_labels(codes, classes)
            if args.proba:
                for k, label in enumerate(classes):
                    result[f"proba_{label}"] = proba[:, k]
        else:
            out = net.forward(X)                             # (rows, outputs)
            ts = meta.get("target_scaling")
            if ts:
                out = out * float(ts["std"]) + float(ts["mean"])
            if out.shape[1] == 1:
                result[name] = out[:, 0]
            else:
                for k in range(out.shape[1]):
                    result[f"{name}_{k}"] = out[:, k]
    if target is not None and target in frame.columns:
        _report_score(frame[target], result[name], task, target, len(frame),
                      classes if task == "classification" else ())
    if args.output is None or args.output == "-":
        try:
            result.to_csv(sys.stdout, index=False)
            sys.stdout.flush()
        except BrokenPipeError:
            # the reader (e.g. `| head`) stopped early: not an error
            import os
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        with open_output(args.output, "w") as f:
            result.to_csv(f, index=False)
        print(f"Wrote {len(result)} predictions to {args.output}", file=sys.stderr)
    return 0


def _report_score(truth, predicted, task: str, target: str, n: int, classes=()) -> None:
    """The data holds the target: say how good the predictions are (on standard error)."""
    from ..data import label_key
    ok = truth.notna().to_numpy()
    if not ok.any():
        return
    if task == "classification":
        t = [label_key(v) for v in truth[ok]]
        p = [label_key(v) for v in predicted[ok]]
        acc = float(np.mean([a == b for a, b in zip(t, p)]))
        print(f"The data has the target column {target!r}: accuracy {acc:.1%} on "
              f"{int(ok.sum())} rows.", file=sys.stderr)
        known = {label_key(c) for c in classes}
        unseen = [k for k in t if k not in known]
        if unseen:
            from ..data import quote_names
            labels = list(dict.fromkeys(unseen))
            print(f"note: {len(unseen)} of those rows have labels the model never saw in "
                  f"training ({quote_names(labels, 5)}); the model cannot predict them, so they "
                  f"count as wrong. Its classes are {quote_names(classes, 12)}.",
                  file=sys.stderr)
    else:
        try:
            t = truth[ok].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            return
        err = predicted[ok].to_numpy(dtype=np.float64) - t
        print(f"The data has the target column {target!r}: RMSE {np.sqrt(np.mean(err ** 2)):.4g}"
              f" on {int(ok.sum())} rows.", file=sys.stderr)
