"""Figures for the demo, the study and your own runs, drawn with matplotlib's Agg canvas.

Every function takes plain numbers (lists, arrays, dicts of them), returns a
``matplotlib.figure.Figure`` and touches no global state: no pyplot, no display, so it
works on a server and in a test.  :func:`save_png` writes a figure atomically.
matplotlib is imported inside the functions (it is an optional extra: ``glassnet[cli]``).

>>> import glassnet, numpy as np
>>> net = glassnet.Network([2, 4, 2], seed=0)
>>> h = net.fit(np.eye(2), [0, 1], epochs=3)
>>> fig = history(h)
>>> [ax.get_ylabel() for ax in fig.axes]
['loss']
"""
from __future__ import annotations

import io as _io
from typing import Mapping, Sequence

import numpy as np
from .io import atomic_write

#: one colour per name, stable across figures (matplotlib's tab10 order)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def colors(names: Sequence[str]) -> dict:
    """A colour per name, in order, cycling through :data:`PALETTE`."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _style(ax, title: str | None = None, xlabel: str | None = None,
           ylabel: str | None = None) -> None:
    if title:
        ax.set_title(title, fontsize=11)
    if xlabel:
        ax.set_xlabel(xlabel)
        if "epoch" in xlabel or "layer" in xlabel:
            from matplotlib.ticker import MaxNLocator
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def save_png(fig, path) -> bytes:
    """Render ``fig`` to PNG, write it atomically to ``path`` and return the PNG bytes
    (so a report can embed the very same image without drawing it twice)."""
    png = png_bytes(fig)
    with atomic_write(path, "wb") as f:
        f.write(png)
    return png


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (for embedding in HTML)."""
    buf = _io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --- training curves --------------------------------------------------------------------------

def history(hist, title: str = "Training history"):
    """A :class:`glassnet.History` against epoch: the losses (``loss``, ``val_loss``) on the
    left; metrics (``accuracy``, ``val_accuracy``, ...) and a learning rate that changes, on
    further panels."""
    data = hist.to_dict() if hasattr(hist, "to_dict") else dict(hist)
    epochs = data.pop("epochs", None)
    data.pop("interrupted", None)
    series = {k: [float(x) for x in v] for k, v in data.items()
              if isinstance(v, (list, tuple)) and v}
    rates = series.pop("learning_rate", None)
    losses = {k: v for k, v in series.items() if "loss" in k}
    others = {k: v for k, v in series.items() if k not in losses}
    panels = [("loss", losses)] + ([("metrics", others)] if others else [])
    if rates and len(set(rates)) > 1:
        panels.append(("learning rate", {"learning_rate": rates}))
    fig = _figure(4.2 * len(panels) + 1.5, 3.8)
    for i, (label, group) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key, values in group.items():
            x = (np.arange(len(values)) if epochs is None else np.asarray(epochs)[:len(values)]) + 1
            ax.plot(x, values, label=key, linewidth=1.8,
                    linestyle="--" if key.startswith("val_") else "-")
        _style(ax, title if i == 0 else None, "epoch", label)
        if label == "loss":
            _log_if_wide(ax, [v for vs in group.values() for v in vs])
        ax.legend(frameon=False)
    return fig


def _legend_and_title(fig, title: str, **legend_kw):
    """The first panel's legend to the right of the panels, and the figure's title."""
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, **legend_kw)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


def _log_axis(ax) -> None:
    """A log y axis labelled 0.01, 0.2, 3 rather than 10^-2, 2x10^-1."""
    from matplotlib.ticker import FuncFormatter, LogLocator
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_locator(LogLocator(subs=(2, 5)))
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="minor", labelsize=8)


