"""Data larger than memory: predict and train on a generated CSV, peak memory and speed.

    python benchmarks/bench_bigdata.py --rows 10000000      # the issue's 2 GB file
    python benchmarks/bench_bigdata.py --rows 1000000       # what a shared machine allows

Measured, each in a fresh process (peak = its VmHWM: resident memory, including the
pages of the memory map it touched):

* pandas reading the CSV whole (the reference speed for the conversion), as it runs here
  and with NumPy's huge-page hint off (``NUMPY_MADVISE_HUGEPAGE=0``; the conversion turns
  that hint off while it runs, and on a kernel that compacts memory for huge pages the
  hint alone can double pandas' time: both ratios are reported);
* ``glassnet predict`` streaming the file (goal: peak under 300 MB whatever the size);
* ``glassnet train --max-memory 1GB`` (the memory-mapped cache: conversion, then training;
  goal: peak under 1 GB) and the same training in memory (goal: the cache run takes at
  most 1.3x its time); both with float32 and the same seed, and the two models compared
  bit for bit.

Prints rows/s, peaks and the ratios, and writes them to benchmarks/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the peak is VmHWM, the high-water mark of this process's own memory (ru_maxrss would
# carry over the parent's resident size through fork and exec)
MEASURE = r"""
import json, resource, sys, time
t = time.perf_counter()
exec(sys.argv[1])
seconds = time.perf_counter() - t
try:
    with open("/proc/self/status") as f:
        peak = next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
# the largest peak of a child process (the conversion's parsing processes), an upper bound:
# a forked child's count starts from its parent's size and includes pages it shares
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "child_peak_mb": children}))
"""


def measured(code: str, **extra_env) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra_env)
    out = subprocess.run([sys.executable, "-c", MEASURE, code], capture_output=True, text=True,
                         env=env)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _huge_pages() -> str:
    """The kernel's transparent huge page settings (the choice in brackets), or ''."""
    try:
        base = Path("/sys/kernel/mm/transparent_hugepage")
        return (f"enabled {(base / 'enabled').read_text().strip()}; "
                f"defrag {(base / 'defrag').read_text().strip()}")
    except OSError:
        return ""


