"""What a reader sees, in a real browser: headless Chromium (Debian's) driven by Playwright.

- JupyterLab, as ``make lab`` starts it, opens ``notebooks/01_data.py`` by double-click
  as a notebook with cells (jupytext's viewer is the default).
- The rating room (``vrash rate``) plays a melody, and a click on "4" adds exactly one
  row to the ratings CSV; on a phone-sized screen.
- The report's index (``vrash report``) loads with its figures and audio players and no
  console errors.

These tests FAIL, never skip, when Chromium is missing: ``.ci/run`` installs it. Every
server binds to 127.0.0.1 on a free port and is stopped by its test. Screenshots go to
``build/screenshots/``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vrashlib import paths

CHROMIUM = os.environ.get("VRASH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
SHOTS = paths.ROOT / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(cmd: list[str], url: str, *, env: dict | None = None, timeout: float = 90.0):
    """Run ``cmd`` (a server) until ``url`` answers; stop it (and its children) after."""
    log = io.BytesIO()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, cwd=paths.ROOT, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.write(proc.stdout.read())
                pytest.fail(f"{cmd[:4]} exited with {proc.returncode}:\n{log.getvalue()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{url} did not answer within {timeout:.0f} s")
                time.sleep(0.3)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()


@contextlib.contextmanager
def watched_page(browser, **options):
    """A new page, and the console errors and uncaught exceptions it reports."""
    context = browser.new_context(**options)
    page = context.new_page()
    problems: dict[str, list[str]] = {"console": [], "exceptions": []}
    page.on("console", lambda m: m.type == "error" and problems["console"].append(m.text))
    page.on("pageerror", lambda err: problems["exceptions"].append(str(err)))
    try:
        yield page, problems
    finally:
        context.close()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ------------------------------------------------------------------ JupyterLab
def test_lab_opens_a_notebook_source_as_a_notebook_on_double_click(browser, tmp_path):
    port, token = _free_port(), "vrash-test"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={paths.ROOT}", "--ServerApp.open_browser=False",
    ]  # fmt: skip
    env = {  # the Makefile's setting, and nothing of this machine's own Lab settings
        "JUPYTER_CONFIG_PATH": str(paths.ROOT / "jupyter-config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    url = f"http://127.0.0.1:{port}/lab?token={token}"
    with server(cmd, f"http://127.0.0.1:{port}/api/status?token={token}", env=env):
        with watched_page(browser, viewport={"width": 1280, "height": 800}) as (page, problems):
            page.goto(url)
            listing = page.locator(".jp-DirListing-content")
            listing.get_by_text("notebooks", exact=True).dblclick(timeout=60_000)
            listing.get_by_text("01_data.py", exact=True).dblclick(timeout=30_000)
            cells = page.locator(".jp-NotebookPanel:visible .jp-Cell")
            cells.nth(3).wait_for(timeout=60_000)  # cells appear one by one on a busy machine
            code = page.locator(".jp-NotebookPanel:visible .jp-CodeCell")
            code.filter(has_text='PROFILE = "paper"').first.wait_for(timeout=30_000)
            page.wait_for_timeout(500)
            _shot(page, "lab_01_data")
            assert cells.count() >= 4  # cells, not a text editor: the parameters cell is one
            assert page.locator(".jp-NotebookPanel:visible .jp-MarkdownCell").count() >= 1
            assert page.locator(".jp-FileEditor:visible").count() == 0
            assert (
                page.locator(".lm-TabBar-tab.jp-mod-current").inner_text().strip() == "01_data.py"
            )
            assert problems["exceptions"] == []


# --------------------------------------------------------------- rating room
def test_rating_room_plays_a_melody_and_a_click_adds_one_row(browser, tmp_path):
    from tests.test_rating_room import generated_set
    from vrashlib.filter.ratings import load_ratings

    run = paths.RunLayout(tmp_path / "run")
    for k, kind in enumerate(("vae", "vrash")):
        generated_set(kind, seed=k).save(run.generated(kind))
    csv, port = tmp_path / "human.csv", _free_port()
    cmd = [
        sys.executable, "-m", "vrashlib.cli", "rate", "--profile", "smoke", "--run", str(run.root),
        "--csv", str(csv), "--port", str(port),
    ]  # fmt: skip
    with server(cmd, f"http://127.0.0.1:{port}/"):
        with watched_page(browser, viewport=PHONE, device_scale_factor=2) as (page, problems):
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_placeholder("your name or initials").fill("tester", timeout=60_000)
            page.get_by_role("button", name="start").click()
            audio = page.locator("audio")
            audio.wait_for(timeout=30_000)
            page.wait_for_function("document.querySelector('audio').readyState >= 2")
            audio.evaluate("a => a.play()")
            page.wait_for_function("document.querySelector('audio').currentTime > 0.3")
            assert audio.evaluate("a => !a.paused && a.duration > 1")
            assert page.locator("img").first.evaluate("i => i.naturalWidth > 0")
            # fits a phone: nothing wider than the screen
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            _shot(page, "rating_room_phone")
            assert not csv.exists()
            page.get_by_role("button", name="4", exact=True).click()
            page.get_by_text("Saved 4").wait_for(timeout=30_000)
            df = load_ratings(csv)
            assert len(df) == 1 and df["rater"].iloc[0] == "tester" and df["rating"].iloc[0] == 4
            assert df["track_id"].iloc[0].split("/")[0] in ("vae", "vrash")
            _shot(page, "rating_room_after_click")
            assert problems["exceptions"] == []
        assert len(load_ratings(csv)) == 1  # and no second row later


# -------------------------------------------------------------------- report
def test_report_index_loads_with_figures_and_audio(browser, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from tests.test_report import executed_notebook
    from vrashlib.report import build_report

    monkeypatch.setattr(paths, "BUILD", tmp_path / "build")
    monkeypatch.delenv("VRASH_RUN", raising=False)
    executed_notebook(paths.executed_notebooks_dir("smoke") / "00_listen.ipynb")
    executed_notebook(paths.executed_notebooks_dir("smoke") / "02_training.ipynb")
    fig, ax = plt.subplots()
    ax.bar([1, 2], [3, 1])
    fig.savefig(paths.figures_dir("smoke") / "fig4_cross_entropy.png")
    plt.close(fig)
    index = build_report("smoke", tmp_path / "site")
    port = _free_port()
    cmd = [
        sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
        "--directory", str(index.parent),
    ]  # fmt: skip
    with server(cmd, f"http://127.0.0.1:{port}/index.html"):
        with watched_page(browser, viewport={"width": 1000, "height": 900}) as (page, problems):
            page.goto(f"http://127.0.0.1:{port}/index.html", wait_until="load")
            images = page.locator(".figures img")
            assert images.count() == 1
            assert images.evaluate_all("l => l.every(i => i.complete && i.naturalWidth > 0)")
            players = page.locator("audio")
            assert players.count() == 2  # the first melody of each notebook
            players.first.evaluate("a => a.play()")
            page.wait_for_function("document.querySelector('audio').currentTime > 0.2")
            _shot(page, "report_index")
            page.locator("h2 a").first.click()
            page.wait_for_load_state("load")
            assert page.locator("audio").count() == 1 and page.locator(".jp-Cell").count() >= 2
            assert page.locator("img").evaluate_all("l => l.every(i => i.naturalWidth > 0)")
            _shot(page, "report_notebook")
            assert problems == {"console": [], "exceptions": []}
