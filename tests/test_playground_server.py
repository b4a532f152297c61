"""glassnet playground without a browser: the server, its messages, its safety, its files.

Most tests drive the ASGI app through Starlette's TestClient (a socket in-process); the
last ones start the real command and talk to uvicorn over 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():     # starlette 1.x prefers httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import glassnet  # noqa: E402
from glassnet.playground import datasets  # noqa: E402
from glassnet.playground.config import (ACTIVATIONS, INITS, LIMITS, Config,  # noqa: E402
                                        from_query, validate)
from glassnet.playground.server import MAX_MESSAGE, MAX_SESSIONS, make_app  # noqa: E402
from glassnet.playground.session import Session, decode_frame  # noqa: E402

TOKEN = "test-token-123"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def client():
    with TestClient(make_app(TOKEN, PORT), base_url=BASE) as c:
        yield c


def registry(client):
    return client.app.app.state.registry          # Guard -> Starlette


class Page:
    """One page's socket: send messages, read them back by type."""

    def __init__(self, ws):
        self.ws = ws

    def send(self, **msg):
        self.ws.send_text(json.dumps(msg))

    def next(self):
        m = self.ws.receive()
        if m.get("bytes") is not None:
            header, values = decode_frame(m["bytes"])
            return header, values
        if m.get("text") is None:
            raise WebSocketDisconnect(m.get("code", 1000))
        return json.loads(m["text"]), None

    def until(self, kind, limit=500, ack=True):
        """Messages up to and including the first of type ``kind``: (that one, all seen)."""
        seen = []
        for _ in range(limit):
            msg, values = self.next()
            seen.append(msg)
            if msg["type"] == "frame" and ack:
                self.send(type="ack", frame=msg["frame"])
            if msg["type"] == kind:
                return (msg, values), seen
        raise AssertionError(f"no {kind!r} message in {limit}: {[m['type'] for m in seen]}")

    def hello(self, **config):
        if config:
            self.send(type="hello", config=config)
        else:
            self.send(type="hello", query="")
        (setup, _), _ = self.until("setup")
        frame, _ = self.until("frame")
        (doctor, _), _ = self.until("doctor")
        return setup, frame, doctor


def page(client, path=f"/ws?token={TOKEN}", **headers):
    # the test client's sockets go to ws://testserver: say which host the page is on
    return client.websocket_connect(path, headers={"host": f"127.0.0.1:{PORT}", **headers})


# --- the address: token and Host -------------------------------------------------------------

def test_page_and_assets_need_the_token(client):
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    r = client.get(f"/?token={TOKEN}")
    assert r.status_code == 200 and "glassnet playground" in r.text
    assert f"/static/app.js?token={TOKEN}" in r.text      # the page carries it on
    assert "http://" not in r.text and "https://" not in r.text   # nothing from a CDN
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 403
        assert client.get(f"/static/{name}?token={TOKEN}").status_code == 200
    assert client.get(f"/static/../server.py?token={TOKEN}").status_code == 404
    assert client.get(f"/model?token={TOKEN}&session=nope").status_code == 404


def test_a_foreign_host_or_origin_is_refused_even_with_the_token(client):
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host
    r = client.get(f"/?token={TOKEN}", headers={"host": f"evil.example:{PORT}"})
    assert r.status_code == 403 and "Host" in r.text
    r = client.get(f"/?token={TOKEN}", headers={"host": "127.0.0.1:9999"})
    assert r.status_code == 403
    assert client.get(f"/?token={TOKEN}", headers={"host": f"localhost:{PORT}"}).status_code == 200
    with pytest.raises(WebSocketDisconnect) as exc:
        with page(client, origin="http://evil.example") as ws:
            ws.receive_text()
    assert exc.value.code == 1008


@pytest.mark.parametrize("path", ["/ws", "/ws?token=", "/ws?token=wrong"])
def test_a_socket_without_the_right_token_is_refused(client, path):
    with pytest.raises(WebSocketDisconnect) as exc:
        with page(client, path) as ws:
            ws.receive_text()
    assert exc.value.code == 1008
    assert not registry(client).sessions


# --- frames -------------------------------------------------------------------------------

