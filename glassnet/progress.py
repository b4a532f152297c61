"""Progress display for ``fit(..., verbose=...)``: a live bar on a terminal, quiet elsewhere.

=======  ==================================  ================================================
verbose  stdout is a terminal                stdout is a file, a pipe or a notebook log
=======  ==================================  ================================================
0        nothing                             nothing
1        one live bar (rich, else tqdm) with  nothing (quiet: no bar frames in logs)
         epoch, batches, time left, the
         running loss and the last metrics
2        one plain line per epoch            one plain line per epoch
=======  ==================================  ================================================

A line reads ``epoch 3/10 - 0.21s - loss: 0.3120 - accuracy: 0.9041 - val_loss: 0.3342``.
The bar redraws at most ten times a second, so it costs the loop almost nothing.  rich and
tqdm are optional: they are imported only when a bar is drawn.
"""
from __future__ import annotations

import sys
import time

from .callbacks import Callback


def is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def format_logs(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if key == "learning_rate":
            parts.append(f"lr: {value:.3g}")
        else:
            parts.append(f"{key}: {value:.4f}")
    return " - ".join(parts)


def make(verbose: int, epochs: int, n_batches: int, stream=None) -> Callback | None:
    """The progress callback for ``verbose`` (None for 0), writing to ``stream`` (stdout)."""
    if not verbose:
        return None
    stream = sys.stdout if stream is None else stream
    if verbose == 1 and not is_terminal(stream):
        return None
    if verbose == 1:
        try:
            import rich.progress  # noqa: F401
            return RichBar(epochs, n_batches, stream)
        except ImportError:
            pass
        try:
            import tqdm  # noqa: F401
            return TqdmBar(epochs, n_batches, stream)
        except ImportError:
            pass
    return EpochLines(epochs, stream)


class EpochLines(Callback):
    """One plain line per epoch: no escape codes, no carriage returns."""

    def __init__(self, epochs: int, stream):
        self.epochs = epochs
        self.stream = stream
        self._start = time.perf_counter()

    def note(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def on_epoch_begin(self, ctx, logs):
        self._start = time.perf_counter()

    def on_epoch_end(self, ctx, logs):
        seconds = time.perf_counter() - self._start
        line = f"epoch {ctx.epoch + 1}/{self.epochs} - {seconds:.2f}s"
        stats = format_logs(logs)
        print(f"{line} - {stats}" if stats else line, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class _Bar(Callback):
    """Batch counting shared by the live bars: redraw at most every ``interval`` seconds."""

    interval = 0.1

    def __init__(self, epochs: int, n_batches: int, stream):
        self.epochs = epochs
        self.n_batches = n_batches
        self.stream = stream
        self._pending = 0
        self._next = 0.0
        self._sum = 0.0
        self._count = 0
        self._last = ""

    def on_epoch_begin(self, ctx, logs):
        self._sum, self._count = 0.0, 0
        self._draw(0, f"{ctx.epoch + 1}/{self.epochs}", self._last)

    def on_batch_end(self, ctx, logs):
        self._sum += logs["loss"]
        self._count += 1
        self._pending += 1
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            stats = f"loss: {self._sum / self._count:.4f}"
            self._draw(self._pending, None, stats)
            self._pending = 0

    def on_epoch_end(self, ctx, logs):
        self._last = format_logs(logs)
        self._draw(self._pending, None, self._last)
        self._pending = 0

    def on_train_end(self, ctx, logs):
        self.close()

    def _draw(self, advance: int, epoch: str | None, stats: str) -> None:
        raise NotImplementedError


class RichBar(_Bar):
    """A rich progress bar over all the run's batches."""

    def __init__(self, epochs, n_batches, stream):
        super().__init__(epochs, n_batches, stream)
        self._progress = None

    def on_train_begin(self, ctx, logs):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=Console(file=self.stream), refresh_per_second=10)
        self._progress.start()
        done = ctx.epoch * self.n_batches + ctx.batch
        self._task = self._progress.add_task("fit", total=self.epochs * self.n_batches,
                                             completed=done, epoch="", stats="")

    def _draw(self, advance, epoch, stats):
        if self._progress is None:
            return
        fields = {"stats": stats}
        if epoch is not None:
            fields["epoch"] = epoch
        self._progress.update(self._task, advance=advance, **fields)

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class TqdmBar(_Bar):
    """The same bar drawn by tqdm, when rich is not installed."""

    def __init__(self, epochs, n_batches, stream):
        super().__init__(epochs, n_batches, stream)
        self._bar = None

    def on_train_begin(self, ctx, logs):
        from tqdm import tqdm
        self._bar = tqdm(total=self.epochs * self.n_batches, file=self.stream, unit="batch",
                         initial=ctx.epoch * self.n_batches + ctx.batch, mininterval=0.1)

    def _draw(self, advance, epoch, stats):
        if self._bar is None:
            return
        if epoch is not None:
            self._bar.set_description(f"epoch {epoch}", refresh=False)
        self._bar.set_postfix_str(stats, refresh=False)
        self._bar.update(advance)

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ReadingBar:
    """A bar on standard error while a large table is read: bytes of a CSV, rows of Parquet.

    ``update(done, total)`` is the :meth:`glassnet.tables.Table.chunks` progress function.
    Uses rich when installed, else one line per 10% of the file.
    """

    def __init__(self, label: str, table, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.unit = "rows" if table.format == "parquet" else "bytes"
        self.label = label
        self._bar = None
        self._shown = -1
        try:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            amount = DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn()
            self._bar = Progress(TextColumn(label), BarColumn(), amount, TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=Console(file=self.stream))
            self._task = self._bar.add_task("read", total=None)
            self._bar.start()
        except ImportError:
            pass

    def update(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)
            return
        tenth = int(10 * done / max(total, 1))
        if tenth != self._shown:
            self._shown = tenth
            print(f"{self.label}: {10 * tenth}% of the {self.unit}", file=self.stream,
                  flush=True)

    def close(self) -> None:
        if self._bar is not None and self._bar.live.is_started:
            self._bar.stop()
