"""``glassnet demo``: one network, six initializations, and what each one does to learning.

On scikit-learn's 8x8 handwritten digits (pixels scaled to [0, 1], a fixed stratified 75/25
split), the same tanh network [64, 32, 32, 10] is trained with the same SGD settings from
each of: zeros, a constant (0.05), normal(0, 1), xavier, he and lsuv.  For each run it
measures test accuracy, final training loss, the number of distinct hidden units per layer,
how far each layer's weights moved (||W_end - W_start||), and asks the doctor for a
verdict on the initial network.  It prints a table and writes a report folder: index.html
(self-contained) and PNG figures of the loss curves, the activation statistics per layer,
and the first layer's weights drawn as 8x8 images.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from .. import doctor, optimizers, plots
from .._validation import GlassnetError, check_choice
from ..activations import NAMES, OUTPUT_ONLY
from ..callbacks import Callback
from ..doctor.stats import SATURATED_ROWS, SATURATION_SLOPE, distinct_units
from ..initializers import SymmetryWarning
from ..io import atomic_write
from ..network import Network
from ..report import HtmlReport
from ..training import DivergenceError

HELP = ("Train one digits network from six initializations (zeros, constant, normal(0, 1), "
        "xavier, he, lsuv) and report why some never learn.")

#: (label, init spec) in the order of the story: two symmetric failures, a badly scaled
#: draw, then three schemes that learn
INITS = [
    ("zeros", "zeros"),
    ("constant", ("constant", {"value": 0.05})),
    ("normal(0, 1)", ("normal", {"mean": 0.0, "std": 1.0})),
    ("xavier", "xavier_uniform"),
    ("he", "he_normal"),
    ("lsuv", "lsuv"),
]
_KEYS = {"zeros": "zeros", "constant": "constant", "normal": "normal(0, 1)",
         "xavier": "xavier", "he": "he", "lsuv": "lsuv"}

DEFAULT_EPOCHS = 30
QUICK_EPOCHS = 5


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 32,32; "
                                         f"got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers such as 32,32; got {text!r}")
    return values


def _inits(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    bad = [n for n in names if n not in _KEYS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown init(s) {bad or text!r}; choose from "
                                         f"{', '.join(_KEYS)}")
    return names


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="glassnet-report", metavar="DIR",
                   help="report folder to write (default: ./glassnet-report/)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs per init (default {DEFAULT_EPOCHS}; "
                        f"{QUICK_EPOCHS} with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"a fast look: {QUICK_EPOCHS} epochs per init")
    p.add_argument("--activation", default="tanh",
                   help="hidden activation (default tanh; try relu)")
    p.add_argument("--hidden", type=_int_list, default=[32, 32], metavar="N,N",
                   help="hidden layer widths (default 32,32)")
    p.add_argument("--learning-rate", type=float, default=0.1, help="SGD step size (0.1)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (32)")
    p.add_argument("--seed", type=int, default=0, help="seed for every network (0)")
    p.add_argument("--inits", type=_inits, default=list(_KEYS), metavar="NAME,...",
                   help="which inits to run (default: " + ",".join(_KEYS) + ")")


# --- the experiment -------------------------------------------------------------------------

@dataclass
class Run:
    """One init's results."""

    label: str
    spec: object
    symmetry_warning: str | None = None
    verdict: str = ""
    diagnosis: str = ""
    weights_start: list = field(default_factory=list)
    weights_end: list = field(default_factory=list)
    loss: list = field(default_factory=list)             # training loss per epoch
    test_loss: list = field(default_factory=list)        # epoch 0 (init) .. epochs
    test_accuracy: list = field(default_factory=list)    # epoch 0 (init) .. epochs
    act_std: list = field(default_factory=list)          # [epoch][hidden layer], 0 = init
    flat_fraction: list = field(default_factory=list)    # saturated or dead, [epoch][layer]
    distinct: list = field(default_factory=list)         # per hidden layer, after training
    diverged: str | None = None                          # how training blew up, if it did
    after: str = ""                                      # the Monitor's verdict on the run
    after_report: str = ""
    seconds: float = 0.0

    @property
    def moved(self) -> list:
        return [float(np.linalg.norm(b - a)) for a, b in zip(self.weights_start,
                                                              self.weights_end)]


