"""A small subset of benchmarks/doctor_cases.py: the first constructed fault of every cause
and the first healthy network, diagnosed as the benchmark does; and the AUTOTRAINER
re-implementation on two faults it is built to see.  No timing is asserted (the benchmark
measures it)."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "doctor_cases", os.path.join(ROOT, "benchmarks", "doctor_cases.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _first_of_each_cause(bench):
    seen, out = set(), []
    for case in bench.cases():
        if case.cause not in seen:
            seen.add(case.cause)
            out.append(case)
    return out


def test_the_benchmark_covers_every_code_and_enough_cases(bench):
    from glassnet.doctor import CODES
    cases = bench.cases()
    faults = [c for c in cases if c.cause != bench.HEALTHY]
    assert {c.cause for c in faults} == set(CODES)
    assert len(faults) >= 40 and len(cases) - len(faults) >= 15
    assert {c.origin for c in faults} == {"glassnet", "sklearn", "torch"}
    assert {c.when for c in faults} == {"init", "training"}
    assert {c.family for c in faults} >= {"relu", "elu", "gelu", "silu", "softplus", "selu",
                                          "tanh", "sigmoid", "identity"}


def test_the_doctor_names_the_true_cause_of_one_case_per_cause(bench):
    rows = []
    for case in _first_of_each_cause(bench):
        result = bench.run_doctor(case)
        rows.append({"name": case.name, "cause": case.cause, "origin": case.origin,
                     "when": case.when, "doctor": result})
    missed = [(r["name"], r["cause"], r["doctor"]["verdict"]) for r in rows
              if r["doctor"]["verdict"] != r["cause"]]
    assert not missed
    scores = bench.score(rows, "doctor")
    assert scores["top1"] == scores["faults"] == len(rows) - 1
    assert scores["false_alarms"] == 0 and scores["median_seconds"] > 0
    table = bench.markdown(rows, {"doctor": scores})
    assert f"| {rows[0]['name']} |" in table and "top-1 cause" in table


def test_the_autotrainer_rules_see_what_they_are_built_for(bench):
    by_name = {c.name: c for c in bench.cases()}
    dead = bench.run_autotrainer(by_name["relu biases -5, digits"], epochs=8)
    assert dead["verdict"] == "relu"
    blown = bench.run_autotrainer(by_name["lr 50, one-hot targets, identity output"], epochs=8)
    assert blown["verdict"] == "explode"
    assert bench._oscillates([0.5, 0.9, 0.5, 0.9, 0.5, 0.9], 0.03, 0.2)
    assert not bench._oscillates([0.5, 0.6, 0.7, 0.8, 0.9, 0.95], 0.03, 0.2)