def _log_if_wide(ax, values) -> None:
    """Log scale when positive values span more than a factor of 30."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size and np.all(v > 0) and v.max() / v.min() > 30:
        _log_axis(ax)


def loss_curves(runs: Mapping[str, Mapping[str, Sequence[float]]], *,
                title: str = "Loss and accuracy per epoch", accuracy_key: str = "test_accuracy",
                chance: float | None = None):
    """Left: training loss (solid) and test loss (dashed) per run; right: test accuracy.

    ``runs`` maps a run's name to ``{"loss": [...], "test_loss": [...],
    "test_accuracy": [...]}`` (per epoch; epoch 0 is before training when the test series
    is one longer than the training loss).
    """
    names = list(runs)
    palette = colors(names)
    has_acc = any(runs[n].get(accuracy_key) for n in names)
    fig = _figure(11 if has_acc else 6.5, 4.2)
    ax = fig.add_subplot(1, 2 if has_acc else 1, 1)
    all_values = []
    for name in names:
        r = runs[name]
        loss = list(r.get("loss", []))
        ax.plot(np.arange(1, len(loss) + 1), loss, color=palette[name], linewidth=2,
                label=name)
        all_values += loss
        test = list(r.get("test_loss", []))
        if test:
            start = 0 if len(test) == len(loss) + 1 else 1
            ax.plot(np.arange(start, start + len(test)), test, color=palette[name],
                    linewidth=1.2, linestyle="--", alpha=0.8)
            all_values += test
    _style(ax, "Loss: training (solid), test (dashed)", "epoch", "cross-entropy loss")
    _log_if_wide(ax, all_values)
    ax.legend(frameon=False, fontsize=9, ncols=2)
    if has_acc:
        ax2 = fig.add_subplot(1, 2, 2)
        for name in names:
            acc = list(runs[name].get(accuracy_key, []))
            n_loss = len(runs[name].get("loss", []))
            start = 0 if len(acc) == n_loss + 1 else 1
            ax2.plot(np.arange(start, start + len(acc)), acc, color=palette[name], linewidth=2,
                     label=name)
        if chance is not None:
            ax2.axhline(chance, color="0.4", linestyle=":", linewidth=1)
            ax2.annotate("chance", (0, chance), xytext=(2, 3), textcoords="offset points",
                         fontsize=8, color="0.3")
        ax2.set_ylim(0, 1.02)
        _style(ax2, "Test accuracy", "epoch", "accuracy")
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


def layer_stat_over_epochs(runs: Mapping[str, Sequence[Sequence[float]]], *, ylabel: str,
                           title: str, rows: Sequence[str] | None = None,
                           more: Mapping[str, Mapping[str, Sequence[Sequence[float]]]] | None = None,
                           ylim: tuple | None = None):
    """One panel per hidden layer: a per-layer statistic against epoch, one line per run.

    ``runs[name][epoch][layer]`` is the value; epoch 0 is at initialization.  ``more``
    adds further rows of panels: ``{ylabel: {name: [[...]]}}``.
    """
    names = list(runs)
    palette = colors(names)
    panels = [(ylabel, runs, ylim)] + [(k, v, None) for k, v in (more or {}).items()]
    n_layers = max(len(np.atleast_2d(np.asarray(v, float))[0]) for v in runs.values())
    fig = _figure(3.6 * n_layers + 1.2, 3.2 * len(panels))
    for r, (label, data, lim) in enumerate(panels):
        for l in range(n_layers):
            ax = fig.add_subplot(len(panels), n_layers, r * n_layers + l + 1)
            for name in names:
                v = np.asarray(data[name], dtype=float)
                if v.ndim == 2 and v.shape[1] > l:
                    ax.plot(np.arange(v.shape[0]), v[:, l], color=palette[name], linewidth=2,
                            label=name)
            _style(ax, f"hidden layer {l + 1}" if r == 0 else None,
                   "epoch" if r == len(panels) - 1 else None, label if l == 0 else None)
            if lim is not None:
                ax.set_ylim(*lim)
            elif label.startswith("fraction"):
                ax.set_ylim(-0.02, 1.02)
            else:
                ax.set_ylim(bottom=-0.02)
    return _legend_and_title(fig, title, fontsize=9)


# --- weights as images --------------------------------------------------------------------------

def unit_images(weights: Mapping[str, np.ndarray], *, n_units: int = 8,
                image_shape: tuple = (8, 8), title: str = "First-layer weights",
                notes: Mapping[str, str] | None = None):
    """Each row: one run's first-layer weights for its first ``n_units`` hidden units, each
    unit's incoming weights (a column of ``W``, (fan_in,)) drawn as an image.

    Colours: red positive, blue negative, white zero, on one symmetric scale per row (so a
    row of zeros is blank and identical units look identical).  Each row is a single
    mosaic image, which keeps the figure quick to draw.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    names = list(weights)
    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    h, w = image_shape
    gap = 1                                     # blank pixels between units
    n_cols = max(min(n_units, np.asarray(v).shape[1]) for v in weights.values())
    px = 0.125                                  # inches per pixel
    left, right, top, bottom, between = 1.45, 0.2, 0.75, 0.15, 0.22
    row_w, row_h = (n_cols * (w + gap) - gap) * px, h * px
    fig_w = left + row_w + right
    fig_h = top + len(names) * row_h + (len(names) - 1) * between + bottom
    fig = Figure(figsize=(fig_w, fig_h), dpi=110)
    for r, name in enumerate(names):
        W = np.asarray(weights[name], dtype=float)
        finite = W[np.isfinite(W)]
        scale = float(np.max(np.abs(finite))) if finite.size else 0.0
        scale = scale if scale > 0 else 1.0
        mosaic = np.full((h, n_cols * (w + gap) - gap), np.nan)
        for c in range(min(n_cols, W.shape[1])):
            mosaic[:, c * (w + gap):c * (w + gap) + w] = W[:, c].reshape(image_shape)
        y0 = fig_h - top - (r + 1) * row_h - r * between
        ax = fig.add_axes((left / fig_w, y0 / fig_h, row_w / fig_w, row_h / fig_h))
        ax.imshow(mosaic, cmap=cmap, vmin=-scale, vmax=scale, interpolation="nearest",
                  aspect="equal")
        for c in range(n_cols):   # a thin frame around each unit, so blank units show
            ax.add_patch(_frame(c * (w + gap) - 0.5, -0.5, w, h))
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if r == 0:
            for c in range(n_cols):
                ax.text(c * (w + gap) + w / 2 - 0.5, -1.0, f"unit {c + 1}", ha="center",
                        va="bottom", fontsize=9)
        label = name if not notes or not notes.get(name) else f"{name}\n({notes[name]})"
        ax.text(-1.2, h / 2 - 0.5, label, ha="right", va="center", fontsize=10)
    fig.suptitle(title, fontsize=12, fontweight="bold", y=1 - 0.2 / fig_h, va="top")
    return fig


