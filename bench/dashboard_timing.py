"""Dashboard page timings, cold and warm, on a store (the 200k-case demo, or the 10M bench store).

Usage::

    python bench/dashboard_timing.py --db hitlgov.duckdb            # AppTest timing (default)
    python bench/dashboard_timing.py --db hitlgov.duckdb --browser  # also real-browser timing
    python bench/dashboard_timing.py --db hitlgov.duckdb --write    # and update bench/RESULTS.md
    python bench/dashboard_timing.py --db bench/out/10000000/store.duckdb --browser --no-apptest --write

**AppTest** (``streamlit.testing.v1``) runs the real app script in-process, so it times the
server side of a page: filters, metric calls, figure building. A warm-up run first imports the
libraries. *Cold*: a new session with ``st.cache_data`` cleared and the dashboard's entries of
the store's result cache dropped (every metric computed from the store); *warm*: the same page
run again in the same session: the median of 3 runs.

**Browser** (``--browser``): ``hitlgov serve --no-warm-up`` on a free port and headless Chromium
through Playwright; a page counts as loaded when its title and first chart (or table) are
visible and Streamlit reports no script running. Per page:

* *uncomputed*: the first visit with nothing cached anywhere (the dashboard's entries of the
  store's result cache dropped first) -- what the first visitor after a new ingestion waits for
  when the warm-up has not run (no target; the warm-up's own time is this column's sum);
* *warm-up*: then the dashboard's entries of the store's result cache are dropped again and the
  warm-up that ``serve`` starts (``python -m hitlgov.dashboard.warmup``: every page's default
  view, then each choice the sidebar offers) runs to its end; its duration is reported;
* *cold*: the first visit after a fresh ``serve`` (a new server process per page, nothing in
  its memory), the store's result cache as the warm-up left it (target 5 s);
* *warm*: coming back to the page in the app (a click in the sidebar from another page),
  median of 3 (target 1 s); *reload*: a full browser reload of the page, median of 3;
* *filter change, uncomputed*: the same page with another model version chosen (a full load
  of its URL with ``?version=...``: the second most frequent version of the default period, else
  the whole log, :func:`filter_change`) on the first server, a filter nothing had computed before;
* *filter change after the warm-up*: that URL right after the page's cold visit (same server),
  the warm-up having gone through the sidebar's choices (target 2 s: a visitor choosing what the
  sidebar offers; a period typed by hand is the uncomputed case).
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


def drop_dashboard_cache(db: Path) -> None:
    """Forget the dashboard's figures in the store's result cache (the metrics/report entries stay)."""
    from hitlgov import result_cache, store

    with store.connect(db) as con:
        if result_cache.has_table(con):
            con.execute(f"DELETE FROM {result_cache.TABLE} WHERE kind LIKE 'dashboard:%'")


def apptest_timings(db: Path, repeats: int = 3) -> dict[str, tuple[float, float]]:
    os.environ["HITLGOV_DB"] = str(db)
    os.environ["HITLGOV_AUTH"] = "none"  # single user with every role (what `serve --no-auth` sets)
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
        drop_dashboard_cache(db)
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


def filter_change(db: Path) -> dict[str, str] | None:
    """The query string of the filter change the browser timing makes: the default system's
    second most frequent model version *in its default period* (the last full quarter: a version
    with no case there shows no chart), else its whole log."""
    import datetime as dt

    import duckdb

    from hitlgov.metrics import periods

    con = duckdb.connect(str(db), read_only=True)
    try:
        system, first, last = con.execute(
            "SELECT system, min(ts)::DATE, max(ts)::DATE FROM cases GROUP BY system ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()[0]
        default = periods.default_period(first, last)
        rows = con.execute("SELECT model_version FROM cases WHERE system = ? AND model_version IS NOT NULL "
                           "AND ts >= ? AND ts < ? GROUP BY 1 ORDER BY count(*) DESC LIMIT 2",
                           [system, default.start, default.end + dt.timedelta(days=1)]).fetchall()
    finally:
        con.close()
    if len(rows) == 2:
        return {"system": system, "version": rows[-1][0]}
    if (default.start, default.end) != (first, last):
        return {"system": system, "from": first.isoformat(), "to": last.isoformat()}
    return None


class Server:
    """``hitlgov serve --no-auth --no-warm-up`` on a free port, until stopped."""

    def __init__(self, db: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        hitlgov = Path(sys.executable).with_name("hitlgov")
        self.proc = subprocess.Popen([str(hitlgov), "serve", "--no-auth", "--no-warm-up", "--db", str(db),
                                      "--port", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit("hitlgov serve exited before answering")
                time.sleep(0.25)
        raise SystemExit("hitlgov serve did not answer within 5 minutes")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


#: the app reports its own run state on its root element; the status widget is hidden by the
#: minimal toolbar, so it never showed a run (a page was counted loaded at its first chart while
#: later sections were still computing)
_IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def _loaded(page, title: str, chart: bool) -> None:
    """The title and first chart (or table) are visible, the script has finished and no
    "Computing ..." spinner is left."""
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=900_000)
    # a page's first chart, else (a page whose chart has no data: the Data page of a store with no
    # quarantined row) the table or notice that stands in for it
    others = "[data-testid=stDataFrame], [data-testid=stAlert], [data-testid=stButton], [data-testid=stTable]"
    page.wait_for_selector(f".js-plotly-plot, {others}" if chart else others, timeout=900_000)
    time.sleep(0.05)
    deadline = time.monotonic() + 900
    while not (page.locator(_IDLE).count() and not page.locator("[data-testid=stSpinner]").count()):
        if time.monotonic() > deadline:  # a page that never settles fails the run instead of hanging it
            raise TimeoutError(f"{title}: the script was still running (or a spinner shown) after 15 minutes")
        time.sleep(0.05)


def browser_timings(db: Path, repeats: int = 3, only: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Per page: uncomputed, cold, warm (in-app navigation), reload and filter change (see the module doc)."""
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    change = filter_change(db)
    out: dict[str, dict[str, float]] = {}
    pages = [p for p in helpers.PAGES if p[2] != "Users" and (only is None or p[2] in only)]
    drop_dashboard_cache(db)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium",
                               args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1440, "height": 1000})

        def goto(url: str, title: str, chart: bool) -> float:
            t = time.perf_counter()
            page.goto(url, wait_until="domcontentloaded")
            _loaded(page, title, chart)
            return time.perf_counter() - t

        def nav(title: str, chart: bool) -> float:
            t = time.perf_counter()
            # the link whose label ends its text: a link's text also holds its icon's ligature name
            # (the Overview's icon is "monitoring", so has_text="Monitoring" matched the Overview)
            page.locator("[data-testid=stSidebarNav] a").filter(
                has_text=re.compile(rf"{re.escape(title)}$")).first.click()
            _loaded(page, title, chart)
            return time.perf_counter() - t

        # 1. one server, nothing cached anywhere: each page's first visit computes (and caches) its figures
        server = Server(db)
        try:
            for _view, path, title, chart in pages:
                row = out.setdefault(title, {})
                row["uncomputed"] = goto(f"{server.url}/{path}", title, chart)
                row["reload"] = statistics.median(goto(f"{server.url}/{path}", title, chart) for _ in range(repeats))
                away = "Reports" if title != "Reports" else "Data"
                times = []
                for _ in range(repeats):
                    nav(away, away == "Data")
                    times.append(nav(title, chart))
                row["warm"] = statistics.median(times)
                if change:
                    row["filter_change"] = goto(f"{server.url}/{path}?{urlencode(change)}", title, chart)
                print(f"  {title:24s} " + "  ".join(f"{k} {v:6.2f} s" for k, v in row.items()), flush=True)
        finally:
            server.stop()
        # 2. the warm-up serve starts, to its end, on a cache holding none of the dashboard's figures
        drop_dashboard_cache(db)
        from hitlgov.dashboard import warmup

        # as far as the measured choice (the sidebar's order: whole log, then the model versions)
        offered = warmup.choices(db, limit=100)
        n_choices = offered.index(change) + 1 if change in offered else 0
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hitlgov.dashboard.warmup", "--db", str(db)], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, warmup.ENV_CHOICES: str(n_choices)})
        warm_up = time.perf_counter() - t
        print(f"  warm-up (default views and sidebar choices) {warm_up:7.1f} s", flush=True)
        # 3. a fresh server per page: its default view, then another model version
        for _view, path, title, chart in pages:
            server = Server(db)
            try:
                out[title]["cold"] = goto(f"{server.url}/{path}", title, chart)
                if change:  # the visitor then changes the filter, on the same server
                    out[title]["filter_change_warmed"] = goto(f"{server.url}/{path}?{urlencode(change)}", title, chart)
            finally:
                server.stop()
            print(f"  {title:24s} cold after serve {out[title]['cold']:6.2f} s, filter change after the warm-up "
                  f"{out[title].get('filter_change_warmed', float('nan')):6.2f} s", flush=True)
        b.close()
    out["_warm_up_seconds"] = {"seconds": warm_up, "choices": n_choices}
    return out


