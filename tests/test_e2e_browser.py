"""End to end in a real headless Chromium: ``hitlgov serve`` on a free port, every page opened.

Uses Debian's ``/usr/bin/chromium`` through Playwright (never ``playwright install``). When the
browser cannot start, the test is skipped on a developer machine but FAILS when ``$CI`` is set,
so a broken CI image cannot pass silently. Screenshots go to ``tests/artifacts/`` (git-ignored).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import dashboard_helpers as helpers

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dashboard-browser")]

CHROMIUM = os.environ.get("HITLGOV_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = helpers.ROOT / "tests" / "artifacts"
HITLGOV = Path(sys.executable).with_name("hitlgov")
CHART = ".js-plotly-plot, [data-testid=stPlotlyChart]"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"the browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = helpers.demo_store(tmp_path_factory.getbasetemp())
    port = _free_port()
    log = open(tmp_path_factory.mktemp("serve") / "serve.log", "w+")
    cmd = [str(HITLGOV) if HITLGOV.exists() else "hitlgov", "serve", "--db", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
            pytest.fail(f"hitlgov serve did not start: {log.read()[-2000:]}")
        time.sleep(0.25)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        _unavailable(f"playwright is not installed: {exc}")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                "--disable-background-networking"])
    except Exception as exc:  # noqa: BLE001 - any launch failure
        pw.stop()
        _unavailable(f"chromium did not start: {exc}")
    yield b
    b.close()
    pw.stop()


def _settle(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished running the script (no 'running' status widget)."""
    deadline = time.monotonic() + timeout
    time.sleep(0.3)
    while time.monotonic() < deadline:
        if page.locator("[data-testid=stStatusWidget]").count() == 0:
            return
        time.sleep(0.2)


def test_every_page_in_a_real_browser(server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1440, "height": 2200})
    timings = {}
    try:
        for view, url_path, title, has_chart in helpers.PAGES:
            started = time.monotonic()
            page.goto(f"{server}/{url_path}", wait_until="domcontentloaded")
            page.wait_for_selector(f"h1:has-text('{title}')", timeout=60_000)
            if has_chart:
                page.wait_for_selector(CHART, timeout=60_000)
            else:
                page.wait_for_selector("[data-testid=stDataFrame], [data-testid=stAlert], [data-testid=stButton]", timeout=60_000)
            _settle(page)
            timings[title] = round(time.monotonic() - started, 2)
            page.screenshot(path=str(ARTIFACTS / f"{view.removesuffix('.py')}.png"), full_page=True)
            assert page.locator("[data-testid=stException]").count() == 0, f"{title}: Streamlit exception shown"
            assert "Unexpected error" not in page.inner_text("body"), f"{title}: unexpected error shown"
            assert "system=consumer-credit" in page.url, page.url
    finally:
        page.close()
    print("page load timings (s):", timings)


def test_filters_survive_navigation_in_the_url(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1200})
    try:
        page.goto(f"{server}/fairness?system=consumer-credit&segment=gender%3DF", wait_until="domcontentloaded")
        page.wait_for_selector("h1:has-text('Fairness')", timeout=60_000)
        page.wait_for_selector(CHART, timeout=60_000)
        _settle(page)
        assert "· gender = F" in page.inner_text("[data-testid=stMain]")  # the caption naming the active filter
        page.get_by_role("link", name="Oversight").click()
        page.wait_for_selector("h1:has-text('Oversight')", timeout=60_000)
        _settle(page)
        deadline = time.monotonic() + 10
        while "segment=gender" not in page.url and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "segment=gender%3DF" in page.url or "segment=gender=F" in page.url, page.url
        assert "· gender = F" in page.inner_text("[data-testid=stMain]")
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        page.close()


def test_report_generated_and_downloaded_in_the_browser(server, browser, tmp_path):
    """Reports page: Generate, wait for the download button, download, and check it is a real PDF."""
    from pypdf import PdfReader

    page = browser.new_page(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
    try:
        page.goto(f"{server}/reports?system=consumer-credit&from=2026-09-01&to=2026-09-30",
                  wait_until="domcontentloaded")
        page.wait_for_selector("h1:has-text('Reports')", timeout=60_000)
        _settle(page)
        page.get_by_role("button", name="Generate report").click()
        download_button = page.locator("[data-testid=stDownloadButton] button")
        download_button.wait_for(timeout=180_000)
        with page.expect_download(timeout=60_000) as info:
            download_button.click()
        pdf = tmp_path / "report.pdf"
        info.value.save_as(pdf)
        page.screenshot(path=str(ARTIFACTS / "reports-generated.png"), full_page=True)
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        page.close()
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 5
    text = reader.pages[0].extract_text()
    assert "consumer-credit" in text and "2026-09-01" in text, text[:500]
    assert "hitlgov-evidence.json" in reader.attachments
