"""Headless Chromium and a served dashboard, shared by the browser tests (checkout and wheel).

Uses Debian's ``/usr/bin/chromium`` through Playwright (never ``playwright install``). When the
browser cannot start, a test is skipped on a developer machine but FAILS when ``$CI`` is set,
so a broken CI image cannot pass silently.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HITLGOV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHART = ".js-plotly-plot, [data-testid=stPlotlyChart]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def served(cmd: list[str], port: int, log_path: Path, *, cwd: Path | None = None, env: dict | None = None,
           timeout: float = 60):
    """Run ``cmd`` (a ``hitlgov serve``) until its health endpoint answers; yield its URL; stop it."""
    log = open(log_path, "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"hitlgov serve did not start: {log.read()[-2000:]}")
            time.sleep(0.25)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


@contextlib.contextmanager
def chromium():
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        unavailable(f"playwright is not installed: {exc}")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure
        pw.stop()
        unavailable(f"chromium did not start: {exc}")
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def settle(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished running the script, as the app itself reports it
    (``data-test-script-state`` on the app's root is ``notRunning``), and no spinner is shown.

    Not the status widget (the app's minimal toolbar hides it) and not the "Computing ..."
    spinner alone: ``data.call`` shows it only after 0.5 s, so a page whose first chart is drawn
    while a later section is still being computed looked settled -- the Reliance tiles were
    measured mid-run in CI (issue 15's layout test)."""
    deadline = time.monotonic() + timeout
    time.sleep(0.3)
    while time.monotonic() < deadline:
        if (page.locator("[data-testid=stApp][data-test-script-state=notRunning]").count() == 1
                and page.locator("[data-testid=stSpinner]").count() == 0):
            time.sleep(0.2)  # let the last delta's layout finish
            return
        time.sleep(0.2)
    raise AssertionError(f"the dashboard was still running after {timeout:.0f} s: {page.url}")


def open_page(page, url: str, title: str, *, has_chart: bool) -> None:
    """Go to one dashboard page and wait for its content (not for time: a cold page is a skeleton)."""
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
    if has_chart:
        page.wait_for_selector(CHART, timeout=60_000)
    else:
        page.wait_for_selector("[data-testid=stDataFrame], [data-testid=stAlert], [data-testid=stButton]",
                               timeout=60_000)
    settle(page)


def assert_no_error(page, title: str) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, f"{title}: Streamlit exception shown"
    body = page.inner_text("body")
    at = body.find("Unexpected error")
    assert at < 0, f"{title}: unexpected error shown: {body[at:at + 400]}"
    assert "StreamlitAPIException" not in body, f"{title}: {body[:300]}"