COLUMNS = [("cold", "Cold after serve (s)", 5.0), ("warm", "Warm (s)", 1.0),
           ("filter_change_warmed", "Filter change after the warm-up (s)", 2.0),
           ("filter_change", "Filter change, uncomputed (s)", None),
           ("reload", "Reload (s)", None), ("uncomputed", "Uncomputed (s)", None)]


def table(app: dict | None, browser: dict | None) -> str:
    head, sep = "| Page |", "|---|"
    if app:
        head, sep = head + " AppTest cold (s) | AppTest warm (s) |", sep + "---:|---:|"
    if browser:
        for _k, label, target in COLUMNS:
            head += f" Browser {label[0].lower() + label[1:]}{f' [target {target:g}]' if target else ''} |"
            sep += "---:|"
    rows = [head, sep]
    for title in (app or browser):
        if title.startswith("_"):
            continue
        row = f"| {title} |"
        if app:
            cold, warm = app.get(title, (float("nan"), float("nan")))
            row += f" {cold:.2f} | {warm:.2f} |"
        if browser:
            for k, _label, _t in COLUMNS:
                v = browser.get(title, {}).get(k)
                row += f" {v:.2f} |" if v is not None else " – |"
        rows.append(row)
    return "\n".join(rows)


def verdicts(browser: dict) -> str:
    out = []
    for k, label, target in COLUMNS:
        if target is None:
            continue
        slow = [f"{t} ({r[k]:.1f} s)" for t, r in browser.items()
                if not t.startswith("_") and r.get(k) is not None and r[k] >= target]
        out.append(f"{label.split(' (')[0]} under {target:g} s: " + ("met." if not slow else f"NOT met for {', '.join(slow)}."))
    return " ".join(out)


