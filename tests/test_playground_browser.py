"""glassnet playground end to end: Debian's Chromium, headless, driven by Playwright.

One server (uvicorn in a thread) and one browser for the whole module; each test opens
its own page.  Screenshots go to the test's temporary folder.  Without /usr/bin/chromium
the module is skipped with a line saying how to install it (Playwright's own browser
download is not used).
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import glassnet
from glassnet.playground import datasets
from glassnet.playground.config import Config
from glassnet.playground.server import make_server

CHROMIUM = os.environ.get("GLASSNET_CHROMIUM", "/usr/bin/chromium")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"Chromium not found at {CHROMIUM}: install it with "
                "`apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this) or set "
                "GLASSNET_CHROMIUM to a Chromium binary", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402

#: set to a path to refresh the docs' screenshot (docs/playground.png) from this module
DOCS_SHOT = os.environ.get("GLASSNET_DOCS_SCREENSHOT")
VIEWPORT = {"width": 1480, "height": 900}


@pytest.fixture(scope="module")
def server():
    srv, sock, address = make_server(0)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the playground server did not start"
        time.sleep(0.02)
    yield srv, address
    srv.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture(autouse=True)
def _close_pages(browser):
    """Each test's pages close at its end: a page holds one of the server's runs."""
    yield
    for context in browser.contexts:
        context.close()


def sessions(server):
    return server[0].config.app.app.state.registry.sessions


def open_page(browser, server, config: Config | None = None):
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    address = server[1] + (f"#{config.to_query()}" if config else "")
    page.goto(address)
    page.wait_for_function("window.playground.doctor !== null && window.playground.header !== null")
    return page


def play_until(page, condition: str, timeout_ms: int = 60000):
    """Press play, wait for ``condition`` (JS on the state ``s``), press pause."""
    page.click("#play")
    page.wait_for_function(f"(s => {condition})(window.playground)", timeout=timeout_ms)
    page.click("#play")
    page.wait_for_function("!window.playground.playing")


def hidden_pixels(page) -> list:
    """RGBA bytes of every hidden unit's heatmap canvas, as drawn."""
    return page.evaluate("""() => {
        const cols = [...new Set([...document.querySelectorAll('.unit')].map(u => +u.dataset.column))];
        const last = Math.max(...cols);
        return [...document.querySelectorAll('.unit')]
          .filter(u => +u.dataset.column > 0 && +u.dataset.column < last)
          .map(u => { const c = u.querySelector('canvas');
                      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); });
    }""")


def test_zero_init_doctor_says_no_update_and_the_heatmaps_are_blank(browser, server, tmp_path):
    page = open_page(browser, server, Config(init="zeros"))
    play_until(page, "s.epoch >= 25 && s.doctor.epoch >= 20")
    page.screenshot(path=tmp_path / "zeros.png", full_page=True)
    finding = page.locator('#doctor .finding[data-code="no_update"]')
    assert finding.count() == 1
    assert "layers 1, 2" in finding.inner_text()
    assert finding.locator(".actions button").count() >= 1     # a button applies the fix
    pixels = hidden_pixels(page)
    assert len(pixels) == 8
    assert all(p == pixels[0] for p in pixels)                  # identical canvases
    assert len(set(map(tuple, np.reshape(pixels[0], (-1, 4))))) == 1   # and blank
    assert page.locator(".unit.frozen").count() == 8            # marked on the drawing
    finding.locator(".actions button").first.click()           # the fix, applied
    page.wait_for_function("window.playground.config.init === 'xavier_uniform' && "
                           "window.playground.doctor !== null && window.playground.doctor.epoch === 0")
    assert page.locator('#doctor .finding[data-code="no_update"]').count() == 0
    assert page.locator(".unit.frozen").count() == 0
    assert "init=xavier_uniform" in page.url
    assert not page.errors


def test_digits_draws_each_first_layer_unit_as_its_weight_image(browser, server, tmp_path):
    page = open_page(browser, server, Config(data="digits", layers=(6, 4), optimizer="adam",
                                             learning_rate=0.01, points=600))
    play_until(page, "s.epoch >= 15")
    page.screenshot(path=tmp_path / "digits.png", full_page=True)
    sizes = page.evaluate("""() => [...document.querySelectorAll('.unit[data-column="1"] canvas')]
        .map(c => [c.width, c.height])""")
    assert sizes == [[8, 8]] * 6
    header = page.evaluate("window.playground.header")
    assert header["test_accuracy"] > 0.6
    w0 = np.asarray(header["weights"][0])                       # (64, 6)
    pixels = hidden_pixels(page)[:6]
    for j, rgba in enumerate(pixels):     # the picture is unit j's 64 weights, pixel by pixel
        px = np.reshape(rgba, (64, 4)).astype(float)
        blueness = px[:, 2] - px[:, 0]                          # rises with the weight
        assert np.corrcoef(blueness, w0[:, j])[0, 1] > 0.98
    assert not page.errors


