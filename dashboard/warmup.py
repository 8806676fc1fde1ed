"""The warm-up after ``hitlgov serve``: every page's default view computed once, in the background.

Why: on a large store (10M cases) a page's figures take tens of seconds to compute from the
tables, so the first visitor after a new ingestion would wait for all of them. ``serve`` starts
this module as a low-priority background process next to the server; it runs each page script
once, exactly as a visitor with every role would see it by default (Streamlit's own
``AppTest`` runs the real scripts, so the default filter, the widgets' defaults and the metric
calls are those of the pages themselves, never a copy that could drift from them), and every
figure it computes goes to the store's result cache (:mod:`hitlgov.dashboard.data`), keyed by the
data version. The server then reads them from there on the first visit.

It computes nothing twice: a figure already cached for this data version is only read. It
writes nothing but derived results (the ``result_cache`` table; no audit event, no sign-in), it
stops as soon as the server process is gone, and ``hitlgov serve --no-warm-up`` (or
``HITLGOV_NO_WARMUP=1``) turns it off. A page the warm-up could not render (a locked store, an
error) is simply computed on its first visit, as without a warm-up.

Usage (what ``serve`` runs)::

    python -m hitlgov.dashboard.warmup --db STORE [--parent PID]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import resources
from pathlib import Path

ENV_DISABLE = "HITLGOV_NO_WARMUP"
#: the pages in the order a visitor most likely opens them (the landing page first); the Users
#: page shows accounts, not figures, so it has nothing to warm
PAGES = ("overview", "oversight", "reviewers", "reliance", "fairness", "drift", "monitoring", "audit_trail",
         "data_page", "reports")
SAVE_WAIT_SECONDS = 5.0  # a result written while the server reads waits for it instead of being lost


def disabled() -> bool:
    return os.environ.get(ENV_DISABLE, "").strip().lower() not in ("", "0", "false", "no")


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def run(db: str | Path, *, pages: tuple[str, ...] = PAGES, parent: int | None = None,
        log=None) -> dict[str, float | str]:
    """Render each page once on ``db`` (single user, every role); return seconds per page, or the
    error that page stopped on. Never raises for a page: a failed page is left to its first visit."""
    from hitlgov import authconfig

    os.environ["HITLGOV_DB"] = str(db)
    os.environ[authconfig.ENV_MODE] = "none"  # single user with every role: every page renders
    os.environ.pop(authconfig.ENV_FILE, None)
    from streamlit.testing.v1 import AppTest

    from hitlgov.dashboard import data

    data.SAVE_WAIT_SECONDS = SAVE_WAIT_SECONDS
    app = str(resources.files("hitlgov.dashboard").joinpath("app.py"))
    out: dict[str, float | str] = {}
    for view in pages:
        if not _alive(parent):
            break
        t0 = time.perf_counter()
        try:
            at = AppTest.from_file(app, default_timeout=3600)
            at.run()
            at.switch_page(f"views/{view}.py").run()
            # an st.error on a page is often a finding (a failed four-fifths rule), not a failure
            problems = [e.value for e in at.exception] + [e.value for e in at.error if "Unexpected error" in e.value]
            out[view] = f"error: {str(problems[0])[:200]}" if problems else round(time.perf_counter() - t0, 2)
        except Exception as exc:  # noqa: BLE001 - a warm-up never fails the server
            out[view] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
        if log:
            print(f"warm-up {view}: {out[view]}", file=log, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hitlgov.dashboard.warmup", description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="the store the server serves")
    ap.add_argument("--parent", type=int, help="stop when this process (the server) is gone")
    args = ap.parse_args(argv)
    if disabled():
        return 0
    try:
        os.nice(10)  # a visitor's own page load comes first
    except OSError:
        pass
    run(args.db, parent=args.parent, log=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
