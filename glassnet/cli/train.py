"""``glassnet train DATA.csv --target COLUMN``: a model file from a CSV table.

Reads the CSV with pandas, encodes class labels of any kind (strings, integers, booleans),
standardises the features with the training rows' statistics, holds out a validation
split (stratified for classification), trains with a progress bar and prints the final
metrics.  The model file stores the feature names, the class labels, the task and the
scaling, so ``glassnet predict`` needs nothing else.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import data as D
from .. import dataset, tables
from .. import metrics as M
from .. import optimizers, training
from .._validation import GlassnetError, UnscaledInputWarning, check_choice, input_scale_message
from ..activations import NAMES, OUTPUT_ONLY
from ..callbacks import Callback
from ..doctor import explain_divergence
from ..io import check_writable, is_stream, save
from ..network import Network
from ..progress import ReadingBar
from . import column_names

HELP = "Train a network on a CSV file and save it as a model file."

#: the default patience is this many optimizer steps' worth of epochs, clipped to
#: [PATIENCE_MIN, PATIENCE_MAX]: small data makes few steps per epoch and a noisy
#: validation loss, so it waits more epochs (diabetes, 354 rows at batch 32: 21 epochs);
#: 10,000 rows make 313 steps an epoch and wait PATIENCE_MIN
PATIENCE_STEPS, PATIENCE_MIN, PATIENCE_MAX = 250, 10, 30


def default_patience(training_rows: int, batch_size: int) -> int:
    """Epochs without improvement before early stopping, from the steps an epoch makes."""
    steps = -(-max(training_rows, 1) // batch_size)
    return int(min(PATIENCE_MAX, max(PATIENCE_MIN, round(PATIENCE_STEPS / steps))))


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
    p.add_argument("--batch-size", type=int, default=training.DEFAULTS.batch_size,
                   help=f"mini-batch size (default {training.DEFAULTS.batch_size})")
    p.add_argument("--optimizer", default="adam", help="optimizer (default adam)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="step size (default: the optimizer's, 0.001 for adam)")
    p.add_argument("--validation", type=float, default=0.2, metavar="FRACTION",
                   help="share of rows held out for validation (default 0.2; 0 for none)")
    p.add_argument("--patience", type=int, default=None, metavar="N",
                   help="early stopping: stop when the validation loss has not improved for N "
                        "epochs and keep the best epoch's weights (default: from the data "
                        f"size, {PATIENCE_STEPS} steps' worth of epochs, between "
                        f"{PATIENCE_MIN} and {PATIENCE_MAX}; without a validation split the "
                        "training loss is watched, and only when N is given)")
    p.add_argument("--no-early-stopping", dest="early_stopping", action="store_false",
                   help="train every epoch and keep the last one")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="use the features as they are (default: standardise them)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, init and "
                                                        "shuffling (default 0)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--sep", default=",", help="CSV field separator (default ',')")
    p.add_argument("--max-memory", default="auto", metavar="SIZE",
                   help="memory budget such as 1GB or 512MB: a table that would not fit is "
                        "converted once, chunk by chunk, into a memory-mapped cache "
                        "MODEL.cache/ beside the model and trained from there (same model, "
                        "bit for bit). Default auto: a quarter of the machine's memory")
    p.add_argument("--chunk-rows", type=int, default=25_000, metavar="N",
                   help="rows read at a time (default 25000)")
    p.add_argument("--out", "-o", default="model.glassnet", metavar="MODEL",
                   help="model file to write (default model.glassnet)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


#: files at least this large show a reading (or conversion) progress bar
READING_BAR_BYTES = 20 * 2 ** 20


class _Columns:
    """What the column checks read of a frame: its column names."""

    def __init__(self, columns):
        self.columns = columns


def _auto_budget() -> int:
    """A quarter of the machine's physical memory (4 GiB when it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 * 2 ** 30


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