def test_he_init_learns_the_circle(browser, server, tmp_path):
    page = open_page(browser, server, Config(init="zeros"))
    page.select_option("#init", "he_normal")                   # the control, as a user would
    page.wait_for_function("window.playground.config.init === 'he_normal' && "
                           "window.playground.header.epoch === 0")
    assert "init=he_normal" in page.url
    play_until(page, "s.header.test_loss < 0.15 || s.epoch >= 400")
    header = page.evaluate("window.playground.header")
    page.screenshot(path=tmp_path / "he.png", full_page=True)
    assert header["test_loss"] < 0.15, header["test_loss"]
    assert header["epoch"] < 400
    assert header["test_accuracy"] > 0.9
    pixels = hidden_pixels(page)
    assert len({bytes(p) for p in pixels}) == 8                 # eight different pictures
    page.hover('.unit[data-column="1"][data-unit="0"]')         # hovering shows its numbers
    tip = page.inner_text("#tip")
    bias = page.evaluate("window.playground.header.biases[0][0]")
    assert "layer 1 unit 1" in tip and f"bias {bias:.3f}" in tip
    x, y = page.evaluate("""() => {      // a point 30% along the wire x1 -> layer 1 unit 2
        const p = document.querySelectorAll('#wires path.wire')[1];
        const q = p.getPointAtLength(0.3 * p.getTotalLength()).matrixTransform(p.getScreenCTM());
        return [q.x, q.y]; }""")
    page.mouse.move(x, y)
    w = page.evaluate("window.playground.header.weights[0][0][1]")
    assert page.inner_text("#tip") == f"weight from input x1 to layer 1 unit 2\n{w:.3f}"
    assert not page.errors


def test_downloaded_model_predicts_as_the_page_drew(browser, server, tmp_path):
    cfg = Config(features=("x1", "x2", "x1x2"), layers=(5, 3), optimizer="adam",
                 learning_rate=0.01, seed=4)
    page = open_page(browser, server, cfg)
    play_until(page, "s.epoch >= 30")
    with page.expect_download() as info:
        page.click("#download")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name.startswith("playground-circle-epoch")
    net = glassnet.load(path)
    drawn = np.asarray(page.evaluate("Array.from(window.playground.outputMap)"))
    grid = datasets.input_features(datasets.grid(cfg.grid), cfg.features)
    mine = net.predict_proba(grid)[:, 1]
    np.testing.assert_allclose(mine, drawn, rtol=1e-5, atol=1e-6)   # float32 on the page
    session = sessions(server)[page.evaluate("window.playground.session")]
    np.testing.assert_allclose(mine, session.output_map(), rtol=1e-6, atol=1e-7)
    assert net.metadata["playground"]["epoch"] == page.evaluate("window.playground.epoch")
    assert not page.errors


def test_address_restores_the_run_refusals_show_and_tabs_are_separate(browser, server,
                                                                       tmp_path):
    page = open_page(browser, server, Config(data="xor", layers=(3,), seed=9))
    page.click("#step")
    page.wait_for_function("window.playground.epoch === 1")
    weights = page.evaluate("window.playground.header.weights")
    # a refusal is shown on the page, and the run goes on
    page.evaluate("window.playground.send({type: 'set', config: {layers: [1,2,3,4,5,6,7]}})")
    page.wait_for_selector("#notice:not([hidden])")
    assert "layers" in page.inner_text("#notice") and "Refused" in page.inner_text("#notice")
    page.click("#step")
    page.wait_for_function("window.playground.epoch === 2")
    # a second tab gets its own run
    other = open_page(browser, server)
    assert other.evaluate("window.playground.session") != page.evaluate("window.playground.session")
    assert other.evaluate("window.playground.config.data") == "circle"
    other.close()
    # the address holds the configuration: reloading gives the same run again
    assert "data=xor" in page.url and "layers=3&" in page.url
    page.reload()
    page.wait_for_function("window.playground.header !== null && window.playground.doctor !== null")
    page.click("#step")
    page.wait_for_function("window.playground.epoch === 1")
    assert page.evaluate("window.playground.header.weights") == weights
    # closing the page ends its run on the server
    session_id = page.evaluate("window.playground.session")
    page.close()
    deadline = time.monotonic() + 5
    while session_id in sessions(server):
        assert time.monotonic() < deadline, "closing the page left its run on the server"
        time.sleep(0.05)


def test_screenshot_for_the_docs(browser, server, tmp_path):
    """The picture in docs/playground.md: a constant init, the doctor naming it."""
    page = open_page(browser, server, Config(init="constant", activation="tanh",
                                             layers=(4, 3), noise=0.15))
    play_until(page, "s.epoch >= 40 && s.doctor.epoch >= 40")
    assert page.locator('#doctor .finding[data-code="symmetric_units"]').count() == 1
    assert page.locator("#wires path.link").count() >= 2        # identical units linked
    pixels = hidden_pixels(page)
    assert all(p == pixels[0] for p in pixels[:4])               # identical heatmaps
    shot = tmp_path / "playground.png"
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 690})
    page.screenshot(path=shot, full_page=False)
    assert shot.stat().st_size > 20_000
    if DOCS_SHOT:
        shutil.copyfile(shot, Path(DOCS_SHOT))
    assert not page.errors