def test_first_frames_have_the_network_s_shapes(client):
    with page(client) as ws:
        p = Page(ws)
        setup, (frame, values), doctor = p.hello()
        assert setup["layer_sizes"] == [2, 4, 4, 1]
        assert setup["config"] == Config().to_dict()
        assert len(setup["train_points"]) == len(setup["train_labels"]) == 250
        assert len(setup["input_maps"]) == 2 and len(setup["input_maps"][0]) == 50 * 50
        assert frame["epoch"] == 0
        assert [np.shape(w) for w in frame["weights"]] == [(2, 4), (4, 4), (4, 1)]
        assert [m["shape"] for m in frame["maps"]] == [[50, 50]] * 9   # 8 hidden + output
        assert [(m["layer"], m["unit"]) for m in frame["maps"]][-1] == (2, 0)
        assert values.shape == (9 * 2500,) and np.all(np.isfinite(values))
        out = values[-2500:]
        assert np.all((out > 0) & (out < 1))                           # P(class 1)
        assert doctor["epoch"] == 0 and isinstance(doctor["findings"], list)
        assert [m["layer"] for m in doctor["marks"]] == [1, 2]


def test_play_pause_step_reset(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello()
        p.send(type="step")
        (frame, _), _ = p.until("frame")
        assert frame["epoch"] == 1 and len(frame["history"]["test_loss"]) == 1
        p.send(type="play")
        epochs = []
        for _ in range(12):
            (frame, _), _ = p.until("frame")
            epochs.append(frame["epoch"])
        assert epochs == sorted(epochs) and epochs[-1] >= 13
        assert all(b - a >= 1 for a, b in zip(epochs, epochs[1:]))    # >= 1 epoch a frame
        p.send(type="pause")
        (state, _), seen = p.until("state")
        assert state["playing"] is False
        # nothing more trains once paused: a step moves exactly one epoch from there
        stopped = max(m["epoch"] for m in seen + [state] if "epoch" in m)
        p.send(type="step")
        (frame, _), _ = p.until("frame")
        assert frame["epoch"] == stopped + 1
        p.send(type="reset")
        (setup, _), _ = p.until("setup")
        (frame, _), _ = p.until("frame")
        assert frame["epoch"] == 0 and setup["history"]["epoch"] == [0]


def test_play_waits_for_the_page_to_acknowledge_frames(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello()
        p.send(type="play")
        assert p.next()[0]["type"] == "state"
        first, _ = p.next()
        second, _ = p.next()
        assert first["type"] == second["type"] == "frame"
        time.sleep(0.3)                            # unacknowledged: training waits
        session = next(iter(registry(client).sessions.values()))
        assert session.frames == second["frame"]
        p.send(type="ack", frame=second["frame"])
        (frame, _), _ = p.until("frame")
        assert frame["frame"] == second["frame"] + 1
        p.send(type="pause")


# --- every control --------------------------------------------------------------------------

#: field -> a valid new value; True when it rebuilds the network
CONTROLS = {
    "data": ("xor", True), "points": (300, True), "noise": (0.3, True),
    "test_fraction": (0.3, True), "features": (["x1", "x2", "x1sq", "sinx2"], True),
    "layers": ([3, 5, 2], True), "activation": ("relu", True), "init": ("he_normal", True),
    "seed": (7, True), "optimizer": ("adam", False), "learning_rate": (0.1, False),
    "batch_size": (25, False), "l2": (0.001, False), "grid": (20, False),
    "epochs_per_frame": (3, False), "doctor_every": (5, False),
}


@pytest.mark.parametrize("field", sorted(CONTROLS))
def test_every_control_takes_effect(client, field):
    value, rebuilds = CONTROLS[field]
    with page(client) as ws:
        p = Page(ws)
        p.hello()
        p.send(type="step")
        p.until("frame")
        p.send(type="set", config={field: value})
        if rebuilds:
            (setup, _), _ = p.until("setup")
            (frame, values), _ = p.until("frame")
            assert setup["config"][field] == value and frame["epoch"] == 0
        else:
            (cfg, _), _ = p.until("config")
            (frame, values), _ = p.until("frame")
            assert cfg["config"][field] == value and frame["epoch"] == 1   # training goes on
        assert f"{field}=" in (setup if rebuilds else cfg)["query"]
        session = next(iter(registry(client).sessions.values()))
        cfg = session.config
        assert getattr(cfg, field) == (tuple(value) if isinstance(value, list) else value)
        net = session.net
        if field == "layers":
            assert net.layer_sizes == [2, 3, 5, 2, 1]
        if field == "features":
            assert net.layer_sizes[0] == 4 and setup["inputs"] == ["x1", "x2", "x1²", "sin x2"]
        if field == "activation":
            assert net.activations[0].name == "relu"
        if field == "points":
            assert len(session.data.y_train) + len(session.data.y_test) == 300
        if field == "grid":
            assert all(m["shape"] == [20, 20] for m in frame["maps"])
        if field == "epochs_per_frame":
            p.send(type="play")
            (f1, _), _ = p.until("frame")
            (f2, _), _ = p.until("frame")
            assert f2["epoch"] - f1["epoch"] == 3
            p.send(type="pause")
        if field == "learning_rate":
            p.send(type="step")                  # the optimizer's step size really changed
            p.until("frame")
            from glassnet.optimizers import current_learning_rate
            kept = session.net._training
            assert current_learning_rate(kept.optimizer, kept.state) == pytest.approx(0.1)


BAD = [
    ({"layers": [4] * 7}, "layers"),
    ({"layers": [9]}, "units"),
    ({"layers": [0]}, "units"),
    ({"layers": "4,4"}, "layers"),
    ({"points": 10**9}, "points"),
    ({"grid": 5000}, "grid"),
    ({"learning_rate": -1}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"init": "bogus"}, "init"),
    ({"activation": "softmax"}, "activation"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"features": []}, "features"),
    ({"features": ["x3"]}, "features"),
    ({"data": "mnist"}, "data"),
    ({"batch_size": 0}, "batch_size"),
    ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"),
    ({"colour": "red"}, "colour"),
]


