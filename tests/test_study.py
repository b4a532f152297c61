"""The initialization study: its statistics against PyTorch, the papers' effects at small
scale, and the grid through joblib and a Dask LocalCluster."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import glassnet
from glassnet import GlassnetError, study


def _tiny(**kw) -> study.StudyConfig:
    base = dict(activation="tanh", depth=3, width=16, seeds=2, epochs=2)
    base.update(kw)
    return study.StudyConfig(**base)


def _same(a: list[dict], b: list[dict]) -> bool:
    drop = ("seconds",)
    return [{k: v for k, v in r.items() if k not in drop} for r in a] == \
           [{k: v for k, v in r.items() if k not in drop} for r in b]


def test_config_is_checked_before_anything_runs():
    assert study.StudyConfig(activation="relu").checked().schemes == (
        "xavier_uniform", "lecun_normal", "he_normal")
    assert study.StudyConfig(activation="tanh").checked().schemes == (
        "torch_linear", "xavier_uniform")
    with pytest.raises(GlassnetError, match="activation"):
        study.grid(_tiny(activation="softmax"))
    with pytest.raises(GlassnetError, match="Unknown init 'bogus'"):
        study.grid(_tiny(schemes=("xavier", "bogus")))
    with pytest.raises(GlassnetError, match="depth must be >= 1"):
        study.grid(_tiny(depth=0))
    with pytest.raises(GlassnetError, match="repeat"):
        study.grid(_tiny(schemes=("xavier", "xavier")))
    specs = study.grid(_tiny(schemes=("he_normal", ("normal", {"std": 0.1})), seeds=3,
                             first_seed=7))
    assert [(s.label, s.seed) for s in specs] == [
        ("he_normal", 7), ("he_normal", 8), ("he_normal", 9),
        ("normal(std=0.1)", 7), ("normal(std=0.1)", 8), ("normal(std=0.1)", 9)]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_depth_statistics_match_pytorch(activation):
    """Activation std, dL/dz RMS (per sample) and dL/dW RMS per hidden layer, against
    torch autograd on the same weights and batch."""
    import torch
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 6))
    y = rng.integers(0, 4, 40)
    net = glassnet.Network([6, 9, 7, 8, 4], activation=activation, seed=2)
    stats = study.depth_statistics(net, X, y)

    a = torch.tensor(X, requires_grad=False)
    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[activation]
    Ws = [torch.tensor(w, requires_grad=True) for w in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    zs, posts = [], []
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W + b
        z.retain_grad()
        zs.append(z)
        a = f(z) if l < len(Ws) - 1 else z
        posts.append(a)
    loss = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    loss.backward()
    n = X.shape[0]
    for l in range(3):
        assert np.isclose(stats["activation_std"][l], posts[l].detach().numpy().std(),
                          rtol=1e-10)
        g = zs[l].grad.numpy() * n
        assert np.isclose(stats["gradient_rms"][l], np.sqrt(np.mean(g * g)), rtol=1e-10)
        gw = Ws[l].grad.numpy()
        assert np.isclose(stats["weight_grad_rms"][l], np.sqrt(np.mean(gw * gw)), rtol=1e-10)


def _ratios(results, label):
    runs = [r for r in results if r["label"] == label]
    act = np.array([r["activation_std"] for r in runs])
    grad = np.array([r["gradient_rms"] for r in runs])
    return (act[:, -1] / act[:, 0]).mean(), (grad[:, 0] / grad[:, -1]).mean()


def test_glorot_and_bengio_at_small_scale():
    """tanh, 8 layers of 96: the standard init's activations and back-propagated gradients
    shrink through depth; the normalized init keeps them within a small factor."""
    cfg = study.StudyConfig(activation="tanh", depth=8, width=96, seeds=2, epochs=0)
    results = study.run_grid(study.grid(cfg))
    std_act, std_grad = _ratios(results, "torch_linear")
    xav_act, xav_grad = _ratios(results, "xavier_uniform")
    assert std_act < 0.25 and std_grad < 0.05          # vanishing both ways
    assert xav_act > 0.35 and xav_grad > 0.25
    assert xav_act > 2 * std_act and xav_grad > 5 * std_grad


def test_he_et_al_at_small_scale():
    """relu, 8 layers of 96: variance 1/fan_in halves the signal at each layer (std x 0.71),
    he_normal's 2/fan_in keeps it."""
    cfg = study.StudyConfig(activation="relu", depth=8, width=96, seeds=2, epochs=0,
                            schemes=("lecun_normal", "he_normal"))
    results = study.run_grid(study.grid(cfg))
    lecun, _ = _ratios(results, "lecun_normal")
    he, _ = _ratios(results, "he_normal")
    assert 0.5 < he < 2.0
    assert lecun < 0.25                                 # about 0.71 ** 7 = 0.09
    assert he > 4 * lecun