def _frame(x, y, w, h):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), w, h, fill=False, edgecolor="0.7", linewidth=0.8, clip_on=False)


# --- statistics through depth and over seeds ----------------------------------------------------

def _band(ax, x, values: np.ndarray, color, label, log: bool) -> None:
    """Mean line and a min..max band over seeds (rows of ``values``)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        if log:
            logs = np.log10(np.where(values > 0, values, np.nan))
            mid = 10 ** np.nanmean(logs, axis=0)
        else:
            mid = np.nanmean(values, axis=0)
        lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    ax.plot(x, mid, color=color, linewidth=2, label=label, marker="o", markersize=3)
    if values.shape[0] > 1:
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)


def depth_profiles(panels: Mapping[str, Mapping[str, np.ndarray]], *, title: str,
                   log: Sequence[str] = ()):
    """One panel per statistic: value against layer depth, one line per scheme.

    ``panels[stat][scheme]`` is an array (seeds, layers); the line is the mean over seeds
    (geometric mean on a log axis) and the band spans the smallest to the largest seed.
    """
    stats = list(panels)
    schemes = list(next(iter(panels.values())))
    palette = colors(schemes)
    fig = _figure(4.6 * len(stats) + 1.4, 4.0)
    for i, stat in enumerate(stats):
        ax = fig.add_subplot(1, len(stats), i + 1)
        for scheme in schemes:
            v = np.asarray(panels[stat][scheme], dtype=float)
            _band(ax, np.arange(1, v.shape[1] + 1), v, palette[scheme], scheme, stat in log)
        if stat in log:
            _log_axis(ax)
        _style(ax, stat, "layer (1 = first hidden)")
    return _legend_and_title(fig, title)


def seed_curves(panels: Mapping[str, Mapping[str, np.ndarray]], *, title: str,
                log: Sequence[str] = (), x_label: str = "epoch", x_start: int = 1):
    """One panel per series (e.g. training loss, test accuracy): mean over seeds per epoch,
    with a band from the smallest to the largest seed.  ``panels[series][scheme]`` is an
    array (seeds, epochs)."""
    series = list(panels)
    schemes = list(next(iter(panels.values())))
    palette = colors(schemes)
    fig = _figure(4.8 * len(series) + 1.4, 4.0)
    for i, name in enumerate(series):
        ax = fig.add_subplot(1, len(series), i + 1)
        for scheme in schemes:
            v = np.asarray(panels[name][scheme], dtype=float)
            _band(ax, np.arange(x_start, x_start + v.shape[1]), v, palette[scheme], scheme,
                  False)
        if name in log:
            vals = np.concatenate([np.ravel(panels[name][s]) for s in schemes])
            if np.all(vals[np.isfinite(vals)] > 0):
                _log_axis(ax)
        if "accuracy" in name:
            ax.set_ylim(0, 1.02)
        _style(ax, name, x_label)
    return _legend_and_title(fig, title)


def layers_over_training(panels: Mapping[str, Mapping[str, np.ndarray]], *, title: str,
                         ylim: Mapping[str, tuple] | None = None):
    """A grid: one row per statistic, one column per scheme; in each panel one line per
    hidden layer (from dark, the first, to light, the last) against epoch, the mean over
    seeds.  ``panels[stat][scheme]`` is an array (seeds, epochs + 1, layers); epoch 0 is
    at initialization (Glorot & Bengio 2010, Figure 2, draws activations this way).
    """
    from matplotlib import colormaps
    stats = list(panels)
    schemes = list(next(iter(panels.values())))
    n_layers = max(np.asarray(v).shape[2] for v in panels[stats[0]].values())
    shades = colormaps["viridis"](np.linspace(0.0, 0.85, max(n_layers, 2)))
    fig = _figure(3.8 * len(schemes) + 1.6, 3.1 * len(stats))
    for r, stat in enumerate(stats):
        for c, scheme in enumerate(schemes):
            ax = fig.add_subplot(len(stats), len(schemes), r * len(schemes) + c + 1)
            v = np.asarray(panels[stat][scheme], dtype=float)       # (seeds, epochs+1, layers)
            with np.errstate(all="ignore"):
                mean = np.nanmean(v, axis=0)                         # (epochs+1, layers)
            for l in range(mean.shape[1]):
                ax.plot(np.arange(mean.shape[0]), mean[:, l], color=shades[l], linewidth=1.8,
                        label=f"layer {l + 1}")
            if ylim and stat in ylim:
                ax.set_ylim(*ylim[stat])
            _style(ax, scheme if r == 0 else None, "epoch" if r == len(stats) - 1 else None,
                   stat if c == 0 else None)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    if len(handles) > 12:       # deep networks: first, a few between, last
        keep = sorted({0, len(handles) - 1, *range(0, len(handles), len(handles) // 6)})
        handles, labels = [handles[i] for i in keep], [labels[i] for i in keep]
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=9,
               title="hidden")
    fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig
