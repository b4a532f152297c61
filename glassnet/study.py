"""The initialization study: signal statistics through depth and training curves over seeds.

For each init scheme and seed, a deep, wide network ([64] + [width] * depth + [10]) is
built on the digits data and measured at initialization on a fixed batch of training
images: per hidden layer, the std of the activations, the RMS of the back-propagated
gradient dL/dz (per sample) and the RMS of the weight gradient dL/dW.  Then it is trained
with plain SGD, recording the training loss, test loss and test accuracy per epoch, and
every hidden layer's activation mean, std and saturated fraction per epoch (measured by
:class:`glassnet.doctor.Monitor` on a fixed batch of training images).  The grid of
(scheme, seed) runs goes through joblib (processes on this machine) or, given a
scheduler address, a Dask distributed cluster.

At reduced scale this reproduces two classic results:

* Glorot & Bengio (2010), tanh or sigmoid: the "standard" init U(-1/sqrt(n), 1/sqrt(n))
  (``torch_linear``) shrinks the activations layer after layer, while the normalized
  init (``xavier_uniform``) keeps their size and the back-propagated gradients' size
  roughly constant through depth.  With sigmoid units, training drives the top hidden
  layer's activations towards 0, into saturation, while the layers below stay near 0.5
  (their Figure 2; try ``--activation sigmoid --depth 4 --learning-rate 0.1
  --batch-size 10``).
* He et al. (2015), deep ReLU networks: with ``xavier_uniform`` or ``lecun_normal`` the
  signal halves in variance at every layer (ReLU zeroes half of it), with ``he_normal``
  (variance 2 / fan_in) it keeps its variance, and the deep network trains.

>>> cfg = StudyConfig(activation="tanh", depth=3, width=16, seeds=1, epochs=1)
>>> [s.scheme for s in grid(cfg)]
['torch_linear', 'xavier_uniform']
"""
from __future__ import annotations

import functools
import time
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from . import plots
from ._validation import GlassnetError, check_choice, check_float, check_int
from .activations import NAMES, OUTPUT_ONLY, RELU_FAMILY
from .callbacks import Callback
from .data import Standardizer
from .doctor import Monitor
from .doctor.stats import SATURATED_ROWS, SATURATION_SLOPE, measure
from .initializers import SymmetryWarning, resolve
from .io import atomic_write
from .network import Network
from .report import HtmlReport

#: schemes compared by default, by hidden activation
DEFAULT_SCHEMES = {
    "tanh": ["torch_linear", "xavier_uniform"],
    "sigmoid": ["torch_linear", "xavier_uniform"],
    "relu": ["xavier_uniform", "lecun_normal", "he_normal"],
}
_OTHER = ["torch_linear", "xavier_uniform", "he_normal"]
#: training rows used for the statistics at initialization
PROBE_ROWS = 512
#: the summary says a signal "stays within 10%" through depth only when the last hidden
#: layer's activation std is within this fraction of the first's; otherwise it gives the
#: factor ("shrinks 1.87-fold"), so no sentence calls 0.596 -> 0.318 a signal that keeps
#: its size
SAME_SIZE = 0.1


def default_schemes(activation: str) -> list[str]:
    """The schemes a study of ``activation`` compares unless told otherwise."""
    if activation in DEFAULT_SCHEMES:
        return list(DEFAULT_SCHEMES[activation])
    return list(DEFAULT_SCHEMES["relu"] if activation in RELU_FAMILY else _OTHER)