def _load_digits():
    """Digits pixels scaled from 0..16 to [0, 1]; a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    return X_train, X_test, y_train, y_test


def _probe_class():

    class Probe(Callback):
        """Test loss and accuracy at initialization and after every epoch."""

        def __init__(self, run: Run, X_test, y_test, on_epoch):
            self.run, self.X, self.y, self.on_epoch = run, X_test, y_test, on_epoch

        def _record(self, net):
            with np.errstate(all="ignore"):
                out = net.evaluate(self.X, self.y)
            self.run.test_loss.append(float(out["loss"]))
            self.run.test_accuracy.append(float(out["accuracy"]))

        def on_epoch_begin(self, ctx, logs):
            if ctx.epoch == 0:   # after a data-dependent init (lsuv) has been finished
                self._record(ctx.net)

        def on_epoch_end(self, ctx, logs):
            self._record(ctx.net)
            self.on_epoch(ctx.epoch + 1, logs.get("loss", float("nan")))

    return Probe


def train_one(label, spec, data, *, hidden, activation, epochs, batch_size, learning_rate,
              seed, on_epoch=lambda epoch, loss: None) -> Run:
    """Build, diagnose and train one network; returns its :class:`Run`."""
    X_train, X_test, y_train, y_test = data
    run = Run(label, spec)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SymmetryWarning)
        net = Network([X_train.shape[1], *hidden, 10], activation=activation, init=spec,
                      seed=seed)
    sym = [w for w in caught if issubclass(w.category, SymmetryWarning)]
    for w in caught:
        if not issubclass(w.category, SymmetryWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    run.symmetry_warning = str(sym[0].message) if sym else None
    with warnings.catch_warnings():
        # LSUV finishes on data: the same first training rows fit would use
        warnings.simplefilter("ignore", RuntimeWarning)
        net.initialize_on_data(X_train[:min(len(X_train), max(batch_size, 256))])
    optimizer = optimizers.sgd(learning_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = doctor.diagnose(net.copy(), X_train, y_train, optimizer=optimizer,
                                 batch_size=batch_size)
    run.verdict = report.summary()
    run.diagnosis = str(report)
    run.weights_start = [w.copy() for w in net.weights]
    probe = _probe_class()(run, X_test, y_test, on_epoch)
    monitor = doctor.Monitor(probe_size=256, seed=seed)
    try:
        with np.errstate(all="ignore"):
            history = net.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                              optimizer="sgd", learning_rate=learning_rate,
                              callbacks=[probe, monitor])
    except DivergenceError as exc:   # a story too: keep what was recorded before it
        history = exc.history
        run.diverged = f"the loss became {exc.value} in epoch {exc.epoch + 1}"
    # (snapshots, layers): at the first step, then after every epoch; hidden layers only
    run.act_std = monitor.history("post_std")[:, :-1].tolist()
    flat = "dead_fraction" if net.activations[0].name == "relu" else "saturated_fraction"
    run.flat_fraction = monitor.history(flat)[:, :-1].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after = monitor.report()
    run.after = after.summary()
    run.after_report = str(after)
    run.loss = [float(v) for v in (history["loss"] if history is not None else [])]
    run.weights_end = [w.copy() for w in net.weights]
    run.distinct = [distinct_units(W, b) for W, b in zip(net.weights[:-1], net.biases[:-1])]
    run.seconds = time.perf_counter() - start
    return run


# --- the story, read off the measurements ---------------------------------------------------

def lesson(run: Run, width: list) -> str:
    """One sentence on what happened, derived from the run's numbers."""
    acc = run.test_accuracy[-1] if run.test_accuracy else float("nan")
    moved = run.moved
    if run.diverged:
        return (f"Training diverged ({run.diverged}); the network kept its last finite "
                f"weights (test accuracy {acc:.0%}). Try a smaller --learning-rate.")
    if all(m == 0 for m in moved):
        return ("No weight moved at all (||W_end - W_start|| = 0 in every layer): every "
                "hidden unit outputs 0, so no gradient reaches any weight and only the output "
                f"biases learned. Test accuracy {acc:.0%} is chance.")
    if run.distinct and all(d == 1 for d in run.distinct):
        return (f"The weights moved, but every hidden layer still has 1 distinct unit out of "
                f"{width[0]}: identical units receive identical updates, so each layer works "
                f"as a single unit. Test accuracy {acc:.0%}.")
    frozen = [i + 1 for i, m in enumerate(moved[:-1]) if m == 0]
    if frozen:
        return f"Hidden layer(s) {frozen} never moved. Test accuracy {acc:.0%}."
    flat0 = run.flat_fraction[0] if run.flat_fraction else []
    fell = len(run.loss) > 1 and run.loss[-1] < run.loss[0]
    if flat0 and max(flat0) >= 0.3:
        return (f"It starts with {max(flat0):.0%} of a hidden layer's units stuck in the flat "
                "part of the activation, where gradients vanish"
                + ("; the training loss still falls" if fell else "")
                + f", and it reaches {acc:.0%} test accuracy.")
    std0 = ", ".join(f"{v:.2f}" for v in run.act_std[0]) if run.act_std else "?"
    start = (f"Units start different, few of them stuck where the activation is flat "
             f"(hidden activation std {std0})")
    if acc >= 0.8:
        return f"{start}, and it learns: test accuracy {acc:.0%}."
    return (f"{start}, yet it reaches only {acc:.0%} test accuracy; the Monitor says: "
            f"{run.after}.")


