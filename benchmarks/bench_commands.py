#!/usr/bin/env python
"""How long the user-facing commands take, against the times the documentation promises.

    python benchmarks/bench_commands.py                 # every command, best of 1
    python benchmarks/bench_commands.py --repeats 3     # best of 3
    python benchmarks/bench_commands.py --only study-bad-scheduler

Each command runs as a user runs it (``python -m glassnet ...`` in a fresh temporary
folder, with this checkout's code) and its wall-clock time is reported beside its budget,
as a ratio (under 1.0: within budget):

  demo                    ``glassnet demo`` with no arguments: the README promises a report
                          in under a minute (60 s);
  study-bad-scheduler     ``glassnet study init --scheduler scheduler-without-port``: a bad
                          Dask address must be refused at once, not after a client times out
                          (15 s, start-up included).

These times used to be asserted in tests/test_cli.py and tests/test_study.py; a timing
depends on the machine and its load, so it is measured here and never in a test.  The
exit status is 0 when every command succeeded (whatever its time), 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: name -> (arguments of ``python -m glassnet``, budget in seconds, expected exit status)
COMMANDS = {
    "demo": (["demo"], 60.0, 0),
    "study-bad-scheduler": (["study", "init", "--depth", "2", "--width", "8", "--seeds", "1",
                             "--epochs", "0", "--scheduler", "scheduler-without-port"],
                            15.0, 2),
}


def time_command(args: list, expected: int) -> tuple[float, str]:
    """Seconds one run takes, and an error text ("" when it exited as expected)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryDirectory() as cwd:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "glassnet", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
    if proc.returncode != expected:
        return seconds, (f"exit status {proc.returncode}, expected {expected}: "
                         f"{proc.stderr.strip()[-500:]}")
    return seconds, ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(COMMANDS), action="append",
                        help="time only this command (may be repeated)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per command; the best counts")
    args = parser.parse_args(argv)
    failed = False
    print(f"{'command':24s}{'best s':>10s}{'budget s':>10s}{'ratio':>8s}")
    for name in args.only or list(COMMANDS):
        command, budget, expected = COMMANDS[name]
        times, error = [], ""
        for _ in range(max(1, args.repeats)):
            seconds, error = time_command(command, expected)
            times.append(seconds)
            if error:
                break
        best = min(times)
        print(f"{name:24s}{best:10.2f}{budget:10.0f}{best / budget:8.2f}"
              + ("  over budget" if best > budget else ""), flush=True)
        if error:
            print(f"  {name} failed: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