@dataclass(frozen=True)
class StudyConfig:
    """What to compare and at which scale."""

    activation: str = "tanh"
    depth: int = 10
    width: int = 256
    seeds: int = 5
    schemes: tuple = ()            # empty: default_schemes(activation)
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 0.01
    optimizer: str = "sgd"
    first_seed: int = 0

    def checked(self) -> "StudyConfig":
        check_choice("activation", self.activation, [n for n in NAMES if n not in OUTPUT_ONLY])
        check_int("depth", self.depth, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("seeds", self.seeds, minimum=1)
        check_int("epochs", self.epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("learning_rate", self.learning_rate, strictly_positive=True)
        check_int("first_seed", self.first_seed, minimum=0)
        schemes = tuple(self.schemes) or tuple(default_schemes(self.activation))
        labels = [scheme_label(s) for s in schemes]
        if len(set(labels)) != len(labels):
            raise GlassnetError(f"schemes repeat a name: {labels}.")
        for s in schemes:   # fail here, not in a worker
            resolve(s, self.activation)
        return replace(self, schemes=schemes)


@dataclass(frozen=True)
class RunSpec:
    """One cell of the grid: everything a worker needs (plain, picklable values)."""

    scheme: Any
    label: str
    seed: int
    activation: str
    depth: int
    width: int
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str


def scheme_label(scheme) -> str:
    """'normal' or 'normal(std=0.1)' for a scheme given as a name or (name, params)."""
    if isinstance(scheme, str):
        return scheme
    if isinstance(scheme, (tuple, list)) and len(scheme) == 2:
        name, params = scheme
        return f"{name}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in params.items()) + ")"
    if isinstance(scheme, dict):
        params = {k: v for k, v in scheme.items() if k != "name"}
        return scheme_label((scheme["name"], params))
    return str(scheme)


def grid(config: StudyConfig) -> list[RunSpec]:
    """Every (scheme, seed) run of the study, schemes outermost."""
    config = config.checked()
    return [RunSpec(scheme, scheme_label(scheme), config.first_seed + k, config.activation,
                    config.depth, config.width, config.epochs, config.batch_size,
                    config.learning_rate, config.optimizer)
            for scheme in config.schemes for k in range(config.seeds)]


# --- one run, in a worker ------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _digits():
    """Digits with standardised pixels, a fixed stratified 75/25 split (cached per process)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = Standardizer.fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def depth_statistics(net, X, y) -> dict:
    """Per hidden layer, on the batch (X, y): activation std, and the RMS of dL/dz (per
    sample) and of dL/dW for the batch's mean loss."""
    Xc, Y, _ = net.check_data(X, y)
    with np.errstate(all="ignore"):
        snap = measure(net, Xc, Y)
    hidden = snap.layers[:-1]
    return {
        "activation_std": [s.post_std for s in hidden],
        "gradient_rms": [s.delta_rms for s in hidden],
        "weight_grad_rms": [s.grad_norm / np.sqrt(s.fan_in * s.units) for s in hidden],
    }


def run_one(spec: RunSpec, on_epoch: Callable[[int], None] | None = None) -> dict:
    """Build, measure and train one network; returns plain numbers (lists per layer/epoch).

    ``on_epoch(epochs_done)`` is called after each training epoch (progress within a run).
    """
    start = time.perf_counter()
    X_train, X_test, y_train, y_test = _digits()
    sizes = [X_train.shape[1]] + [spec.width] * spec.depth + [10]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SymmetryWarning)
        net = Network(sizes, activation=spec.activation, init=spec.scheme, seed=spec.seed)
    probe = X_train[:PROBE_ROWS], y_train[:PROBE_ROWS]
    with warnings.catch_warnings():      # a data-dependent init (lsuv) finishes on the probe
        warnings.simplefilter("ignore", RuntimeWarning)
        net.initialize_on_data(probe[0][:256])
    stats = depth_statistics(net, *probe)

    test_loss, test_acc = [], []

    class TestCurve(Callback):
        def on_epoch_end(self, ctx, logs):
            with np.errstate(all="ignore"):
                out = ctx.net.evaluate(X_test, y_test)
            test_loss.append(float(out["loss"]))
            test_acc.append(float(out["accuracy"]))
            if on_epoch is not None:
                on_epoch(ctx.epoch + 1)

    # per epoch, every hidden layer on a fixed batch: [epoch][layer], epoch 0 = the init
    monitor = Monitor(probe_size=PROBE_ROWS, seed=spec.seed)
    with np.errstate(all="ignore"):
        history = net.fit(X_train, y_train, epochs=spec.epochs, batch_size=spec.batch_size,
                          optimizer=spec.optimizer, learning_rate=spec.learning_rate,
                          callbacks=[TestCurve(), monitor])
    layers = {key: monitor.history(field)[:, :-1].tolist() for key, field in
              (("layer_mean", "post_mean"), ("layer_std", "post_std"),
               ("layer_saturated", "saturated_fraction"))}
    return {"label": spec.label, "seed": spec.seed, **stats,
            "loss": [float(v) for v in history["loss"]],
            "test_loss": test_loss, "test_accuracy": test_acc, **layers,
            "seconds": time.perf_counter() - start}