def _fmt_list(values, fmt) -> str:
    return " · ".join(fmt(v) for v in values)


def _moved_text(run: Run) -> str:
    return _fmt_list(run.moved, lambda v: "0" if v == 0 else f"{v:.2g}")


def _distinct_text(run: Run, width: list) -> str:
    return _fmt_list(zip(run.distinct, width), lambda dw: f"{dw[0]}/{dw[1]}")


# --- output ---------------------------------------------------------------------------------

def _table(runs: list[Run], width: list):
    from rich.table import Table
    count = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(len(runs),
                                                                                str(len(runs)))
    table = Table(title=f"One network, {count} initialization{'s' * (len(runs) > 1)} "
                        "(digits, test set)",
                  title_style="bold", header_style="bold")
    table.add_column("init")
    table.add_column("test acc", justify="right")
    table.add_column("final loss", justify="right")
    table.add_column("distinct units", justify="right")
    table.add_column("||ΔW|| per layer", justify="right")
    table.add_column("doctor's verdict (at init)", overflow="fold", max_width=58)
    for r in runs:
        acc = r.test_accuracy[-1]
        style = "green" if acc >= 0.9 else ("red" if acc < 0.5 else "yellow")
        table.add_row(r.label, f"[{style}]{acc:.1%}[/]", f"{r.loss[-1]:.3f}" if r.loss else "-",
                      _distinct_text(r, width), _moved_text(r), r.verdict)
    return table


def _figures(runs: list[Run], activation: str, epochs: int) -> dict:
    """name -> (Figure, caption)."""
    curves = {r.label: {"loss": r.loss, "test_loss": r.test_loss,
                        "test_accuracy": r.test_accuracy} for r in runs}
    figs = {}
    figs["loss_curves.png"] = (
        plots.loss_curves(curves, title=f"Loss and test accuracy per init ({epochs} epochs)",
                          chance=0.1),
        "Training loss (solid) and test loss (dashed), and test accuracy, per epoch (epoch 0 "
        "is the initial network). zeros stays at ln 10 = 2.30 and chance accuracy.")
    # the doctor's own definitions, measured by the Monitor on its 256 training images
    relu = activation == "relu"
    flat_name = "fraction of units dead" if relu else "fraction of units saturated"
    flat_words = ("dead: output 0 on every one of the images" if relu else
                  f"saturated: slope under {SATURATION_SLOPE:.0%} of its peak on at least "
                  f"{SATURATED_ROWS:.0%} of the images")
    figs["activation_std.png"] = (
        plots.layer_stat_over_epochs(
            {r.label: r.act_std for r in runs}, ylabel="activation std",
            title=f"Hidden activations on 256 training images ({activation})",
            more={flat_name: {r.label: r.flat_fraction for r in runs}}),
        "Top: the activation std, the standard deviation of each hidden layer's activations "
        "over 256 training images and the layer's units together (not the doctor's signal "
        "std, which is taken per unit), measured by glassnet.doctor.Monitor at "
        "initialization (epoch 0) and after each epoch; zero means the layer carries no "
        "signal. Bottom: the "
        f"share of units stuck where the activation is flat ({flat_words}).")
    notes = {r.label: ("all 0" if not np.any(r.weights_end[0]) else
                       "identical" if r.distinct and r.distinct[0] == 1 else "")
             for r in runs}
    figs["first_layer_weights.png"] = (
        plots.unit_images({r.label: r.weights_end[0] for r in runs}, n_units=8,
                          title="First-layer weights after training: 8 hidden units per init "
                                "(red +, blue -, white 0)", notes=notes),
        "Each image is one hidden unit's 64 incoming weights laid out as the 8x8 image it "
        "looks at. zeros: blank. constant: every unit the same picture. Random inits: every "
        "unit different, each its own detector (the initial noise still shows; the next "
        "figure subtracts it).")
    figs["first_layer_learned.png"] = (
        plots.unit_images({r.label: r.weights_end[0] - r.weights_start[0] for r in runs},
                          n_units=8, title="What training added to those weights: "
                                           "W_end - W_start", notes=notes),
        "The change training made to the same units' weights, which the initial noise hides "
        "above: pen-stroke patterns, a different one for each unit when the init is random; "
        "one shared pattern under a constant; nothing under zeros.")
    return figs