def test_glorot_and_bengio_sigmoid_top_layer_saturates_during_training():
    """Their Figure 2 at small scale: with sigmoid units the top hidden layer's mean
    activation is driven from 0.5 towards 0 while the layers below stay near 0.5, and the
    network does not learn."""
    cfg = study.StudyConfig(activation="sigmoid", depth=4, width=64, seeds=1, epochs=8,
                            batch_size=10, learning_rate=0.1, schemes=("torch_linear",))
    (r,) = study.run_grid(study.grid(cfg))
    mean = np.array(r["layer_mean"])                      # (epoch 0..8, hidden layer)
    assert mean.shape == (9, 4) and np.array(r["layer_std"]).shape == (9, 4)
    assert np.all(np.abs(mean[0] - 0.5) < 0.05)            # sigmoid(~0): 0.5 at the start
    assert mean[-1, -1] < 0.35 and mean[-1, -1] < mean[4, -1] < mean[0, -1]
    assert np.all(np.abs(mean[-1, :-1] - 0.5) < 0.06)      # the layers below stay put
    assert r["test_accuracy"][-1] < 0.2                     # learning stalls
    summary = study.tables([r]).summary
    assert summary.top_mean_end[0] == pytest.approx(mean[-1, -1])
    assert f"{mean[-1, -1]:.3g} during training" in study.conclusions(summary)[0]


@pytest.fixture(scope="module")
def serial():
    specs = study.grid(_tiny())
    return specs, study.run_grid(specs)


def test_runs_are_reproducible_and_complete(serial):
    specs, results = serial
    assert [(r["label"], r["seed"]) for r in results] == [(s.label, s.seed) for s in specs]
    for r in results:
        assert len(r["activation_std"]) == len(r["gradient_rms"]) == 3
        assert len(r["loss"]) == len(r["test_loss"]) == len(r["test_accuracy"]) == 2
        assert np.array(r["layer_mean"]).shape == (3, 3)       # epochs 0..2, 3 hidden layers
        assert all(np.isfinite(r["loss"]))
    assert _same([study.run_one(specs[1])], [results[1]])
    assert not _same([results[0]], [results[1]])        # different seeds differ


def test_joblib_processes_give_the_same_numbers(serial):
    specs, results = serial
    seen, epochs = [], []
    parallel = study.run_grid(specs, n_jobs=2, on_result=seen.append,
                              on_epoch=lambda i, done: epochs.append((i, done)))
    assert _same(parallel, results)
    assert len(seen) == len(specs)
    # progress within runs: the workers report their epochs (the last one at the latest
    # when the run ends; earlier ones may be read together)
    assert {(i, 2) for i in range(len(specs))} <= set(epochs)
    for i in range(len(specs)):
        mine = [done for j, done in epochs if j == i]
        assert mine == sorted(set(mine)) and set(mine) <= {1, 2}


def test_progress_within_runs_in_process_and_the_real_number_of_workers():
    from joblib import effective_n_jobs
    specs = study.grid(_tiny(seeds=1))
    epochs = []
    study.run_grid(specs, n_jobs=1, on_epoch=lambda i, done: epochs.append((i, done)))
    assert epochs == [(0, 1), (0, 2), (1, 1), (1, 2)]        # every epoch, as it ends
    assert study.n_workers(-1, 100) == effective_n_jobs(-1) >= 1
    assert study.n_workers(-1, 2) == min(effective_n_jobs(-1), 2)
    assert study.n_workers(3, 100) == 3 and study.n_workers(1, 100) == 1


def test_the_summary_says_keeps_its_size_only_when_it_does():
    row = dict(scheme="xavier_uniform", act_std_first=0.596, act_std_last=0.318,
               act_ratio_last_first=0.318 / 0.596, grad_rms_last=0.1, grad_rms_first=0.05)
    text = study.conclusions(pd.DataFrame([row]))[0]
    assert "shrinks 1.87-fold (0.596 -> 0.318)" in text and "keeps" not in text
    row.update(act_std_last=0.62, act_ratio_last_first=0.62 / 0.596)
    assert "stays within 10% (0.596 -> 0.62)" in study.conclusions(pd.DataFrame([row]))[0]


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as c:
        yield c