# --- the grid ----------------------------------------------------------------------------------

def run_grid(specs: Sequence[RunSpec], *, n_jobs: int = 1, scheduler=None,
             on_result: Callable[[dict], None] | None = None,
             on_epoch: Callable[[int, int], None] | None = None) -> list[dict]:
    """Run every spec; results come back in the order of ``specs``.

    ``scheduler`` None runs through joblib with ``n_jobs`` processes (1: in this process).
    Otherwise it is a Dask scheduler address (``"tcp://host:8786"``) or a
    ``dask.distributed.Client``, and the runs are spread over that cluster's workers
    (which need glassnet and scikit-learn installed).  ``on_result`` is called as each run
    finishes, in completion order; ``on_epoch(index, epochs_done)`` as a run (``specs[index]``)
    finishes an epoch, in this process and through joblib (not on a Dask cluster, whose
    workers may share no disk with this machine).
    """
    specs = list(specs)
    results: list = [None] * len(specs)
    report = on_result or (lambda r: None)
    if scheduler is not None:
        _run_dask(specs, scheduler, results, report)
        return results
    workers = n_workers(n_jobs, len(specs))
    if workers == 1:
        for i, spec in enumerate(specs):
            results[i] = run_one(spec, None if on_epoch is None else
                                 functools.partial(on_epoch, i))
            report(results[i])
        return results
    from joblib import Parallel, delayed
    parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
    with _EpochFiles(on_epoch) as folder:
        for i, result in parallel(delayed(_indexed)(i, spec, folder)
                                  for i, spec in enumerate(specs)):
            results[i] = result
            report(result)
    return results


def n_workers(n_jobs, runs: int) -> int:
    """The processes joblib really starts for ``runs`` runs: -1 is every core, never more
    processes than runs."""
    n_jobs = check_int("n_jobs", n_jobs) if n_jobs is not None else 1
    if n_jobs == 0:
        raise GlassnetError("n_jobs must be a positive number of processes, or -1 for all "
                            "cores; got 0.")
    if n_jobs == 1 or runs <= 1:
        return 1
    from joblib import effective_n_jobs
    return max(1, min(effective_n_jobs(n_jobs), runs))


def _indexed(i: int, spec: RunSpec, folder: str | None = None):
    on_epoch = None
    if folder is not None:
        def on_epoch(done: int) -> None:     # a tiny file per run, replaced whole
            import os
            path = os.path.join(folder, str(i))
            with open(path + ".tmp", "w") as f:
                f.write(str(done))
            os.replace(path + ".tmp", path)
    return i, run_one(spec, on_epoch)


class _EpochFiles:
    """Progress within runs from joblib's worker processes: each run writes its count of
    finished epochs into a small file of its own in a temporary folder, and a thread here
    reads the folder four times a second and calls ``on_epoch(index, epochs_done)``."""

    def __init__(self, on_epoch):
        self.on_epoch = on_epoch

    def __enter__(self):
        if self.on_epoch is None:
            return None
        import tempfile
        import threading
        self._tmp = tempfile.TemporaryDirectory(prefix="glassnet-study-")
        self._seen: dict = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self._tmp.name

    def _poll(self) -> None:
        import os
        for name in os.listdir(self._tmp.name):
            if name.endswith(".tmp"):
                continue
            try:
                with open(os.path.join(self._tmp.name, name)) as f:
                    done = int(f.read())
            except (OSError, ValueError):
                continue
            if done > self._seen.get(name, 0):
                self._seen[name] = done
                self.on_epoch(int(name), done)

    def _watch(self) -> None:
        while not self._done.wait(0.25):
            self._poll()

    def __exit__(self, *exc):
        if self.on_epoch is None:
            return
        self._done.set()
        self._thread.join()
        self._poll()
        self._tmp.cleanup()