def _write_report(out: Path, runs, figs, config: dict, width, seconds: float) -> Path:
    """index.html; ``figs`` maps a PNG's file name to (PNG bytes, caption)."""
    r = HtmlReport("glassnet demo: why initialization matters",
                   f"One network, {len(runs)} initialization{'s' * (len(runs) > 1)}, the same "
                   "data and optimizer.")
    r.paragraph(
        f"Data: scikit-learn's 8x8 handwritten digits, pixels scaled to [0, 1], "
        f"{config['n_train']} training and {config['n_test']} test images (fixed stratified "
        f"split). Network: {config['layers']} with {config['activation']} hidden units and a "
        f"softmax output, trained with plain SGD (learning rate {config['learning_rate']}, "
        f"batch size {config['batch_size']}) for {config['epochs']} epochs, seed "
        f"{config['seed']}. Only the initialization differs.")
    r.heading("Results")
    rows, classes = [], []
    for run in runs:
        acc = run.test_accuracy[-1]
        rows.append([run.label, f"{acc:.1%}", f"{run.loss[-1]:.3f}" if run.loss else "-",
                     _distinct_text(run, width), _moved_text(run), run.verdict])
        classes.append("good" if acc >= 0.9 else "bad" if acc < 0.5 else None)
    r.table(["init", "test accuracy", "final training loss", "distinct hidden units",
             "||W_end - W_start|| per layer", "doctor's verdict (at init)"], rows, classes)
    r.heading("What happened")
    r.bullets([f"{run.label}: {lesson(run, width)}" for run in runs])
    headings = {"loss_curves.png": "Loss curves", "activation_std.png": "Signals per layer",
                "first_layer_weights.png": "What the first-layer units look at",
                "first_layer_learned.png": None}
    for name, (png, caption) in figs.items():
        if headings.get(name):
            r.heading(headings[name])
        r.figure(png, caption, alt=name, file_name=name)
    r.heading("The doctor's full reports")
    for run in runs:
        r.details(f"{run.label}, at initialization: {run.verdict}", run.diagnosis)
        r.details(f"{run.label}, the Monitor on the training run: {run.after}",
                  run.after_report)
        if run.symmetry_warning:
            r.details(f"{run.label}: the SymmetryWarning glassnet raised at construction",
                      run.symmetry_warning)
    r.heading("Reproduce")
    r.pre(config["command"])
    r.paragraph(f"Total time {seconds:.1f} s.")
    return r.write(out / "index.html")