def test_bad_values_are_refused_and_the_run_goes_on(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello()
        p.send(type="step")
        p.until("frame")
        for changes, field in BAD:
            p.send(type="set", config=changes)
            (msg, _), _ = p.until("refused")
            assert field in msg["message"], (changes, msg["message"])
            assert msg["config"] == Config().to_dict()          # nothing changed
        for raw in ["not json", json.dumps([1, 2]), json.dumps({"type": "explode"}),
                    json.dumps({"type": "set", "config": 5}),
                    json.dumps({"type": "ack", "frame": "x"}), "x" * (MAX_MESSAGE + 1)]:
            ws.send_text(raw)
            p.until("refused")
        ws.send_bytes(b"\x00\x01")
        p.until("refused")
        session = next(iter(registry(client).sessions.values()))
        assert session.epoch == 1 and session.config == Config()
        p.send(type="step")                                      # still training
        (frame, _), _ = p.until("frame")
        assert frame["epoch"] == 2


def test_a_bad_address_starts_the_default_run_and_says_why(client):
    with page(client) as ws:
        p = Page(ws)
        p.send(type="hello", query="layers=4,4,4,4,4,4,4&seed=3")
        (msg, _), _ = p.until("refused")
        assert "layers" in msg["message"]
        (setup, _), _ = p.until("setup")
        assert setup["config"] == Config().to_dict()


def test_the_address_restores_the_same_run(client):
    cfg = Config(data="moons", layers=(5, 3), activation="relu", init="xavier_normal",
                 optimizer="adam", learning_rate=0.01, seed=11, features=("x1", "x2", "x1x2"))
    assert from_query(dict(q.split("=") for q in cfg.to_query().split("&"))) == cfg
    runs = []
    for _ in range(2):
        with page(client) as ws:
            p = Page(ws)
            p.send(type="hello", query=cfg.to_query())
            (setup, _), _ = p.until("setup")
            assert setup["config"] == cfg.to_dict()
            for _ in range(3):
                p.send(type="step")
                (frame, values), _ = p.until("frame")
            runs.append((frame["weights"], values.copy()))
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])


# --- the doctor on the page -----------------------------------------------------------------

def hidden_maps(frame, values):
    return [values[m["offset"]:m["offset"] + 2500] for m in with_offsets(frame)[:-1]]


def with_offsets(frame):
    offset, out = 0, []
    for m in frame["maps"]:
        out.append({**m, "offset": offset})
        offset += m["shape"][0] * m["shape"][1]
    return out


