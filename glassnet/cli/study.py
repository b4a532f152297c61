"""``glassnet study init``: init schemes compared through depth and over seeds.

``glassnet study init --activation tanh --depth 10 --width 256 --seeds 5`` measures, for
each scheme and seed, the activation std and the back-propagated gradient RMS of every
hidden layer at initialization, then trains each network and records its curves.  It
prints a summary and writes a folder with depth.csv, curves.csv, layers.csv, summary.csv,
depth.png, curves.png, layers.png and index.html.  Runs go through joblib (``--n-jobs``) or, with
``--scheduler ADDRESS``, a Dask distributed cluster.  See :mod:`glassnet.study`.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from .. import study
from .._validation import GlassnetError
from .train import parse_init

HELP = "Compare init schemes through depth and over seeds (Glorot & Bengio 2010, He et al. 2015)."


_DESCRIPTION = (
    "For each init scheme and seed: per hidden layer, the activation std and the "
    "back-propagated gradient RMS at initialization (on digits), then training curves and "
    "every hidden layer's activations during training. Prints a summary and writes "
    "depth.csv, curves.csv, layers.csv, summary.csv, depth.png, curves.png, layers.png and "
    "index.html to --out. Runs go through joblib (--n-jobs) or, with --scheduler "
    "ADDRESS, a Dask distributed cluster.")


def _schemes(text: str) -> list:
    items = [t.strip() for t in text.split(";" if ";" in text else ",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected init names such as torch_linear,xavier")
    return [parse_init(t) for t in items]


def configure(p: argparse.ArgumentParser) -> None:
    kinds = p.add_subparsers(dest="study", metavar="STUDY")
    kinds.required = True
    q = kinds.add_parser("init", help="init schemes: signal statistics through depth and "
                                      "training curves over seeds",
                         description=_DESCRIPTION)
    q.add_argument("--activation", default="tanh", help="hidden activation (default tanh; "
                                                        "relu for He et al.)")
    q.add_argument("--depth", type=int, default=10, help="hidden layers (default 10)")
    q.add_argument("--width", type=int, default=256, help="units per hidden layer (default 256)")
    q.add_argument("--seeds", type=int, default=5, help="seeds per scheme (default 5)")
    q.add_argument("--schemes", type=_schemes, default=None, metavar="A,B,...",
                   help="init schemes to compare (default: torch_linear,xavier_uniform for "
                        "tanh and sigmoid; xavier_uniform,lecun_normal,he_normal for relu). "
                        "Parameters as name:key=value; separate schemes with ';' then")
    q.add_argument("--epochs", type=int, default=10,
                   help="training epochs per run (default 10; 0 for statistics at init only)")
    q.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    q.add_argument("--learning-rate", type=float, default=0.01,
                   help="SGD step size (default 0.01)")
    q.add_argument("--out", default="glassnet-study", metavar="DIR",
                   help="output folder (default ./glassnet-study/)")
    q.add_argument("--n-jobs", type=int, default=-1,
                   help="joblib processes (default -1: every core; 1 runs in this process)")
    q.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the grid on a Dask distributed cluster, e.g. tcp://host:8786 "
                        "(its workers need glassnet installed)")


def run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table


    config = study.StudyConfig(
        activation=args.activation, depth=args.depth, width=args.width, seeds=args.seeds,
        schemes=tuple(args.schemes or ()), epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate).checked()
    if args.n_jobs == 0:
        raise GlassnetError("--n-jobs must be a positive number of processes, or -1 for all "
                            "cores; got 0.")
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise GlassnetError(f"--out {out!r} is a file; the study needs a folder.")
    if args.scheduler is not None:
        study.check_address(args.scheduler)      # before the progress bar starts
    specs = study.grid(config)
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=120)
    stdout = Console() if Console().is_terminal else Console(width=140)
    workers = 1 if args.scheduler else study.n_workers(args.n_jobs, len(specs))
    where = (f"the Dask cluster at {args.scheduler}" if args.scheduler else
             "this process" if workers == 1 else f"joblib ({workers} processes)")
    console.print(f"[bold]glassnet study init[/]: {config.activation}, depth {config.depth}, "
                  f"width {config.width}; schemes {', '.join(s.label for s in specs[::config.seeds])}"
                  f"; {config.seeds} seeds, {config.epochs} epochs; {len(specs)} runs on {where}")
    t0 = time.perf_counter()
    # the bar counts epochs (one step per run when there is no training), so a long run
    # moves it too; a Dask cluster reports whole runs only
    per_run = max(config.epochs, 1)
    counted = [0] * len(specs)
    finished = [0]
    lock = threading.Lock()
    with Progress(TextColumn("epochs"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[runs]}{task.fields[last]}"), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("epochs", total=len(specs) * per_run,
                                 runs=f"0/{len(specs)} runs", last="")

        def advance(i: int, done: int) -> None:
            with lock:
                step = max(0, min(done, per_run) - counted[i])
                counted[i] += step
            if step:
                progress.update(task, advance=step)

        def on_result(r):
            i = next(k for k, spec in enumerate(specs)
                     if spec.label == r["label"] and spec.seed == r["seed"])
            advance(i, per_run)
            finished[0] += 1
            last = f"; last {r['label']} seed {r['seed']}"
            if r["test_accuracy"]:
                last += f": test accuracy {r['test_accuracy'][-1]:.1%}"
            progress.update(task, runs=f"{finished[0]}/{len(specs)} runs", last=last)

        results = study.run_grid(specs, n_jobs=args.n_jobs, scheduler=args.scheduler,
                                 on_result=on_result, on_epoch=advance)
    seconds = time.perf_counter() - t0
    command = "glassnet " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["study"] else ""
    paths = study.write_outputs(out, results, config, command=command, seconds=seconds)
    summary = study.tables(results).summary

    table = Table(title=f"Init study: {config.activation}, depth {config.depth}, width "
                        f"{config.width}, {config.seeds} seeds", header_style="bold")
    for col in ("scheme", "activation std: layer 1 -> last", "grad RMS: last -> layer 1",
                "final loss", "test accuracy"):
        table.add_column(col, justify="left" if col == "scheme" else "right")
    for _, row in summary.iterrows():
        loss = (f"{row['final_loss_mean']:.3g} ± {row['final_loss_std']:.2g}"
                if "final_loss_mean" in row else "-")
        acc = (f"{row['test_accuracy_mean']:.1%} ± {row['test_accuracy_std']:.1%}"
               if "test_accuracy_mean" in row else "-")
        table.add_row(row["scheme"], f"{row['act_std_first']:.3g} -> {row['act_std_last']:.3g}",
                      f"{row['grad_rms_last']:.3g} -> {row['grad_rms_first']:.3g}", loss, acc)
    stdout.print(table)
    for line in study.conclusions(summary):
        stdout.print(f"- {line}")
    stdout.print(f"\nWrote {', '.join(sorted(p.name for p in paths.values()))} to {out}/ "
                 f"({seconds:.1f} s)")
    return 0
