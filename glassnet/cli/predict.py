"""``glassnet predict MODEL DATA.csv``: predictions as CSV or Parquet, to a file or stdout.

The data is read, scaled, predicted and written ``--chunk-rows`` rows at a time, so memory
stays flat however large the file is.  CSV or Parquet in and out, by the file's extension.

The model file says which columns are features, how to scale them and what the class
labels are (``glassnet train`` stores all of it).  The output has one row per data row:
the ``--keep`` columns first, then the prediction in a column named after the target
(``predicted_<target>`` when the target itself is kept), then, with ``--proba``, one
probability column per class, ``proba_<label>``.  When the data file also holds the
target column, the accuracy (or RMSE) on it is reported on standard error.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from .. import data as D
from .. import tables
from .._validation import GlassnetError
from ..data import label_key
from ..dataset import features_of
from ..io import load
from ..progress import ReadingBar
from . import add_max_bytes_option, column_names

#: rows per chunk: about 4 MB of float64 per 20 columns, so peak memory stays small
DEFAULT_CHUNK_ROWS = 25_000

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
    p.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, metavar="N",
                   help="rows read, predicted and written at a time (default "
                        f"{DEFAULT_CHUNK_ROWS}); memory does not grow with the file")
    add_max_bytes_option(p)


def run(args) -> int:
    net = load(args.model, max_bytes=args.max_model_bytes)
    meta = net.metadata or {}
    where = args.data
    table = tables.open_table(args.data, sep=args.sep)
    columns = table.columns
    target = meta.get("target_name")
    n_in = net.layer_sizes[0]
    features = meta.get("feature_names")
    if features is not None and (not isinstance(features, list)
                                 or not all(isinstance(c, str) for c in features)):
        raise GlassnetError(f"{args.model}: its stored feature_names {features!r:.80} are not a "
                            "list of column names (hand-edited metadata?).")
    if features is None:
        # a model saved without column names: every column, in order (minus --keep)
        features = [c for c in columns if c not in args.keep and c != target]
        if len(features) != n_in:
            raise GlassnetError(f"{where}: the model stores no feature names, so every column "
                                f"is a feature; it expects {n_in} but the file has "
                                f"{len(features)} ({D.quote_names(features)}).")
    absent = [c for c in args.keep if c not in columns]
    if absent:
        raise GlassnetError(f"{where}: --keep names column(s) {D.quote_names(absent)} that are not "
                            f"in the file. The columns are: {D.quote_names(columns, 30)}.")
    D.match_columns(_Columns(columns), features, where, target=target, allowed_extra=args.keep,
                    ignore_extra=args.ignore_extra)
    scaling = meta.get("scaling")
    scaler = (D.Standardizer.from_dict(scaling, n_in, what=f"scaling (in {args.model!r})")
              if scaling else None)
    task = meta.get("task") or ("classification" if net.is_classifier else "regression")
    if args.proba and task != "classification":
        raise GlassnetError("--proba needs a classifier; this model is a regressor "
                            f"(loss {net.loss.name!r}).")
    classes = None
    if task == "classification":
        classes = meta.get("classes") or list(range(max(2, net.layer_sizes[-1])))
        if len(classes) != max(2, net.layer_sizes[-1]):
            raise GlassnetError(f"{args.model}: the model lists {len(classes)} class labels "
                                f"but has {max(2, net.layer_sizes[-1])} class outputs.")
    name = target or "prediction"
    if target is not None and target in args.keep:
        name = f"predicted_{target}"
    has_target = target is not None and target in columns
    wanted = list(dict.fromkeys([*args.keep, *features, *([target] if has_target else [])]))
    score = _Score(task, classes)
    progress = _reading_progress(table, args)
    try:
        with tables.TableWriter(args.output) as out:
            for chunk in table.chunks(args.chunk_rows, columns=wanted,
                                      progress=progress.update if progress else None):
                frame = chunk.frame
                X = features_of(chunk, features, where)
                if scaler is not None:
                    X = scaler.transform(X)
                result = _predict_chunk(net, X, frame, args, task, classes, name, meta)
                if has_target:
                    score.add(frame[target], result[name])
                out.write(result)
    except BrokenPipeError:
        # the reader (e.g. `| head`) stopped early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if progress:
            progress.close()
    if has_target:
        score.report(target)
    if args.output not in (None, "-"):
        print(f"Wrote {out.rows} predictions to {args.output}", file=sys.stderr)
    return 0


class _Columns:
    """What match_columns reads of a frame: its column names."""

    def __init__(self, columns):
        self.columns = columns


def _predict_chunk(net, X, frame, args, task, classes, name, meta):
    """One chunk's output rows: the kept columns, the prediction, the probabilities."""
    import pandas as pd
    result = pd.DataFrame({c: frame[c].to_numpy() for c in args.keep})
    with np.errstate(all="ignore"):
        if task == "classification":
            proba = net.predict_proba(X)                    # (rows, classes)
            result[name] = D.decode_labels(np.argmax(proba, axis=1), classes)
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
    return result


def _reading_progress(table, args):
    """A progress bar on standard error for large files (when it is a terminal)."""
    if table.size < READING_BAR_BYTES or not sys.stderr.isatty():
        return None
    return ReadingBar(f"predicting {table.name}", table)


#: files at least this large show a reading progress bar
READING_BAR_BYTES = 20 * 2 ** 20


class _Score:
    """Accuracy (or RMSE) of the predictions against the data's own target, chunk by chunk."""

    def __init__(self, task: str, classes=None):
        self.task = task
        self.n = 0
        self.total = 0.0
        self.known = {label_key(c) for c in classes or ()}
        self.classes = list(classes or ())
        self.unseen: dict = {}           # label the model never saw -> rows

    def add(self, truth, predicted) -> None:
        ok = truth.notna().to_numpy()
        if not ok.any():
            return
        if self.task == "classification":
            # label_key once per distinct value, not per row
            t, p = truth[ok], predicted[ok]
            t_keys = {v: label_key(v) for v in t.unique()}
            p_keys = {v: label_key(v) for v in p.unique()}
            same = t.map(t_keys).to_numpy() == p.map(p_keys).to_numpy()
            self.total += float(np.count_nonzero(same))
            for value, count in t.value_counts().items():
                key = t_keys[value]
                if key not in self.known:
                    self.unseen[key] = self.unseen.get(key, 0) + int(count)
        else:
            try:
                t = truth[ok].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                return
            err = predicted[ok].to_numpy(dtype=np.float64) - t
            self.total += float(np.sum(err ** 2))
        self.n += int(ok.sum())

    def report(self, target: str) -> None:
        if not self.n:
            return
        if self.task == "classification":
            print(f"The data has the target column {target!r}: accuracy "
                  f"{self.total / self.n:.1%} on {self.n} rows.", file=sys.stderr)
            if self.unseen:
                print(f"note: {sum(self.unseen.values())} of those rows have labels the model "
                      f"never saw in training ({D.quote_names(list(self.unseen), 5)}); the model "
                      "cannot predict them, so they count as wrong. Its classes are "
                      f"{D.quote_names(self.classes, 12)}.", file=sys.stderr)
        else:
            print(f"The data has the target column {target!r}: RMSE "
                  f"{np.sqrt(self.total / self.n):.4g} on {self.n} rows.", file=sys.stderr)