def write_results(text: str, subheading: str) -> None:
    """Replace this store size's subsection of the Dashboard section (the others stay beside it)."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(current)
    section = found.group(0) if found else f"{HEADING}\n\n"
    sub = re.compile(rf"^{re.escape(subheading)}\n.*?(?=^### |^## |\Z)", re.S | re.M)
    block = f"{subheading}\n\n{text.strip()}\n\n"
    if sub.search(section):
        section = sub.sub(lambda _m: block, section)
    else:
        if "### " not in section:  # the older, untitled measurement becomes its own subsection
            body = section[len(HEADING):].strip()
            section = f"{HEADING}\n\n" + (f"### Earlier measurement\n\n{body}\n\n" if body else "")
        section = section.rstrip() + "\n\n" + block
    current = current.replace(found.group(0), section) if found else current.rstrip() + "\n\n" + section
    RESULTS.write_text(current.rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path(os.environ.get("HITLGOV_DB", "hitlgov.duckdb")))
    ap.add_argument("--browser", action="store_true", help="also time page loads in headless Chromium")
    ap.add_argument("--no-apptest", action="store_true", help="skip the in-process AppTest timing")
    ap.add_argument("--pages", help="comma-separated page titles to time (default: every page)")
    ap.add_argument("--write", action="store_true", help=f"replace this store size's part of the '{HEADING}' section of {RESULTS.name}")
    args = ap.parse_args()
    # a stopped run (timeout, Ctrl-C) still stops the servers it started (the `finally` blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from hitlgov.metrics import inventory
    from hitlgov.metrics.source import Filter, Source

    with Source.open(args.db) as src:
        c = inventory.counts(src, Filter())
    print(f"store {args.db}: {c['cases']:,} cases, {c['reviews']:,} reviews")
    app = None
    if not args.no_apptest:
        print("AppTest (server side):")
        app = apptest_timings(args.db)
    browser = None
    if args.browser:
        print("Browser (headless Chromium):")
        browser = browser_timings(args.db, only=args.pages.split(",") if args.pages else None)
    cpu = platform.processor() or platform.machine()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    command = ("python bench/dashboard_timing.py --db STORE" + (" --browser" if browser else "")
               + (" --no-apptest" if app is None else "") + (" --write" if args.write else ""))
    text = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `{command}` on {c['cases']:,} cases / "
            f"{c['reviews']:,} reviews, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, load average "
            f"at the end {load} (a shared machine), default filters.\n\n"
            + table(app, browser) + "\n\n")
    if app:
        text += ("*AppTest*: the page script run in-process by `streamlit.testing.v1.AppTest` (server-side time). Cold = "
                 "new session, `st.cache_data` cleared and the dashboard's store-cache entries dropped (every figure "
                 "computed from the store); warm = the same page re-run in the session, median of 3.\n\n")
    if browser:
        text += ("*Browser*: `hitlgov serve --no-warm-up` + headless Chromium (Playwright), until the title and first "
                 "chart (or table) are visible and no script runs. Cold after serve = first visit to a freshly started "
                 "server (one per page) with the store's result cache holding the default view, as the warm-up that "
                 "`serve` runs leaves it (run to its end first: "
                 f"{browser['_warm_up_seconds']['seconds']:.0f} s: the default views and the sidebar's first "
                 f"{browser['_warm_up_seconds']['choices']} choices, up to the measured model version); warm = back "
                 "to the page by a sidebar click, median of 3; filter change after the warm-up = the page's URL with the "
                 "filter change (the second model version of the default period, else the whole log) right after the cold "
                 "visit, the warm-up having gone through the sidebar's choices; filter "
                 "change, uncomputed = that URL before any warm-up (never computed before); reload = full browser "
                 "reload, median of 3; uncomputed = first visit with nothing cached anywhere.\n\n"
                 + verdicts(browser))
    print()
    print(text)
    if args.write:
        write_results(text, f"### {c['cases']:,} cases")
        print(f"\nwrote the '{HEADING}' section of {RESULTS}")


if __name__ == "__main__":
    main()