def _run_dask(specs, scheduler, results, report) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - an optional extra
        raise GlassnetError("--scheduler needs dask.distributed: pip install "
                            "'glassnet[dask]'.") from None
    own = not isinstance(scheduler, Client)
    if own:
        check_address(scheduler)
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise GlassnetError(f"Cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    else:
        client = scheduler
    try:
        futures = client.map(_indexed, range(len(specs)), specs, pure=False)
        for future in as_completed(futures, loop=client.loop):
            i, result = future.result()
            results[i] = result
            report(result)
    finally:
        if own:
            client.close()


def check_address(address) -> None:
    """A malformed scheduler address is refused before a Client is made: a Client that fails
    to parse it lingers and stalls the interpreter's exit for 20 s."""
    from distributed.comm.addressing import parse_address, parse_host_port
    try:
        if not isinstance(address, str):
            raise ValueError(f"expected a string such as 'tcp://host:8786', got "
                             f"{type(address).__name__}")
        scheme, location = parse_address(address)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as exc:
        raise GlassnetError(f"The Dask scheduler address {address!r} is not valid ({exc}); "
                            "expected e.g. tcp://host:8786.") from None


# --- tables ----------------------------------------------------------------------------------

class Tables(NamedTuple):
    """The numbers behind every figure, as pandas DataFrames (one CSV file each).

    depth: one row per (scheme, seed, layer) at initialization; curves: per (scheme,
    seed, epoch); layers: per (scheme, seed, epoch, layer), epoch 0 being the init;
    summary: per scheme, means and stds over seeds of the key numbers.
    """

    depth: Any
    curves: Any
    layers: Any
    summary: Any


def tables(results: Sequence[dict]) -> Tables:
    """The study's results as :class:`Tables`."""
    import pandas as pd
    depth_rows, curve_rows, layer_rows = [], [], []
    for r in results:
        for l, (a, g, w) in enumerate(zip(r["activation_std"], r["gradient_rms"],
                                          r["weight_grad_rms"])):
            depth_rows.append({"scheme": r["label"], "seed": r["seed"], "layer": l + 1,
                               "activation_std": a, "gradient_rms": g, "weight_grad_rms": w})
        for e, (lo, tl, ta) in enumerate(zip(r["loss"], r["test_loss"], r["test_accuracy"])):
            curve_rows.append({"scheme": r["label"], "seed": r["seed"], "epoch": e + 1,
                               "loss": lo, "test_loss": tl, "test_accuracy": ta})
        for e, (means, stds, sats) in enumerate(zip(r["layer_mean"], r["layer_std"],
                                                     r["layer_saturated"])):
            for l, (m, sd, sat) in enumerate(zip(means, stds, sats)):
                layer_rows.append({"scheme": r["label"], "seed": r["seed"], "epoch": e,
                                   "layer": l + 1, "activation_mean": m,
                                   "activation_std": sd, "saturated_fraction": sat})
    depth = pd.DataFrame(depth_rows, columns=["scheme", "seed", "layer", "activation_std",
                                              "gradient_rms", "weight_grad_rms"])
    curves = pd.DataFrame(curve_rows, columns=["scheme", "seed", "epoch", "loss", "test_loss",
                                               "test_accuracy"])
    layers = pd.DataFrame(layer_rows, columns=["scheme", "seed", "epoch", "layer",
                                               "activation_mean", "activation_std",
                                               "saturated_fraction"])
    summary_rows = []
    for label in dict.fromkeys(r["label"] for r in results):
        runs = [r for r in results if r["label"] == label]
        act = np.array([r["activation_std"] for r in runs])       # (seeds, layers)
        grad = np.array([r["gradient_rms"] for r in runs])
        row = {"scheme": label, "seeds": len(runs),
               "act_std_first": act[:, 0].mean(), "act_std_last": act[:, -1].mean(),
               "act_std_last_spread": act[:, -1].std(),
               "grad_rms_first": grad[:, 0].mean(), "grad_rms_last": grad[:, -1].mean()}
        with np.errstate(all="ignore"):
            row["act_ratio_last_first"] = float(np.mean(act[:, -1] / act[:, 0]))
            row["grad_ratio_first_last"] = float(np.mean(grad[:, 0] / grad[:, -1]))
        if runs[0]["loss"]:
            top = np.array([[r["layer_mean"][0][-1], r["layer_mean"][-1][-1]] for r in runs])
            row.update({"top_mean_start": top[:, 0].mean(), "top_mean_end": top[:, 1].mean()})
            final_loss = np.array([r["loss"][-1] for r in runs])
            final_acc = np.array([r["test_accuracy"][-1] for r in runs])
            row.update({"final_loss_mean": final_loss.mean(), "final_loss_std": final_loss.std(),
                        "test_accuracy_mean": final_acc.mean(),
                        "test_accuracy_std": final_acc.std()})
        summary_rows.append(row)
    return Tables(depth, curves, layers, pd.DataFrame(summary_rows))


def figures(results: Sequence[dict], config: StudyConfig) -> dict:
    """name -> (Figure, caption) for the depth profiles and the training curves."""
    labels = list(dict.fromkeys(r["label"] for r in results))
    by = {lab: [r for r in results if r["label"] == lab] for lab in labels}

    def stack(key):
        return {lab: np.array([r[key] for r in by[lab]], dtype=float) for lab in labels}

    net = f"[64] + [{config.width}] x {config.depth} + [10], {config.activation}"
    figs = {"depth.png": (
        plots.depth_profiles({"activation std": stack("activation_std"),
                              "back-propagated gradient RMS (dL/dz)": stack("gradient_rms"),
                              "weight gradient RMS (dL/dW)": stack("weight_grad_rms")},
                             title=f"At initialization, through depth ({net}; "
                                   f"{config.seeds} seeds)",
                             log=["activation std", "back-propagated gradient RMS (dL/dz)",
                                  "weight gradient RMS (dL/dW)"]),
        "Per hidden layer at initialization, on 512 training images: the line is the mean "
        "over seeds (geometric mean on these log axes), the band spans the smallest to the "
        "largest seed. A flat line means the signal keeps its size through depth.")}
    if config.epochs:
        figs["curves.png"] = (
            plots.seed_curves({"training loss": stack("loss"), "test loss": stack("test_loss"),
                               "test accuracy": stack("test_accuracy")},
                              title=f"Training with SGD (lr {config.learning_rate:g}, batch "
                                    f"{config.batch_size}) over {config.seeds} seeds",
                              log=["training loss", "test loss"]),
            "Mean over seeds per epoch; the band spans the smallest to the largest seed.")
        figs["layers.png"] = (
            plots.layers_over_training(
                {"activation mean": stack("layer_mean"), "activation std": stack("layer_std"),
                 "saturated fraction": stack("layer_saturated")},
                title=f"Hidden activations during training ({net})",
                ylim={"saturated fraction": (-0.02, 1.02)}),
            f"Every hidden layer's activations on {PROBE_ROWS} training images, at "
            "initialization (epoch 0) and after each epoch, mean over seeds; one line per "
            "layer, dark the first, light the last. Saturated: a tanh or sigmoid unit whose "
            f"slope is under {SATURATION_SLOPE:.0%} of its peak on at least "
            f"{SATURATED_ROWS:.0%} of the images. With sigmoid "
            "units, Glorot & Bengio (2010) saw the top hidden layer pushed towards 0, into "
            "saturation, early in training.")
    return figs


def conclusions(summary) -> list[str]:
    """Sentences read off the summary table (no claim that the numbers do not support)."""
    lines = []
    for _, row in summary.iterrows():
        ratio = row["act_ratio_last_first"]
        change = (f"stays within {SAME_SIZE:.0%}" if abs(ratio - 1) <= SAME_SIZE else
                  f"shrinks {1 / ratio:.3g}-fold" if ratio < 1 else f"grows {ratio:.3g}-fold")
        text = (f"{row['scheme']}: from the first to the last hidden layer the activation std "
                f"{change} ({row['act_std_first']:.3g} -> {row['act_std_last']:.3g}); the "
                f"back-propagated gradient RMS goes {row['grad_rms_last']:.3g} -> "
                f"{row['grad_rms_first']:.3g} from the last layer down to the first")
        if "test_accuracy_mean" in row and np.isfinite(row.get("test_accuracy_mean", np.nan)):
            text += (f"; the top hidden layer's mean activation goes {row['top_mean_start']:.3g}"
                     f" -> {row['top_mean_end']:.3g} during training"
                     f"; after training, loss {row['final_loss_mean']:.3g} +- "
                     f"{row['final_loss_std']:.2g} and test accuracy "
                     f"{row['test_accuracy_mean']:.1%} +- {row['test_accuracy_std']:.1%}")
        lines.append(text + ".")
    return lines


def write_outputs(out, results: Sequence[dict], config: StudyConfig, *,
                  command: str = "", seconds: float | None = None) -> dict:
    """Write depth.csv, curves.csv, summary.csv, the PNGs and index.html into ``out``."""
    from pathlib import Path

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GlassnetError(f"Cannot create the output folder {str(out)!r}: "
                            f"{exc.strerror or exc}.") from None
    found = tables(results)
    summary = found.summary
    paths = {}
    for name, frame in (("depth.csv", found.depth), ("curves.csv", found.curves),
                        ("layers.csv", found.layers), ("summary.csv", summary)):
        with atomic_write(out / name, "w") as f:
            frame.to_csv(f, index=False, float_format="%.6g")
        paths[name] = out / name
    figs = figures(results, config)
    report = HtmlReport(f"glassnet study init: {config.activation}, depth {config.depth}, "
                        f"width {config.width}",
                        "Activation and gradient statistics through depth, and training "
                        "curves over seeds, for each init scheme.")
    report.paragraph(_EXPECTATION.get(config.activation, _EXPECTATION["other"]), note=True)
    report.heading("Summary")
    cols = [c for c in summary.columns]
    report.table(cols, summary.values.tolist())
    report.bullets(conclusions(summary))
    for name, (fig, caption) in figs.items():
        png = plots.save_png(fig, out / name)
        paths[name] = out / name
        report.figure(png, caption, alt=name, file_name=name)
    report.heading("Data")
    report.paragraph("depth.csv: per scheme, seed and hidden layer, at initialization. "
                     "curves.csv: per scheme, seed and epoch. layers.csv: per scheme, seed, "
                     "epoch and hidden layer, during training. summary.csv: per scheme, over "
                     "seeds. Study settings: "
                     + ", ".join(f"{k}={v}" for k, v in asdict(config).items()) + ".")
    if command:
        report.heading("Reproduce")
        report.pre(command)
    if seconds is not None:
        report.paragraph(f"Total time {seconds:.1f} s.")
    paths["index.html"] = report.write(out / "index.html")
    return paths


_EXPECTATION = {
    "tanh": "Glorot & Bengio (2010) at reduced scale: with the standard init "
            "U(-1/sqrt(n), 1/sqrt(n)) (torch_linear) the activations shrink from layer to "
            "layer, while the normalized init (xavier_uniform) keeps the activations and the "
            "back-propagated gradients at about the same size in every layer.",
    "sigmoid": "Glorot & Bengio (2010) at reduced scale, for sigmoid networks: training "
               "drives the top hidden layer's activations towards 0, into saturation, while "
               "the layers below stay near 0.5, and learning stalls; they trace it to the "
               "sigmoid's non-zero mean, so a better-scaled init does not remove it. Through "
               "depth the back-propagated gradient shrinks at every layer (the sigmoid's "
               "slope is at most 1/4). The effect needs steps of some size: try "
               "--learning-rate 0.1 --batch-size 10.",
    "relu": "He et al. (2015) at reduced scale: ReLU zeroes half of the signal, so with "
            "variance 1/fan_in (lecun_normal) or 2/(fan_in + fan_out) (xavier_uniform) the "
            "activations halve in variance at every layer; he_normal's 2/fan_in keeps them "
            "constant, and the deep network trains.",
    "other": "How each init scheme carries the signal forward (activations) and the error "
             "backward (gradients) through depth, and how the network then trains.",
}