def generate(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """A CSV of ``rows`` x ``features`` numbers and a text label, written in chunks."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(seed)
    w = rng.normal(size=features)
    header = True
    with open(path, "w") as f:
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            X = rng.normal(size=(n, features)).round(6)
            label = np.where(X @ w + 0.5 * rng.normal(size=n) > 0, "yes", "no")
            frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(features)])
            frame["label"] = label
            frame.to_csv(f, index=False, header=header)
            header = False


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-memory", default="1GB")
    p.add_argument("--repeat", type=int, default=3,
                   help="rounds of pandas reading and conversion, the fastest kept")
    p.add_argument("--folder", default=None, help="where the CSV goes (default: a temp dir)")
    args = p.parse_args()
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):     # this process and its children
        os.environ.pop(var, None)
    folder = Path(args.folder or tempfile.mkdtemp(prefix="glassnet-bigdata-"))
    csv = folder / f"data-{args.rows}x{args.features}.csv"
    if not csv.exists():
        t = time.perf_counter()
        generate(csv, args.rows, args.features)
        print(f"generated {csv} ({csv.stat().st_size / 2**20:.0f} MB) in "
              f"{time.perf_counter() - t:.0f} s")
    size_mb = csv.stat().st_size / 2 ** 20
    rows = args.rows
    results = {"rows": rows, "features": args.features, "file_mb": round(size_mb, 1),
               "huge_pages": _huge_pages()}

    # the budget: --max-memory, lowered below the file's in-memory need when the file is
    # small enough to fit it (so that a smaller benchmark still exercises the cache)
    sys.path.insert(0, str(ROOT))
    from glassnet import dataset
    budget = min(dataset.parse_size(args.max_memory), int(size_mb * 2 ** 20) // 2)
    results["max_memory_bytes"] = budget
    # the reference and the conversion alternate, `--repeat` rounds, and each keeps its
    # fastest run: on a shared machine the load of the moment changes a single timing
    features = [f"x{i}" for i in range(args.features)]
    convert = ("from pathlib import Path; import shutil; from glassnet import dataset, tables; "
               f"c = Path({str(folder / 'conversion.cache')!r}); "
               "shutil.rmtree(c, ignore_errors=True); "
               f"dataset.load(tables.open_table({str(csv)!r}), target='label', "
               f"features={features!r}, task='auto', validation=0.2, seed=0, "
               "standardize=True, dtype='float32', chunk_rows=25000, cache=c)")
    # pandas twice: as it runs here, and with NumPy's huge-page hint off (the conversion
    # turns the hint off while it runs: see docs/big-data.md); where the kernel compacts
    # memory for huge pages on first touch, the hint alone can double pandas' time
    rounds = {"pandas_read": [], "pandas_read_no_huge_pages": [], "conversion": []}
    read = f"import pandas as pd; pd.read_csv({str(csv)!r})"
    for _ in range(args.repeat):
        rounds["pandas_read"].append(measured(read))
        rounds["pandas_read_no_huge_pages"].append(measured(read, NUMPY_MADVISE_HUGEPAGE="0"))
        rounds["conversion"].append(measured(convert))
    for key, runs in rounds.items():
        results[key] = min(runs, key=lambda r: r["seconds"])
        results[key]["all_seconds"] = [round(r["seconds"], 2) for r in runs]
    train = (f"--target label --dtype float32 --epochs {args.epochs} --batch-size 256 "
             f"--layers 32 -q --seed 0")
    model_mem, model_map = folder / "mem.glassnet", folder / "map.glassnet"
    results["train_in_memory"] = measured(
        "from glassnet.cli import main; main(['train', *" +
        repr([str(csv), *train.split(), "-o", str(model_mem), "--max-memory", "1TB"]) + "])")
    import shutil
    shutil.rmtree(str(model_map) + ".cache", ignore_errors=True)
    cli_map = [str(csv), *train.split(), "-o", str(model_map), "--max-memory", str(budget)]
    results["train_memmap"] = measured(
        "from glassnet.cli import main; main(['train', *" + repr(cli_map) + "])")
    results["train_memmap_cached"] = measured(
        "from glassnet.cli import main; main(['train', *" + repr(cli_map) + "])")
    results["predict"] = measured(
        "from glassnet.cli import main; main(['predict', " +
        f"{str(model_map)!r}, {str(csv)!r}, '-o', {str(folder / 'pred.csv')!r}])")

    import numpy as np

    import glassnet
    a, b = glassnet.load(model_mem), glassnet.load(model_map)
    results["same_model_bit_for_bit"] = bool(np.array_equal(a.params, b.params))
    results["ratios"] = {
        "conversion_speed_vs_pandas_read": round(results["pandas_read"]["seconds"] /
                                                 results["conversion"]["seconds"], 2),
        "conversion_speed_vs_pandas_read_no_huge_pages": round(
            results["pandas_read_no_huge_pages"]["seconds"] /
            results["conversion"]["seconds"], 2),
        "memmap_time_vs_in_memory": round(results["train_memmap"]["seconds"] /
                                          results["train_in_memory"]["seconds"], 2),
        "cached_memmap_time_vs_in_memory": round(results["train_memmap_cached"]["seconds"] /
                                                 results["train_in_memory"]["seconds"], 2),
    }
    print(f"\n{rows:,} rows x {args.features} features, {size_mb:.0f} MB CSV")
    print(f"{'run':28} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'child MB':>8}")
    for key in ("pandas_read", "pandas_read_no_huge_pages", "conversion", "train_in_memory", "train_memmap",
                "train_memmap_cached", "predict"):
        r = results[key]
        print(f"{key:28} {r['seconds']:8.1f} {rows / r['seconds']:10,.0f} {r['peak_mb']:8.0f} "
              f"{r['child_peak_mb']:8.0f}")
    print(f"--max-memory for the memory-mapped runs: {budget / 2**20:.0f} MB")
    print(f"transparent huge pages: {results['huge_pages']}")
    for k, v in results["ratios"].items():
        print(f"{k}: {v}")
    print(f"same model in memory and memory-mapped (float32, bit for bit): "
          f"{results['same_model_bit_for_bit']}")
    out = ROOT / "benchmarks" / "results" / f"bigdata-{rows}-{time.strftime('%Y%m%d-%H%M')}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
