"""The benchmark scripts still run and their reference loops train the same network.

No timing is asserted here (speed is measured by running benchmarks/bench_speed.py, never
in a test); this only keeps the benchmark runnable by anyone and its rows honest.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_script(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_bench_speed_small_regime_runs_and_its_numpy_rows_agree(tmp_path):
    out = tmp_path / "speed.json"
    proc = run_script("benchmarks/bench_speed.py", "--regime", "small", "--dtypes", "float64",
                      "--frameworks", "glassnet,numpy-plain,numpy-lean,limit",
                      "--epochs-small", "3", "--repeats", "1", "--no-peak-memory",
                      "--keep-openblas-env", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())["regimes"]["small-float64"]
    rows = res["rows"]
    assert set(rows) == {"glassnet", "numpy-plain", "numpy-lean", "limit"}
    for name in ("glassnet", "numpy-plain", "numpy-lean"):
        assert 0 < rows[name]["final_loss"] < 1.0, (name, rows[name]["final_loss"])  # ln 10 = 2.3
    # the lean loop and the plain one draw the same weights and the same batches: the same
    # training, so the same loss (a lean loop that skipped work would not match)
    assert rows["numpy-lean"]["final_loss"] == pytest.approx(rows["numpy-plain"]["final_loss"],
                                                             rel=1e-6)
    assert {t["what"] for t in res["targets"]} >= {"glassnet us per step"}
    assert res["scaled"] and res["scaled"][0]["value"] > 0
    assert "scaled" in proc.stdout and "numpy-lean" in proc.stdout


def test_profile_step_runs(tmp_path):
    proc = run_script("benchmarks/profile_step.py", "--regime", "small", "--dtype", "float32",
                      "--repeats", "1")
    assert proc.returncode == 0, proc.stderr
    assert "optimizer step (sgd: params += grads)" in proc.stdout
    assert "fit, whole" in proc.stdout


def test_accuracy_comparison_states_each_estimators_own_batch():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import compare_sklearn_accuracy as compare
    finally:
        sys.path.pop(0)
    from glassnet.sklearn import GlassClassifier
    glass_batch = GlassClassifier()._batch_size(10**6)          # min(AUTO_BATCH_SIZE, n)
    note = compare.defaults_note()
    assert f"min({glass_batch}, n) for GlassClassifier" in note
    assert "min(200, n) for MLPClassifier" in note
    assert f"min({glass_batch}, n)" in compare.__doc__ and "min(200, n)" in compare.__doc__


def test_bench_commands_times_a_command_against_its_budget():
    proc = run_script("benchmarks/bench_commands.py", "--only", "study-bad-scheduler")
    assert proc.returncode == 0, proc.stderr
    row = proc.stdout.splitlines()[1].split()
    assert row[0] == "study-bad-scheduler" and float(row[1]) > 0 and row[2] == "15"