def test_zero_init_shows_no_update_and_blank_heatmaps(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello(init="zeros")
        for _ in range(3):
            p.send(type="step")
            (frame, values), _ = p.until("frame")
        p.send(type="doctor")
        (doctor, _), _ = p.until("doctor")
        assert "no_update" in [f["code"] for f in doctor["findings"]]
        finding = next(f for f in doctor["findings"] if f["code"] == "no_update")
        assert finding["layers"] == [1, 2] and finding["fix"]
        assert finding["actions"][0]["set"] == {"init": "xavier_uniform"}
        assert all(m["frozen"] for m in doctor["marks"])
        maps = hidden_maps(frame, values)
        assert all(np.all(m == 0) for m in maps)                 # tanh(0) everywhere: blank
        # the fix button's message gives a network that learns
        p.send(type="set", config=finding["actions"][0]["set"])
        p.until("setup")
        (doctor, _), _ = p.until("doctor")
        assert "no_update" not in [f["code"] for f in doctor["findings"]]


def test_constant_init_shows_symmetric_units_and_identical_heatmaps(client):
    with page(client) as ws:
        p = Page(ws)
        _, _, doctor = p.hello(init="constant", layers=[3, 3])
        assert "symmetric_units" in [f["code"] for f in doctor["findings"]]
        assert doctor["marks"][0]["identical"] == [[0, 1, 2]]
        assert doctor["marks"][1]["identical"] == [[0, 1, 2]]
        for _ in range(5):
            p.send(type="step")
            (frame, values), _ = p.until("frame")
        maps = hidden_maps(frame, values)
        assert np.ptp(maps[0]) > 0                              # not blank: a real picture
        assert all(np.array_equal(maps[0], m) for m in maps[:3])
        assert all(np.array_equal(maps[3], m) for m in maps[3:])


def test_a_learning_rate_fix_button_lowers_the_rate(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello(learning_rate=10.0, activation="relu", init="he_normal")
        p.send(type="play")
        (doctor, _), _ = p.until("doctor", limit=2000)
        while not any(a["set"].get("learning_rate") for f in doctor["findings"]
                      for a in f["actions"]):
            (doctor, _), _ = p.until("doctor", limit=2000)
        p.send(type="pause")
        action = next(a for f in doctor["findings"] for a in f["actions"]
                      if "learning_rate" in a["set"])
        assert action["set"]["learning_rate"] == pytest.approx(1.0)


# --- keep and share -------------------------------------------------------------------------

def test_export_loads_and_predicts_as_the_page_drew(client, tmp_path):
    with page(client) as ws:
        p = Page(ws)
        setup, _, _ = p.hello(features=["x1", "x2", "x1sq", "x2sq"])
        for _ in range(5):
            p.send(type="step")
            (frame, values), _ = p.until("frame")
        r = client.get(f"/model?token={TOKEN}&session={setup['session']}")
        assert r.status_code == 200
        assert 'filename="playground-circle-epoch5.glassnet"' in r.headers["content-disposition"]
        path = tmp_path / "m.glassnet"
        path.write_bytes(r.content)
        net = glassnet.load(path)
        assert net.metadata["feature_names"] == ["x1", "x2", "x1sq", "x2sq"]
        assert net.metadata["playground"]["epoch"] == 5
        grid = datasets.input_features(datasets.grid(50), ["x1", "x2", "x1sq", "x2sq"])
        drawn = values[-2500:]
        np.testing.assert_allclose(net.predict_proba(grid)[:, 1], drawn, rtol=1e-6, atol=1e-7)
        assert client.get(f"/model?session={setup['session']}").status_code == 403


@pytest.mark.parametrize("cfg", [
    Config(data="spiral", layers=(6, 3), optimizer="momentum", init="lsuv",
           activation="relu", l2=0.001, batch_size=16, seed=5, features=("x1", "x2", "sinx1")),
    Config(data="digits", layers=(5,), optimizer="adam", learning_rate=0.01, points=400),
], ids=["spiral", "digits"])
def test_the_python_shown_trains_the_same_network(cfg):
    s = Session(cfg)
    s.train(4)
    assert "range(4)" in s.python_code()
    scope = {}
    exec(compile(s.python_code(), "<playground code>", "exec"), scope)
    for w_page, w_code in zip(s.net.weights, scope["net"].weights):
        assert np.array_equal(w_page, w_code)                    # bit for bit


def test_the_python_shown_replays_changes_made_while_training():
    s = Session(Config(optimizer="momentum", seed=2))
    s.train(3)
    s.apply({"learning_rate": 0.1})
    s.train(2)
    s.apply({"optimizer": "adam", "batch_size": 25})
    s.apply({"batch_size": 20})                 # changed twice before training: one stretch
    s.train(2)
    s.apply({"l2": 0.01, "grid": 20})           # the grid is drawing only
    s.train(1)
    code = s.python_code()
    assert "# at epoch 3 the page set learning_rate=0.1" in code
    assert "# at epoch 5 the page set optimizer=adam, batch_size=20" in code
    assert "# at epoch 7 the page set l2=0.01" in code and "grid" not in code
    scope = {}
    exec(compile(code, "<playground code>", "exec"), scope)
    for w_page, w_code in zip(s.net.weights, scope["net"].weights):
        assert np.array_equal(w_page, w_code)                    # bit for bit


def test_the_code_button_gets_the_code_for_the_epoch_reached(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello(seed=3)
        for _ in range(3):
            p.send(type="step")
            p.until("frame")
        p.send(type="code")
        (msg, _), _ = p.until("code")
        assert msg["epoch"] == 3 and "range(3)" in msg["text"] and "seed=3" in msg["text"]


def test_two_pages_get_two_runs_and_a_full_house_is_told(client):
    with page(client) as a, page(client) as b:
        pa, pb = Page(a), Page(b)
        sa, _, _ = pa.hello()
        sb, _, _ = pb.hello(data="xor")
        assert sa["session"] != sb["session"]
        pa.send(type="step")
        pa.until("frame")
        sessions = registry(client).sessions
        assert sessions[sa["session"]].epoch == 1 and sessions[sb["session"]].epoch == 0
    assert not registry(client).sessions                       # closed pages: runs gone
    opened = [page(client) for _ in range(MAX_SESSIONS + 1)]
    socks = [o.__enter__() for o in opened[:MAX_SESSIONS]]
    try:
        for s in socks:
            Page(s).hello()
        with opened[-1] as extra:
            msg = json.loads(extra.receive_text())
            assert msg["type"] == "busy" and "close one" in msg["message"]
    finally:
        for o in opened[:MAX_SESSIONS]:
            o.__exit__(None, None, None)


def test_closing_the_page_stops_its_training(client):
    with page(client) as ws:
        p = Page(ws)
        p.hello()
        p.send(type="play")
        p.until("frame")
        session = next(iter(registry(client).sessions.values()))
        assert session.playing
    time.sleep(0.2)
    assert not registry(client).sessions and not session.playing
    epoch = session.epoch
    time.sleep(0.3)
    assert session.epoch == epoch


def test_digits_draws_first_layer_weight_images(client):
    with page(client) as ws:
        p = Page(ws)
        setup, (frame, values), _ = p.hello(data="digits", layers=[6, 3], points=600)
        assert setup["digits"] and setup["layer_sizes"] == [64, 6, 3, 10]
        shapes = [m["shape"] for m in frame["maps"]]
        assert shapes == [[8, 8]] * 6 + [[1, 10]] * 3 + [[10, 10]]
        w0 = np.asarray(frame["weights"][0])
        np.testing.assert_allclose(values[:64], w0[:, 0], atol=1e-5)   # unit 1's 8x8 image
        for _ in range(20):
            p.send(type="step")
            (frame, values), _ = p.until("frame")
        assert frame["test_accuracy"] > 0.5


# --- data and settings ----------------------------------------------------------------------

@pytest.mark.parametrize("name", datasets.PLANE_SETS)
def test_data_sets_are_seeded_split_and_on_the_plane(name):
    a = datasets.make(name, points=400, noise=0.2, test_fraction=0.25, seed=3)
    b = datasets.make(name, points=400, noise=0.2, test_fraction=0.25, seed=3)
    c = datasets.make(name, points=400, noise=0.2, test_fraction=0.25, seed=4)
    assert np.array_equal(a.X_train, b.X_train) and not np.array_equal(a.X_train, c.X_train)
    assert len(a.y_test) == 100 and len(a.y_train) == 300
    assert set(np.unique(a.y_train)) == {0, 1}
    assert np.mean(np.all(np.abs(a.P_train) <= datasets.PLANE, axis=1)) > 0.8
    clean = datasets.make(name, points=400, noise=0.0, seed=3)
    assert np.mean(np.all(np.abs(clean.P_train) <= datasets.PLANE, axis=1)) > 0.99


def test_limits_cap_every_size():
    assert LIMITS["hidden_layers"] == (0, 6) and LIMITS["units"] == (1, 8)
    validate({"layers": []})
    validate({"layers": [8] * 6})
    for bad in ({"points": 2001}, {"grid": 101}, {"layers": [1] * 7}, {"layers": [8.5]}):
        with pytest.raises(glassnet.GlassnetError):
            validate(bad)


# --- the real server ------------------------------------------------------------------------

def test_the_command_serves_until_ctrl_c(tmp_path):
    """``glassnet playground --no-browser``: address with a token, uvicorn answers, a real
    WebSocket trains, a wrong Host is refused, Ctrl-C stops it cleanly."""
    import httpx
    from websockets.sync.client import connect

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(glassnet.__file__)), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "glassnet", "playground", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        assert line.startswith("glassnet playground: http://127.0.0.1:"), line
        address = line.split(": ", 1)[1].strip()
        base, token = address.split("/?token=")
        assert len(token) >= 20
        assert httpx.get(address).status_code == 200
        assert httpx.get(base + "/").status_code == 403
        port = base.rsplit(":", 1)[1]
        r = httpx.get(address, headers={"Host": f"attacker.example:{port}"})
        assert r.status_code == 403
        with pytest.raises(Exception):
            with connect(f"ws://127.0.0.1:{port}/ws?token=nope") as ws:
                ws.recv(timeout=5)
        with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            ws.send(json.dumps({"type": "hello", "query": "seed=2"}))
            ws.send(json.dumps({"type": "play"}))
            epochs = []
            while len(epochs) < 10:
                m = ws.recv(timeout=20)
                if isinstance(m, bytes):
                    header, _ = decode_frame(m)
                    epochs.append(header["epoch"])
                    ws.send(json.dumps({"type": "ack", "frame": header["frame"]}))
            assert epochs == list(range(10))
            # Ctrl-C while a page is training: the server closes its socket and stops
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_a_taken_port_is_a_clear_error(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.playground.server import free_socket
    assert main(["playground", "--port", "99999", "--no-browser"]) == 2
    assert "--port must be from 1 to 65535" in capsys.readouterr().err
    sock = free_socket(0)
    try:
        port = sock.getsockname()[1]
        with pytest.raises(glassnet.GlassnetError, match=f"--port {port}"):
            free_socket(port)
        assert main(["playground", "--port", str(port), "--no-browser"]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    finally:
        sock.close()


# --- driven by the registries: every init, every activation -----------------------------------

@pytest.mark.parametrize("init", sorted(set(INITS)))
def test_every_init_scheme_builds_trains_and_draws(init):
    s = Session(Config(init=init, layers=(3, 2), points=100))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glassnet.SymmetryWarning)
        expected = glassnet.Network([2, 3, 2, 1], activation="tanh", seed=0,
                                    init=None if init == "default" else init)
    if init != "lsuv":                         # lsuv rescales on the data first
        for w_page, w_own in zip(s.net.weights, expected.weights):
            assert np.array_equal(w_page, w_own)
    assert s.train(2) == 2
    header, values = decode_frame(s.frame())
    assert header["epoch"] == 2 and values.shape == (6 * 2500,)
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_hidden_activation_builds_trains_and_draws(activation):
    s = Session(Config(activation=activation, layers=(3,), points=100))
    assert [a.name for a in s.net.activations] == [activation, "sigmoid"]
    s.train(2)
    header, values = decode_frame(s.frame())
    assert np.all(np.isfinite(values)) and header["train_loss"] is not None


def test_dead_units_are_marked_as_the_doctor_counts_them():
    s = Session(Config(activation="relu", init="he_normal", learning_rate=3.0))
    s.train(30)
    d = s.doctor()
    dead = [f for f in d["findings"] if f["code"] == "dead_units"]
    assert dead, [f["code"] for f in d["findings"]]
    for mark in d["marks"]:
        if mark["layer"] in dead[0]["layers"]:
            # the marked units output 0 with slope 0 on every training row
            trace = s.net.trace(s.data.X_train)
            z = trace.pre[mark["layer"] - 1]
            assert mark["dead"] and all(np.all(z[:, j] <= 0) for j in mark["dead"])
            live = [j for j in range(z.shape[1]) if j not in mark["dead"]]
            assert all(np.any(z[:, j] > 0) for j in live)
        else:
            assert mark["dead"] == []
    labels = [a["set"] for f in dead for a in f["actions"]]
    assert {"activation": "leaky_relu"} in labels


def test_the_speed_benchmark_runs(tmp_path):
    """benchmarks/bench_playground.py stays runnable (its numbers are read by hand)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "benchmarks/bench_playground.py", "--clients",
                           "socket", "--seconds", "1", "--trials", "2", "--out", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(out.read_text())["results"]["socket"]
    assert r["frames"] > 0 and r["epochs_per_frame"] == pytest.approx(1.0)
    assert len(r["lr_ms"]) == len(r["pause_ms"]) == len(r["reset_ms"]) == 2
    assert "frames/s" in proc.stdout