def _write_results(path: Path, runs: list[Run], config: dict) -> None:
    """The numbers behind the table and the figures, as JSON (written atomically)."""
    import json

    doc = {"config": config, "runs": [{
        "init": r.label, "test_accuracy": r.test_accuracy[-1],
        "final_loss": r.loss[-1] if r.loss else None, "diverged": r.diverged,
        "distinct_units": r.distinct, "weights_moved": r.moved,
        "verdict": r.verdict, "monitor_verdict": r.after,
        "symmetry_warning": r.symmetry_warning is not None,
        "loss": r.loss, "test_loss": r.test_loss, "test_accuracy_curve": r.test_accuracy,
        "activation_std": r.act_std, "flat_fraction": r.flat_fraction,
        "seconds": round(r.seconds, 3)} for r in runs]}
    with atomic_write(path, "w") as f:
        json.dump(doc, f, indent=1)


def run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    check_choice("--activation", args.activation, [n for n in NAMES if n not in OUTPUT_ONLY],
                 "option")
    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick
                                                          else DEFAULT_EPOCHS)
    for name, value in (("--epochs", epochs), ("--batch-size", args.batch_size)):
        if value < 1:
            raise GlassnetError(f"{name} must be at least 1; got {value}.")
    if not 0 < args.learning_rate < float("inf"):
        raise GlassnetError(f"--learning-rate must be a finite number > 0; got "
                            f"{args.learning_rate}.")
    if args.seed < 0:   # checked before the report folder is made
        raise GlassnetError(f"--seed must be >= 0; got {args.seed}.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise GlassnetError(f"--out {str(out)!r} is a file; the report needs a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GlassnetError(f"Cannot create the report folder {str(out)!r}: "
                            f"{exc.strerror or exc}.") from None
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=120)
    stdout = Console()
    if not stdout.is_terminal:   # piped or captured: wide enough for the table
        stdout = Console(width=150)
    t0 = time.perf_counter()
    data = _load_digits()
    chosen = [(label, spec) for label, spec in INITS if label in {_KEYS[k] for k in args.inits}]
    layers = [data[0].shape[1], *args.hidden, 10]
    console.print(f"[bold]glassnet demo[/]: digits, network {layers} ({args.activation}), "
                  f"SGD lr {args.learning_rate}, {epochs} epochs, {len(chosen)} inits")
    runs = []
    with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("training", total=len(chosen) * epochs, status="")
        for i, (label, spec) in enumerate(chosen):
            progress.update(task, description=f"[{i + 1}/{len(chosen)}] {label}", status="")

            def on_epoch(epoch, loss, _task=task):
                progress.update(_task, advance=1, status=f"epoch {epoch} loss {loss:.3f}")

            result = train_one(label, spec, data, hidden=args.hidden, activation=args.activation,
                               epochs=epochs, batch_size=args.batch_size,
                               learning_rate=args.learning_rate, seed=args.seed,
                               on_epoch=on_epoch)
            runs.append(result)
            note = "  (SymmetryWarning at construction)" if result.symmetry_warning else ""
            progress.console.print(
                f"  {label:<13} test accuracy {result.test_accuracy[-1]:6.1%}   "
                f"{result.seconds:4.1f} s{note}")
        progress.update(task, description="figures and report", status="")
        figs = {name: (plots.save_png(fig, out / name), caption)
                for name, (fig, caption) in _figures(runs, args.activation, epochs).items()}
        argv = ["glassnet", "demo"] + (sys.argv[2:] if len(sys.argv) > 2 and
                                       sys.argv[1] == "demo" else [])
        config = {"n_train": len(data[0]), "n_test": len(data[1]), "layers": layers,
                  "activation": args.activation, "learning_rate": args.learning_rate,
                  "batch_size": args.batch_size, "epochs": epochs, "seed": args.seed,
                  "command": " ".join(argv)}
        _write_results(out / "results.json", runs, config)
        index = _write_report(out, runs, figs, config, args.hidden,
                              time.perf_counter() - t0)
    stdout.print(_table(runs, args.hidden))
    for r in runs:
        if r.symmetry_warning:
            stdout.print(f"[dim]{r.label}: glassnet warned at construction (SymmetryWarning): "
                         f"{_first_line(r.symmetry_warning)}[/]")
    stdout.print()
    for r in runs:
        stdout.print(f"[bold]{r.label}[/]: {lesson(r, args.hidden)}")
    stdout.print(f"\nReport: {os.fspath(index)}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def _first_line(text: str) -> str:
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "")
