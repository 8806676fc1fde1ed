"""A visible running state while a page recomputes (issue 15), in a real headless Chromium.

After a filter change the Overview must say what it is computing ("Computing the KPI tiles and
their deltas for consumer-credit, …") while it computes, then show the new numbers -- not sit
frozen on the old ones. The KPI computation is held back by three seconds on a cache miss by a
test-only entry point (``slow_kpis_app.py``, which says why it cannot reach production), so the
indicator is there long enough to be seen on any machine. Everything is waited for as elements,
never as time.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

import browser_helpers as bh
import dashboard_helpers as helpers
from hitlgov import formats as fmt
from hitlgov.dashboard import launch
from hitlgov.metrics import inventory, periods, roi, summary
from hitlgov.metrics.policy import load_policy
from hitlgov.metrics.source import Filter, Source

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dashboard-browser")]

SLOW_APP = Path(__file__).with_name("slow_kpis_app.py")
SYSTEM = "consumer-credit"
SPINNER = "[data-testid=stSpinner]:has-text('Computing the KPI tiles and their deltas')"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return helpers.demo_store(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def server(db, tmp_path_factory):
    port = bh.free_port()
    cmd = launch.command(db, port, True)
    cmd[cmd.index(str(launch.APP))] = str(SLOW_APP)
    env = {**os.environ, "HITLGOV_AUTH": "none", "HITLGOV_NO_WARMUP": "1"}
    with bh.served(cmd, port, tmp_path_factory.mktemp("serve-slow") / "serve.log", env=env) as url:
        yield url


def _cases_tile(page) -> str:
    tile = page.locator("[data-testid=stMetric]", has_text="Cases").first
    return tile.locator("[data-testid=stMetricValue]").inner_text().strip()


def test_a_filter_change_shows_what_is_being_computed_then_the_new_numbers(server, db):
    with Source.open(db) as src:
        system = next(s for s in inventory.system_catalog(src) if s["system"] == SYSTEM)
        lo, hi = (dt.date.fromisoformat(system[k][:10]) for k in ("first", "last"))
        quarter = periods.default_period(lo, hi)
        costs = roi.costs_from(load_policy())
        in_quarter = summary.kpis(src, Filter(quarter.start, quarter.end, system=SYSTEM), **costs)["current"]["cases"]
        in_log = summary.kpis(src, Filter(lo, hi, system=SYSTEM), **costs)["current"]["cases"]
    assert in_quarter != in_log
    with bh.chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        try:
            page.goto(f"{server}/?system={SYSTEM}", wait_until="domcontentloaded")
            page.wait_for_selector("h1:has-text('Overview')", timeout=90_000)
            # the first visit computes too: the indicator names the default quarter
            first = page.wait_for_selector(SPINNER, timeout=60_000)
            assert quarter.label in first.inner_text()
            page.wait_for_selector(SPINNER, state="detached", timeout=90_000)
            page.wait_for_selector("[data-testid=stMetric]:has-text('Cases')", timeout=60_000)
            assert _cases_tile(page) == fmt.count(in_quarter)

            # widen the period to the whole log: the page says what it computes, then shows it
            page.get_by_role("button", name="Whole log").click()
            running = page.wait_for_selector(SPINNER, timeout=60_000)
            words = running.inner_text()
            assert SYSTEM in words and f"{lo} – {hi}" in words, words
            page.wait_for_selector(SPINNER, state="detached", timeout=90_000)
            page.wait_for_function(
                "want => [...document.querySelectorAll('[data-testid=stMetric]')].some("
                "m => m.innerText.includes('Cases') && m.innerText.includes(want))", arg=fmt.count(in_log),
                timeout=60_000)
            assert _cases_tile(page) == fmt.count(in_log)
            bh.settle(page)
            bh.assert_no_error(page, "Overview")
        finally:
            page.close()
