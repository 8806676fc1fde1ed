"""Dashboard page timings, cold and warm, on a store (default: the 200k-case demo).

Usage::

    python bench/dashboard_timing.py --db hitlgov.duckdb            # AppTest timing (default)
    python bench/dashboard_timing.py --db hitlgov.duckdb --browser  # also real-browser timing
    python bench/dashboard_timing.py --db hitlgov.duckdb --write    # and update bench/RESULTS.md

**AppTest** (``streamlit.testing.v1``) runs the real app script in-process, so it times the
server side of a page: filters, metric calls, figure building. A warm-up run first imports the
libraries. *Cold*: a new session with ``st.cache_data`` cleared (every metric computed from the
store; Evidently's import is part of the first Drift run). *Warm*: the same page run again in
the same session (what a user sees when coming back to a page or changing a widget that does not
change the filter): the median of 3 runs.

**Browser** (``--browser``): ``hitlgov serve`` on a free port and headless Chromium through
Playwright; a page counts as loaded when its title and first chart (or table) are visible and
Streamlit reports no script running. *Cold*: first visit after the server started; *warm*:
the median of 3 further visits (a full page load each time, cached figures).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import dashboard_helpers as helpers  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Dashboard"


def apptest_timings(db: Path, repeats: int = 3) -> dict[str, tuple[float, float]]:
    os.environ["HITLGOV_DB"] = str(db)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "dashboard" / "app.py")
    warm_up = AppTest.from_file(app, default_timeout=300)
    warm_up.run()
    warm_up.switch_page("views/reports.py").run()
    out = {}
    for view, _, title, _ in helpers.PAGES:
        at = AppTest.from_file(app, default_timeout=300)
        at.run()  # a new session lands on the default page first
        at.switch_page(f"views/{view}")
        st.cache_data.clear()
        t = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t
        assert not at.exception, (title, [e.value for e in at.exception])
        warm = []
        for _ in range(repeats):
            t = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - t)
        out[title] = (cold, statistics.median(warm))
        print(f"  {title:24s} cold {cold:6.2f} s   warm {statistics.median(warm):6.2f} s", flush=True)
    return out


def browser_timings(db: Path, repeats: int = 3) -> dict[str, tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hitlgov = Path(sys.executable).with_name("hitlgov")
    proc = subprocess.Popen([str(hitlgov), "serve", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        out = {}
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                   args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = b.new_page(viewport={"width": 1440, "height": 1000})

            def load(path: str, title: str, chart: bool) -> float:
                t = time.perf_counter()
                page.goto(f"{url}/{path}", wait_until="domcontentloaded")
                page.wait_for_selector(f"h1:has-text('{title}')", timeout=300_000)
                page.wait_for_selector(".js-plotly-plot" if chart else "[data-testid=stDataFrame], [data-testid=stAlert], [data-testid=stButton]",
                                       timeout=300_000)
                time.sleep(0.1)
                while page.locator("[data-testid=stStatusWidget]").count():
                    time.sleep(0.05)
                return time.perf_counter() - t

            for view, path, title, chart in helpers.PAGES:
                cold = load(path, title, chart)
                warm = statistics.median(load(path, title, chart) for _ in range(repeats))
                out[title] = (cold, warm)
                print(f"  {title:24s} cold {cold:6.2f} s   warm {warm:6.2f} s", flush=True)
            b.close()
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def table(app: dict, browser: dict | None) -> str:
    head = "| Page | AppTest cold (s) | AppTest warm (s) |" + (" Browser cold (s) | Browser warm (s) |" if browser else "")
    sep = "|---|---:|---:|" + ("---:|---:|" if browser else "")
    rows = [head, sep]
    for title, (cold, warm) in app.items():
        row = f"| {title} | {cold:.2f} | {warm:.2f} |"
        if browser:
            bc, bw = browser.get(title, (float("nan"), float("nan")))
            row += f" {bc:.2f} | {bw:.2f} |"
        rows.append(row)
    return "\n".join(rows)


def write_results(text: str) -> None:
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"{HEADING}\n\n{text.strip()}\n\n"
    current = pattern.sub(section, current) if pattern.search(current) else current.rstrip() + "\n\n" + section
    RESULTS.write_text(current.rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path(os.environ.get("HITLGOV_DB", "hitlgov.duckdb")))
    ap.add_argument("--browser", action="store_true", help="also time page loads in headless Chromium")
    ap.add_argument("--write", action="store_true", help=f"replace the '{HEADING}' section of {RESULTS.name}")
    args = ap.parse_args()
    from hitlgov.metrics import inventory
    from hitlgov.metrics.source import Filter, Source

    with Source.open(args.db) as src:
        c = inventory.counts(src, Filter())
    print(f"store {args.db}: {c['cases']:,} cases, {c['reviews']:,} reviews")
    print("AppTest (server side):")
    app = apptest_timings(args.db)
    browser = None
    if args.browser:
        print("Browser (headless Chromium, full page load):")
        browser = browser_timings(args.db)
    cpu = platform.processor() or platform.machine()
    text = (f"Measured {time.strftime('%Y-%m-%d')} with `python bench/dashboard_timing.py --db STORE"
            f"{' --browser' if browser else ''}` on {c['cases']:,} cases / {c['reviews']:,} reviews "
            f"(the 200k demo plus COMPAS), {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"default filters (system consumer-credit, whole period).\n\n"
            + table(app, browser) + "\n\n"
            "*AppTest*: the page script run in-process by `streamlit.testing.v1.AppTest` (server-side time: filters, "
            "metric calls, figures). Cold = new session with `st.cache_data` cleared (every figure computed from the "
            "store; the Drift page's cold time includes importing Evidently and running its tests on a 5,000-case "
            "sample per window); warm = the same page re-run in the session, median of 3.")
    if browser:
        text += ("\n\n*Browser*: `hitlgov serve` + headless Chromium (Playwright); from navigation start until the "
                 "title and first chart (or table) are visible and Streamlit reports no running script. Cold = first "
                 "visit after the server started; warm = median of 3 further full page loads.")
    target = 2.0
    slow = [t for t, (_, w) in app.items() if w >= target]
    text += f"\n\nTarget: every page under {target:.0f} s warm — " + ("met." if not slow else f"NOT met for {', '.join(slow)}.")
    print()
    print(text)
    if args.write:
        write_results(text)
        print(f"\nwrote the '{HEADING}' section of {RESULTS}")


if __name__ == "__main__":
    main()
