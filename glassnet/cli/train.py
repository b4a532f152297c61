"""``glassnet train DATA.csv --target COLUMN``: a model file from a CSV table.

Reads the CSV with pandas, encodes class labels of any kind (strings, integers, booleans),
standardises the features with the training rows' statistics, holds out a validation
split (stratified for classification), trains with a progress bar and prints the final
metrics.  The model file stores the feature names, the class labels, the task and the
scaling, so ``glassnet predict`` needs nothing else.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from ..callbacks import Callback
from . import column_names

HELP = "Train a network on a CSV file and save it as a model file."


def _int_list(text: str) -> list[int]:
    if text.strip() in ("", "none", "-"):
        return []
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 64,32; "
                                         f"got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer widths must be positive; got {text!r}")
    return values


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA.csv", help="training data: a CSV file with a header row")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    p.add_argument("--features", type=column_names, default=None, metavar="A,B,...",
                   help="feature columns (default: every column except the target)")
    p.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                   help="auto (default): classification for text/boolean targets and for "
                        "whole numbers with at most 20 distinct values, else regression")
    p.add_argument("--layers", type=_int_list, default=[64, 32], metavar="N,N",
                   help="hidden layer widths (default 64,32; 'none' for no hidden layer)")
    p.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    p.add_argument("--init", default=None,
                   help="weight init (default: the one that suits the activation, e.g. he "
                        "for relu); any name from glassnet.initializers, e.g. xavier, lsuv")
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    p.add_argument("--optimizer", default="adam", help="optimizer (default adam)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="step size (default: the optimizer's, 0.001 for adam)")
    p.add_argument("--validation", type=float, default=0.2, metavar="FRACTION",
                   help="share of rows held out for validation (default 0.2; 0 for none)")
    p.add_argument("--patience", type=int, default=None, metavar="N",
                   help="stop early when the validation loss (the training loss without a "
                        "validation split) has not improved for N epochs, keeping the best "
                        "weights (default: train every epoch)")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="use the features as they are (default: standardise them)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, init and "
                                                        "shuffling (default 0)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--sep", default=",", help="CSV field separator (default ',')")
    p.add_argument("--out", "-o", default="model.glassnet", metavar="MODEL",
                   help="model file to write (default model.glassnet)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


class ProgressBar(Callback):
    """A rich progress bar over epochs, showing the loss and the validation metrics."""

    SHOWN = ("loss", "val_loss", "val_accuracy", "val_r2")

    def __init__(self, epochs: int, console):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.progress = Progress(
            TextColumn("training"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console)
        self.task = self.progress.add_task("train", total=epochs, status="")

    def on_train_begin(self, ctx, logs):
        self.progress.start()

    def on_epoch_end(self, ctx, logs):
        status = "  ".join(f"{k} {logs[k]:.4f}" for k in self.SHOWN if k in logs)
        self.progress.update(self.task, advance=1, status=status)

    def on_train_end(self, ctx, logs):
        self.close()

    def close(self):
        if self.progress.live.is_started:
            self.progress.stop()


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .. import data as D
    from .. import optimizers
    from .._validation import GlassnetError, check_choice
    from ..activations import NAMES, OUTPUT_ONLY
    from ..io import check_writable, is_stream, save
    from ..network import Network

    check_choice("--activation", args.activation, [n for n in NAMES if n not in OUTPUT_ONLY],
                 "option")
    check_choice("--optimizer", args.optimizer, optimizers.NAMES, "option")
    for name, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                        ("--patience", 1 if args.patience is None else args.patience)):
        if value < 1:
            raise GlassnetError(f"{name} must be at least 1; got {value}.")
    if not 0 <= args.validation < 1:
        raise GlassnetError(f"--validation must be a fraction in [0, 1); got {args.validation}.")
    if args.learning_rate is not None and not 0 < args.learning_rate < float("inf"):
        raise GlassnetError(f"--learning-rate must be a finite number > 0; got "
                            f"{args.learning_rate}.")
    if args.seed < 0:
        raise GlassnetError(f"--seed must be >= 0; got {args.seed}.")
    out = Path(args.out)
    if out.is_dir():
        raise GlassnetError(f"--out {str(out)!r} is a folder; give a file name such as "
                            "model.glassnet.")
    try:                     # before any training: a read-only or missing folder shows now
        check_writable(out)
    except GlassnetError as exc:
        raise GlassnetError(f"--out: {exc}") from None
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=120)
    # the model itself may go to standard output (-o /dev/stdout): the table then goes to
    # standard error, so the two never mix
    stdout = console if is_stream(out) else (
        Console() if Console().is_terminal else Console(width=120))
    t0 = time.perf_counter()

    # --- the table ---
    where = args.data
    frame = D.read_csv(args.data, sep=args.sep)
    D.check_target_column(frame, args.target, where)
    features = D.select_features(frame, args.target, args.features, where)
    X = D.feature_matrix(frame, features, where)
    raw = D.target_values(frame, args.target, where)
    task = D.detect_task(raw, args.task)

    # --- targets ---
    if task == "classification":
        codes, classes = D.encode_labels(raw)
        if len(classes) < 2:
            raise GlassnetError(f"{where}: the target column {args.target!r} holds a single "
                                f"class ({classes[0]!r}); classification needs at least two.")
        y = codes
        n_out = 1 if len(classes) == 2 else len(classes)
        output, loss = (None, None)
    else:
        if raw.dtype.kind not in "iuf":
            raise GlassnetError(f"{where}: --task regression needs a numeric target, but "
                                f"{args.target!r} holds text such as {str(raw[0])!r}.")
        y = raw.astype(np.float64)
        classes = None
        n_out, output, loss = 1, "identity", "squared_error"
    train_rows, val_rows = D.holdout_split(len(X), args.validation, args.seed,
                                           labels=y if task == "classification" else None)
    if args.validation > 0 and val_rows.size == 0:
        console.print(f"[yellow]note:[/] {len(X)} rows are too few to hold out "
                      f"{args.validation:.0%} for validation; training on all of them.")

    # --- scaling, fitted on the training rows only ---
    scaler = (D.Standardizer.fit(X[train_rows], names=features) if args.standardize
              else D.Standardizer(np.zeros(X.shape[1]), np.ones(X.shape[1])))
    Xs = scaler.transform(X)
    target_scaler = None
    y_fit = y
    if task == "regression":
        target_scaler = D.Standardizer.fit(y[train_rows].reshape(-1, 1), names=[args.target])
        y_fit = target_scaler.transform(y.reshape(-1, 1))

    # --- the network ---
    init = parse_init(args.init)
    net = Network([X.shape[1], *args.layers, n_out], activation=args.activation, output=output,
                  loss=loss, init=init, seed=args.seed, dtype=args.dtype)
    lr = (args.learning_rate if args.learning_rate is not None
          else optimizers.get(args.optimizer).config.get("learning_rate", 0.01))
    try:                     # room on the disk for the model (its arrays, uncompressed)
        check_writable(out, needed_bytes=net.params.nbytes + (1 << 16))
    except GlassnetError as exc:
        raise GlassnetError(f"--out: {exc}") from None

    bar = None if args.quiet else ProgressBar(args.epochs, console)
    console.print(f"[bold]glassnet train[/]: {where}: {len(X)} rows, {len(features)} features, "
                  f"target {args.target!r} ({task}"
                  + (f", {len(classes)} classes" if classes is not None else "") + "); "
                  f"network {net.layer_sizes} "
                  f"{args.activation if args.layers else '(no hidden layer)'}, {args.optimizer} "
                  f"lr {lr:g}, {len(train_rows)} training / {len(val_rows)} validation rows")
    t_fit = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            history = net.fit(
                Xs[train_rows], y_fit[train_rows], epochs=args.epochs,
                batch_size=args.batch_size, optimizer=args.optimizer, learning_rate=lr,
                validation_data=(Xs[val_rows], y_fit[val_rows]) if val_rows.size else None,
                metrics=["accuracy"] if task == "classification" else ["r2"],
                early_stopping=args.patience is not None,
                patience=args.patience if args.patience is not None else 10,
                callbacks=[bar] if bar else [])
    finally:
        if bar:
            bar.close()
    interrupted = bool(getattr(history, "interrupted", False))
    partial = _partial_epoch(history, len(train_rows), args.batch_size) if interrupted else None
    if interrupted:
        done = f"{len(history)} epochs" + (
            f" and {partial['batches']} of {partial['of']} batches of epoch {partial['epoch']}"
            if partial else "")
        console.print(f"[yellow]Interrupted after {done}[/]: saving the model as it is now.")
    elif len(history) < args.epochs:
        console.print(f"Early stopping after {len(history)} epochs (no improvement in "
                      f"{args.patience}); keeping the best epoch's weights.")
    fit_seconds = time.perf_counter() - t_fit

    # --- results ---
    metrics = {"train": _metrics(net, Xs[train_rows], y[train_rows], task, target_scaler)}
    if val_rows.size:
        metrics["validation"] = _metrics(net, Xs[val_rows], y[val_rows], task, target_scaler)
    net.metadata = {
        "task": task,
        "target_name": args.target,
        "feature_names": features,
        "classes": classes,
        "scaling": scaler.to_dict() if args.standardize else None,
        "target_scaling": ({"mean": float(target_scaler.mean[0]),
                            "std": float(target_scaler.std[0])} if target_scaler else None),
        "training": {
            "data": os.path.basename(args.data), "rows": int(len(X)),
            "training_rows": int(len(train_rows)), "validation_rows": int(len(val_rows)),
            "epochs": len(history), "batch_size": args.batch_size,
            **({"interrupted": True} if interrupted else {}),
            **({"partial_epoch": partial} if partial else {}),
            "optimizer": args.optimizer, "learning_rate": lr, "seed": args.seed,
            "seconds": round(fit_seconds, 3), "final_loss": history["loss"][-1] if len(history) else None,
            "metrics": metrics,
        },
    }
    saved = _save_or_rescue(net, out, console)

    table = Table(title=f"Final metrics ({len(history)} epochs, {fit_seconds:.1f} s)",
                  header_style="bold")
    table.add_column("split")
    keys = list(metrics["train"])
    for k in keys:
        table.add_column(k, justify="right")
    for split, values in metrics.items():
        table.add_row(split, *[_fmt(k, values[k]) for k in keys])
    stdout.print(table)
    if not all(np.isfinite(v) for v in metrics["train"].values()):
        stdout.print("[red]Training diverged (non-finite loss).[/] Try a smaller "
                     "--learning-rate, or run `glassnet doctor` on the data.")
    if saved != out:
        return 2
    stdout.print(f"Saved model to {str(out)}  ({time.perf_counter() - t0:.1f} s in all)")
    if interrupted:
        return 130           # the shell's code for "stopped by Ctrl-C", after saving
    return 0


def _partial_epoch(history, n_rows: int, batch_size: int) -> dict | None:
    """The epoch Ctrl-C cut short, as {'epoch', 'batches', 'of'} (None if it ended between
    epochs): the model file then says how much of it the weights saw."""
    stopped = getattr(history, "stopped_at", None)
    n_batches = -(-n_rows // batch_size)
    if not stopped:
        return None
    epoch, batch = stopped
    if epoch < len(history) or batch + 1 >= n_batches:
        return None
    return {"epoch": int(epoch) + 1, "batches": int(batch) + 1, "of": int(n_batches)}


def _save_or_rescue(net, out: Path, console) -> Path:
    """Save to ``out``; if that fails now (disk full, folder gone), keep the trained network
    in a rescue file in the temporary folder and say both things in one line each."""
    import tempfile

    from .._validation import GlassnetError
    from ..io import save
    try:
        return save(net, out)
    except GlassnetError as exc:
        problem = str(exc)
    rescue = Path(tempfile.gettempdir()) / f"glassnet-rescue-{os.getpid()}-{out.name or 'model'}"
    try:
        save(net, rescue)
    except GlassnetError as exc:
        raise GlassnetError(f"{problem} The trained network could not be kept either ({exc}); "
                            "free some space and train again.") from None
    console.print(f"[red]glassnet train: error:[/] {problem} The trained network was saved to "
                  f"{str(rescue)} instead; move it where you want it (it is a complete model "
                  "file).", soft_wrap=True)
    return rescue


def parse_init(text):
    """--init NAME or NAME:key=value,key=value (e.g. normal:std=0.1)."""
    if text is None:
        return None
    from .._validation import GlassnetError
    name, _, rest = text.partition(":")
    params = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise GlassnetError(f"--init {text!r}: parameters are written key=value, e.g. "
                                "normal:std=0.1.")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            params[key.strip()] = value.strip()
    return (name.strip(), params) if params else name.strip()


def _metrics(net, X, y, task, target_scaler, prefix: str = "") -> dict:
    """Accuracy and log loss (classification), or RMSE, MAE and R^2 in the target's units."""
    from .. import metrics as M
    with np.errstate(all="ignore"):
        if task == "classification":
            out = net.evaluate(X, y)
            return {f"{prefix}loss": float(out["loss"]), f"{prefix}accuracy": float(out["accuracy"])}
        pred = target_scaler.inverse(net.forward(X))[:, 0]
        err = pred - y
        return {f"{prefix}rmse": float(np.sqrt(np.mean(err * err))),
                f"{prefix}mae": float(np.mean(np.abs(err))),
                f"{prefix}r2": float(M.r2(y, pred))}


def _fmt(key: str, value: float) -> str:
    if "accuracy" in key:
        return f"{value:.1%}"
    return f"{value:.4g}"
