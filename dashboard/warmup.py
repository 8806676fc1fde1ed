"""The warm-up after ``hitlgov serve``: every page's default view computed once, in the background,
then the same pages for each other choice the sidebar offers.

Why: on a large store (10M cases) a page's figures take tens of seconds to compute from the
tables, so the first visitor after a new ingestion would wait for all of them. ``serve`` starts
this module as a low-priority background process next to the server; it runs each page script
once, exactly as a visitor with every role would see it by default (Streamlit's own
``AppTest`` runs the real scripts, so the default filter, the widgets' defaults and the metric
calls are those of the pages themselves, never a copy that could drift from them), and every
figure it computes goes to the store's result cache (:mod:`hitlgov.dashboard.data`), keyed by the
data version. The server then reads them from there on the first visit.

After the default views it renders the pages again for the choices a visitor makes next -- each
*offered* choice of the sidebar, one at a time from the default view: the whole log, each model
version, each other system, each segment (:func:`choices`, at most :data:`MAX_CHOICES`, or
``$HITLGOV_WARMUP_CHOICES``). On a 10M-case store a page whose filter nothing computed before takes
tens of seconds; a choice the warm-up went through is read from the cache like the default view.
A period typed by hand is not among them: it is computed on first use.

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
ENV_CHOICES = "HITLGOV_WARMUP_CHOICES"
#: how many sidebar choices beyond the default view are warmed (each costs one render of every page)
MAX_CHOICES = 12
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


def max_choices() -> int:
    """:data:`MAX_CHOICES`, or ``$HITLGOV_WARMUP_CHOICES`` when it is a whole number (0: defaults only)."""
    try:
        return max(0, int(os.environ.get(ENV_CHOICES, "").strip()))
    except ValueError:
        return MAX_CHOICES


def choices(db: str | Path, *, limit: int = MAX_CHOICES) -> list[dict[str, str]]:
    """The query strings of the sidebar's offered choices, in the order a visitor most likely
    makes them, one step from the default view each: for the default system, the whole log (when
    the default period is a quarter), then each model version; then each other system; then each
    segment of the default system. Built from the same catalogue and context the sidebar reads
    (:func:`hitlgov.metrics.inventory.system_catalog`, :func:`~hitlgov.metrics.inventory.system_context`)."""
    from hitlgov.dashboard import filters
    from hitlgov.metrics import inventory, periods
    from hitlgov.metrics.engines import open_source

    out: list[dict[str, str]] = []
    if limit <= 0:
        return out
    with open_source(str(db)) as src:
        catalog = inventory.system_catalog(src)
        if not catalog:
            return out
        first = filters.default_system(catalog)
        context = inventory.system_context(src, system=first)
    by_name = {s["system"]: s for s in catalog}
    lo, hi = filters.system_period(by_name[first])
    default = periods.default_period(lo, hi)
    if (default.start, default.end) != (lo, hi):
        out.append({"system": first, "from": lo.isoformat(), "to": hi.isoformat()})
    out += [{"system": first, "version": v} for v in context["versions"]]
    out += [{"system": name} for name in by_name if name != first]
    out += [{"system": first, "segment": f"{a}={v}"} for a, values in context["segments"].items() for v in values]
    return out[:limit]


def _render(app: str, view: str, query: dict[str, str]) -> str | None:
    """Render one page as the server would for a visitor opening ``?query``; the error it stopped
    on, or None."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(app, default_timeout=3600)
    at.query_params.update(query)
    at.run()
    at.switch_page(f"views/{view}.py").run()
    # an st.error on a page is often a finding (a failed four-fifths rule), not a failure
    problems = [e.value for e in at.exception] + [e.value for e in at.error if "Unexpected error" in e.value]
    return f"error: {str(problems[0])[:200]}" if problems else None


def run(db: str | Path, *, pages: tuple[str, ...] = PAGES, parent: int | None = None,
        log=None, extra_choices: int | None = None) -> dict[str, float | str]:
    """Render each page once on ``db`` (single user, every role), then again for each of the
    sidebar's :func:`choices` (``extra_choices`` of them; default :func:`max_choices`); return
    seconds per page (``"page"`` for the default view, ``"page?k=v"`` for a choice), or the error
    that page stopped on. Never raises for a page: a failed page is left to its first visit."""
    from hitlgov import authconfig

    os.environ["HITLGOV_DB"] = str(db)
    os.environ[authconfig.ENV_MODE] = "none"  # single user with every role: every page renders
    os.environ.pop(authconfig.ENV_FILE, None)
    from hitlgov.dashboard import data

    data.SAVE_WAIT_SECONDS = SAVE_WAIT_SECONDS
    app = str(resources.files("hitlgov.dashboard").joinpath("app.py"))
    out: dict[str, float | str] = {}

    def one(view: str, query: dict[str, str]) -> None:
        name = view + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        t0 = time.perf_counter()
        try:
            problem = _render(app, view, query)
            out[name] = problem or round(time.perf_counter() - t0, 2)
        except Exception as exc:  # noqa: BLE001 - a warm-up never fails the server
            out[name] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
        if log:
            print(f"warm-up {name}: {out[name]}", file=log, flush=True)

    for view in pages:
        if not _alive(parent):
            return out
        one(view, {})
    try:
        more = choices(db, limit=max_choices() if extra_choices is None else extra_choices)
    except Exception as exc:  # noqa: BLE001 - the default views are warm; the rest waits for visitors
        out["choices"] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
        return out
    for query in more:
        for view in pages:
            if not _alive(parent):
                return out
            one(view, query)
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