def test_dask_cluster_gives_the_same_numbers(serial, cluster):
    from distributed import Client
    specs, results = serial
    with Client(cluster, set_as_default=False) as client:
        assert _same(study.run_grid(specs, scheduler=client), results)
    assert _same(study.run_grid(specs, scheduler=cluster.scheduler_address), results)


def _cmd(*args, cwd):
    return subprocess.run([shutil.which("glassnet"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def test_command_on_a_dask_cluster_writes_the_study(tmp_path, cluster, serial):
    proc = _cmd("study", "init", "--depth", 3, "--width", 16, "--seeds", 2, "--epochs", 2,
                "--scheduler", cluster.scheduler_address, "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Dask cluster" in proc.stderr
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"depth.csv", "curves.csv", "layers.csv",
                                               "summary.csv", "depth.png", "curves.png",
                                               "layers.png", "index.html"}
    depth = pd.read_csv(out / "depth.csv")
    curves = pd.read_csv(out / "curves.csv")
    layers = pd.read_csv(out / "layers.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert len(depth) == 2 * 2 * 3 and len(curves) == 2 * 2 * 2 and len(summary) == 2
    assert len(layers) == 2 * 2 * 3 * 3                     # schemes, seeds, epochs 0-2, layers
    # the CSV holds the numbers the runs produced (the same as a serial run in-process)
    _, results = serial
    r = results[0]
    row = depth[(depth.scheme == r["label"]) & (depth.seed == r["seed"])]
    assert np.allclose(row.activation_std, r["activation_std"], rtol=1e-5)
    assert np.allclose(row.gradient_rms, r["gradient_rms"], rtol=1e-5)
    row = layers[(layers.scheme == r["label"]) & (layers.seed == r["seed"])]
    assert np.allclose(row.activation_mean, np.ravel(r["layer_mean"]), rtol=1e-5)
    for png in ("depth.png", "curves.png", "layers.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Glorot" in html
    assert "torch_linear" in proc.stdout and "xavier_uniform" in proc.stdout


def test_command_statistics_only_and_bad_options(tmp_path):
    proc = _cmd("study", "init", "--activation", "relu", "--depth", 2, "--width", 8,
                "--seeds", 1, "--epochs", 0, "--n-jobs", 1, "--schemes", "he;normal:std=0.5",
                "--out", "o", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(tmp_path / "o" / "summary.csv")
    assert summary.scheme.tolist() == ["he", "normal(std=0.5)"]
    assert not (tmp_path / "o" / "curves.png").exists()     # no training, no curves
    assert not (tmp_path / "o" / "layers.png").exists()
    assert "runs on this process" in " ".join(proc.stderr.split())
    bad = _cmd("study", "init", "--depth", 0, cwd=tmp_path)
    assert bad.returncode == 2 and "depth must be >= 1" in bad.stderr
    bad = _cmd("study", "init", "--schemes", "xavier,nope", cwd=tmp_path)
    assert bad.returncode == 2 and "Unknown init 'nope'" in bad.stderr


def test_a_malformed_scheduler_address_fails_at_once_and_cleanly(tmp_path, monkeypatch):
    # a Client made from it would linger and stall the exit by 20 s, with a traceback: the
    # address is refused before any Client exists (the seconds it takes are measured by
    # benchmarks/bench_commands.py)
    bad = _cmd("study", "init", "--depth", 2, "--width", 8, "--seeds", 1, "--epochs", 0,
               "--scheduler", "scheduler-without-port", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "address 'scheduler-without-port' is not valid" in bad.stderr
    import distributed

    class NoClient:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a Client was made for an address already known to be bad")
    monkeypatch.setattr(distributed, "Client", NoClient)
    with pytest.raises(GlassnetError, match="expected e.g. tcp://host:8786"):
        study.run_grid(study.grid(_tiny()), scheduler="tcp://host-without-port")
    with pytest.raises(GlassnetError, match="address 'scheduler-without-port' is not valid"):
        study.run_grid(study.grid(_tiny()), scheduler="scheduler-without-port")


def test_command_header_names_the_real_number_of_processes(tmp_path):
    from joblib import effective_n_jobs
    proc = _cmd("study", "init", "--depth", 2, "--width", 8, "--seeds", 2, "--epochs", 2,
                "--out", "o", cwd=tmp_path)                   # --n-jobs -1, the default
    assert proc.returncode == 0, proc.stderr
    err = " ".join(proc.stderr.split())
    workers = min(effective_n_jobs(-1), 4)
    where = "this process" if workers == 1 else f"joblib ({workers} processes)"
    assert f"4 runs on {where}" in err and "-1" not in err
    assert "8/8" in err and "4/4 runs" in err                 # the bar counts epochs
