"""Retake the README's screenshots (docs/images/*.png) in headless Chromium.

    .venv/bin/python docs/screenshots.py [--profile paper]

``listen.png``: notebook 00 in JupyterLab (as ``make lab`` serves it), after "Run All
Cells", at its first melody. ``rate.png``: the rating room (``vrash rate``) on a
phone-sized screen, with a melody loaded. Both use the profile's models (shipped
weights or the run folder's) and its generated melodies (notebook 03), so run
``make figures`` first. Needs Debian's chromium, as the browser tests do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(cmd: list[str], url: str, env: dict[str, str]):
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    try:
        for _ in range(600):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2)
                break
            time.sleep(0.3)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        port, token = free_port(), "screenshots"
        lab = [python, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={ROOT}"]  # fmt: skip
        env = {"JUPYTER_CONFIG_PATH": str(ROOT / "jupyter-config"),
               "JUPYTERLAB_SETTINGS_DIR": f"{tmp}/settings",
               "JUPYTERLAB_WORKSPACES_DIR": f"{tmp}/workspaces"}  # fmt: skip
        with serving(lab, f"http://127.0.0.1:{port}/api/status?token={token}", env):
            page = browser.new_page(viewport={"width": 1100, "height": 1800})  # all cells drawn
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/00_listen.py?token={token}")
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000)
            page.wait_for_timeout(2000)
            if args.profile != "paper":  # the parameters cell's PROFILE
                editor = page.locator(".jp-Cell.jp-CodeCell .cm-content").first
                editor.click()
                page.keyboard.press("Control+a")
                page.keyboard.type(
                    f'PROFILE = "{args.profile}"\nSEED = 0\nOVERRIDES = {{}}\nMODEL = "vrash"'
                )
            page.get_by_role("menuitem", name="Run").click()
            page.get_by_text("Run All Cells", exact=True).click()
            page.locator(".widget-button:has-text('generate')").wait_for(timeout=300_000)
            page.get_by_text("Cell 10/10").wait_for(timeout=300_000)  # the last cell ran
            page.get_by_text("(ipykernel) | Idle").wait_for(timeout=300_000)
            page.wait_for_timeout(2000)
            heading = page.locator("h2:has-text('One melody, right away')")
            heading.evaluate("h => h.scrollIntoView()")  # to the top of the notebook panel
            page.wait_for_timeout(1000)
            top = heading.bounding_box()["y"] - 40
            page.screenshot(
                path=str(OUT / "listen.png"), clip={"x": 0, "y": top, "width": 1100, "height": 900}
            )
            page.close()
        port = free_port()
        rate = [python, "-m", "vrashlib.cli", "rate", "--profile", args.profile,
                "--csv", f"{tmp}/screenshot_ratings.csv", "--port", str(port)]  # fmt: skip
        with serving(rate, f"http://127.0.0.1:{port}/", {}):
            page = browser.new_page(viewport={"width": 390, "height": 760})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_placeholder("your name or initials").fill("anna", timeout=120_000)
            page.get_by_role("button", name="start").click()
            page.locator("audio").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(OUT / "rate.png"))
        browser.close()
    print(f"written: {OUT / 'listen.png'}, {OUT / 'rate.png'}")


if __name__ == "__main__":
    main()