class ProgressBar(Callback):
    """A rich progress bar over the batches of every epoch, with the loss and the metrics.

    It counts batches, not epochs, so a long epoch (a million rows) moves the bar as it
    trains; it redraws at most ten times a second.
    """

    SHOWN = ("loss", "val_loss", "val_accuracy", "val_r2")
    interval = 0.1

    def __init__(self, epochs: int, console):
        from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        self.epochs = epochs
        self.progress = Progress(
            TextColumn("training"), TextColumn("epoch {task.fields[epoch]}"), BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console)
        self.task = self.progress.add_task("train", total=epochs, status="",
                                           epoch=f"0/{epochs}")
        self._pending, self._next, self._batches = 0, 0.0, 1

    def on_train_begin(self, ctx, logs):
        self._batches = max(1, int(getattr(ctx, "n_batches", 1) or 1))
        self.progress.update(self.task, total=self.epochs * self._batches,
                             completed=ctx.epoch * self._batches)
        self.progress.start()

    def on_epoch_begin(self, ctx, logs):
        self.progress.update(self.task, epoch=f"{ctx.epoch + 1}/{self.epochs}")

    def on_batch_end(self, ctx, logs):
        self._pending += 1
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            self.progress.update(self.task, advance=self._pending)
            self._pending = 0

    def on_epoch_end(self, ctx, logs):
        status = "  ".join(f"{k} {logs[k]:.4f}" for k in self.SHOWN if k in logs)
        self.progress.update(self.task, completed=(ctx.epoch + 1) * self._batches,
                             status=status)
        self._pending = 0

    def on_train_end(self, ctx, logs):
        self.close()

    def close(self):
        if self.progress.live.is_started:
            self.progress.stop()


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table


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

    # --- the table, read once: in memory, or memory-mapped when it exceeds the budget ---
    where = args.data
    table = tables.open_table(args.data, sep=args.sep)
    columns = _Columns(table.columns)
    D.check_target_column(columns, args.target, where)
    features = D.select_features(columns, args.target, args.features, where)
    budget = (dataset.parse_size(args.max_memory) if args.max_memory != "auto"
              else _auto_budget())
    cache = None
    if dataset.in_memory_bytes(table, len(features)) > budget:
        cache = Path(str(out) + ".cache")
    progress = None
    if not args.quiet and table.size >= READING_BAR_BYTES:
        progress = ReadingBar("converting" if cache else "reading", table,
                              stream=console.file)
    t_read = time.perf_counter()
    try:
        ts = dataset.load(table, target=args.target, features=features, task=args.task,
                          validation=args.validation, seed=args.seed,
                          standardize=args.standardize, dtype=args.dtype,
                          chunk_rows=args.chunk_rows, cache=cache,
                          progress=progress.update if progress else None)
    finally:
        if progress:
            progress.close()
    read_seconds = time.perf_counter() - t_read
    if cache is not None:
        console.print(("Using the memory-mapped cache " if ts.reused else
                       "Converted the table into the memory-mapped cache ")
                      + f"{str(cache)!r} ({read_seconds:.1f} s; it exceeds --max-memory "
                      f"{_size(budget)}).")
    task, classes, n_out = ts.targets.task, ts.targets.classes, ts.targets.n_outputs
    output, loss = (None, None) if task == "classification" else ("identity", "squared_error")
    n_rows, n_train, n_val = ts.rows, ts.X_train.shape[0], ts.X_val.shape[0]
    if args.validation > 0 and n_val == 0:
        console.print(f"[yellow]note:[/] {n_rows} rows are too few to hold out "
                      f"{args.validation:.0%} for validation; training on all of them.")
    scaler = ts.scaler
    target_scaler = None
    y_fit, yv_fit = ts.y_train, ts.y_val
    if task == "regression":
        target_scaler = D.Standardizer.fit(ts.y_train.reshape(-1, 1), names=[args.target])
        y_fit = target_scaler.transform(ts.y_train.reshape(-1, 1))
        yv_fit = target_scaler.transform(ts.y_val.reshape(-1, 1))

    # --- the network ---
    init = parse_init(args.init)
    net = Network([len(features), *args.layers, n_out], activation=args.activation, output=output,
                  loss=loss, init=init, seed=args.seed, dtype=args.dtype)
    lr = (args.learning_rate if args.learning_rate is not None
          else optimizers.get(args.optimizer).config.get("learning_rate", 0.01))
    try:                     # room on the disk for the model (its arrays, uncompressed)
        check_writable(out, needed_bytes=net.params.nbytes + (1 << 16))
    except GlassnetError as exc:
        raise GlassnetError(f"--out: {exc}") from None

    bar = None if args.quiet else ProgressBar(args.epochs, console)
    console.print(f"[bold]glassnet train[/]: {where}: {n_rows} rows, {len(features)} features, "
                  f"target {args.target!r} ({task}"
                  + (f", {len(classes)} classes" if classes is not None else "") + "); "
                  f"network {net.layer_sizes} "
                  f"{args.activation if args.layers else '(no hidden layer)'}, {args.optimizer} "
                  f"lr {lr:g}, {n_train} training / {n_val} validation rows")
    # --- early stopping: on by default when there is a validation split ---
    stopping = args.early_stopping and (n_val > 0 or args.patience is not None)
    patience = (args.patience if args.patience is not None else
                default_patience(n_train, args.batch_size))
    if stopping:
        console.print(f"Early stopping on the {'validation' if n_val else 'training'} "
                      f"loss, patience {patience} epochs"
                      + ("" if args.patience is not None else " (from the data size)")
                      + "; --no-early-stopping trains every epoch.")
    if not args.standardize:           # said here as a note, with the command line's fix
        unscaled = input_scale_message(ts.X_train, features)
        if unscaled:
            console.print(f"[yellow]warning:[/] {unscaled.split('. Large inputs')[0]}. "
                          "Drop --no-standardize to train on standardized features.")
    t_fit = time.perf_counter()
    # a memory-mapped cache: keep the pages of the map that the passes over it (the checks,
    # the metrics) touch within an eighth of the budget; batches are read, not mapped
    guard = (dataset.PageGuard([ts.X_train, ts.X_val], allowance=budget // 8)
             if cache is not None else contextlib.nullcontext())
    guard.__enter__()
    try:
        with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", UnscaledInputWarning)
            history = training.train(net, ts.X_train, y_fit, replace(
                training.DEFAULTS, epochs=args.epochs, batch_size=args.batch_size,
                optimizer=args.optimizer, learning_rate=lr,
                validation_data=(ts.X_val, yv_fit) if n_val else None,
                metrics=["accuracy"] if task == "classification" else ["r2"],
                early_stopping=stopping, patience=patience,
                callbacks=[bar] if bar else [], explain_divergence=explain_divergence))
    except BaseException:
        guard.__exit__(None, None, None)
        raise
    finally:
        if bar:
            bar.close()
    best = history.best_epoch if history.best_epoch is not None else -1
    kept = best + 1 if stopping and best >= 0 else len(history)     # 1-based
    watched = "validation" if n_val else "training"
    interrupted = bool(getattr(history, "interrupted", False))
    # the epoch Ctrl-C cut short, when the saved weights are the ones it trained
    partial = (_partial_epoch(history, n_train, args.batch_size)
               if interrupted and not (stopping and best >= 0) else None)
    if interrupted:
        done = f"{len(history)} epochs" + (
            f" and {partial['batches']} of {partial['of']} batches of epoch {partial['epoch']}"
            if partial else "")
        console.print(f"[yellow]Interrupted after {done}[/]: saving the model "
                      + (f"with the best epoch's weights (epoch {kept})." if stopping
                         else "as it is now."))
    elif stopping and getattr(history, "stopped_early", False):
        console.print(f"Early stopping after {len(history)} epochs: the {watched} loss last "
                      f"improved at epoch {kept}, and that epoch's weights are kept.")
    elif stopping:
        console.print(f"Trained all {len(history)} epochs; the best {watched} loss was at "
                      f"epoch {kept}, and that epoch's weights are kept.")
    fit_seconds = time.perf_counter() - t_fit

    # --- results ---
    try:
        metrics = {"train": _metrics(net, ts.X_train, ts.y_train, task, target_scaler)}
        if n_val:
            metrics["validation"] = _metrics(net, ts.X_val, ts.y_val, task, target_scaler)
    finally:
        guard.__exit__(None, None, None)
    net.metadata = {
        "task": task,
        "target_name": args.target,
        "feature_names": features,
        "classes": classes,
        "scaling": scaler.to_dict() if args.standardize else None,
        "target_scaling": ({"mean": float(target_scaler.mean[0]),
                            "std": float(target_scaler.std[0])} if target_scaler else None),
        "training": {
            "data": os.path.basename(args.data), "rows": int(n_rows),
            "training_rows": int(n_train), "validation_rows": int(n_val),
            "epochs": len(history), "batch_size": args.batch_size,
            **({"interrupted": True} if interrupted else {}),
            **({"partial_epoch": partial} if partial else {}),
            "optimizer": args.optimizer, "learning_rate": lr, "seed": args.seed,
            "seconds": round(fit_seconds, 3), "final_loss": history["loss"][-1] if len(history) else None,
            "metrics": metrics,
            "early_stopping": ({"monitor": "val_loss" if n_val else "loss",
                                "patience": patience,
                                "stopped_early": bool(getattr(history, "stopped_early", False))}
                               if stopping else None),
            "kept_epoch": kept,
            # the per-epoch curves, for `glassnet doctor` (overfitting); kept_epoch: the
            # 0-based epoch whose weights were saved, when early stopping restored the best (the
            # training's kept_epoch above is the same epoch counted from 1, always set)
            "history": {key: list(history.history[key]) for key in ("loss", "val_loss")
                        if key in history.history} | {
                "kept_epoch": (history.epochs.index(history.best_epoch)
                               if history.best_epoch in history.epochs else None)},
        },
    }
    saved = _save_or_rescue(net, out, console)

    table = Table(title=f"Final metrics (epoch {kept} of {len(history)})", header_style="bold")
    table.add_column("metric")
    for split in metrics:
        table.add_column(split, justify="right")
    for k in metrics["train"]:
        table.add_row(k, *[_fmt(k, values[k]) for values in metrics.values()])
    stdout.print(table)
    if not all(np.isfinite(v) for v in metrics["train"].values()):
        stdout.print("[red]Training diverged (non-finite loss).[/] Try a smaller "
                     "--learning-rate, or run `glassnet doctor` on the data.")
    if saved != out:
        return 2
    stdout.print(f"Saved model to {str(out)}  (training {fit_seconds:.1f} s, "
                 f"{time.perf_counter() - t0:.1f} s in all)")
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
    """Accuracy and log loss (classification), or RMSE, MAE and R^2 in the target's units;
    chunk by chunk, so that a memory-mapped table's final table holds one chunk's values."""
    X = net.check_inputs(X)
    with np.errstate(all="ignore"):
        if task == "classification":
            out = M.scores(net, X, y, None, [M.get("accuracy")], check=True, encode=True)
            return {f"{prefix}loss": float(out["loss"]), f"{prefix}accuracy": float(out["accuracy"])}
        mse, mae, r2 = M.Mean(), M.Mean(), M.R2Sums()
        for start in range(0, X.shape[0], M.CHUNK_ROWS):
            _, a = M.outputs(net, X[start:start + M.CHUNK_ROWS])           # (rows, 1)
            pred = target_scaler.inverse(a)                                # (rows, 1)
            t = np.asarray(y[start:start + M.CHUNK_ROWS], np.float64).reshape(-1, 1)
            err = (pred - t)[:, 0]
            mse.add(err * err)
            mae.add(np.abs(err))
            r2.add(t, pred)
        return {f"{prefix}rmse": float(np.sqrt(mse.value())), f"{prefix}mae": mae.value(),
                f"{prefix}r2": r2.value()}


def _fmt(key: str, value: float) -> str:
    if "accuracy" in key:
        return f"{value:.1%}"
    return f"{value:.4g}"
