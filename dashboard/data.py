"""Data access for the dashboard: cached calls of ``metrics`` functions, nothing else.

Every number a page shows comes from a function in ``metrics/``; this module only opens the
store read-only for the duration of one call (DuckDB allows one writer process, and ingestion
may be writing) and caches the result at two levels:

* ``st.cache_data`` in the server process, keyed by the function, the filter (as a plain
  tuple), the keyword arguments, the content digest of any policy file they name and the
  store's **version token** (:func:`version_token`): the data version of
  :func:`hitlgov.result_cache.data_version` plus the audit trail's length. It is *not* the
  file's size and mtime: writing a result to the store's cache changes the file but not the
  data, and must not throw away every figure the server holds.
* the store's own result cache (:mod:`hitlgov.result_cache`, the one ``metrics``, ``report``
  and ``status`` use), keyed by the data version: a figure computed once -- by any server, by
  the warm-up after ``serve`` (:mod:`hitlgov.dashboard.warmup`), or before a restart -- is
  read back instead of recomputed. Only results that JSON represents exactly are stored there,
  and never those that read the audit trail (which the data version does not cover).

The version token is read with one short query when the store's files changed (an ingestion
committed, a result was cached), and reused while they did not, so a page load costs one
``stat`` per figure. A new ingestion changes the data version: both caches miss and every figure
is computed from the new data.

``hitlgov serve --engine URL`` runs the same calls on another engine (:func:`hitlgov.metrics.engines.open_source`):
the URL reaches the app as ``--engine`` after ``--`` (or ``$HITLGOV_ENGINE``). A remote engine
has no file to watch, so its cached figures expire after :data:`ENGINE_TTL_SECONDS`, and
nothing is written to the store for it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import math
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import streamlit as st
from hitlgov.metrics.engines import open_source
from hitlgov.metrics.source import Filter

from hitlgov import result_cache
from hitlgov import store as hstore
from hitlgov.errors import HitlgovError, StoreLockedError

ENV_ENGINE = "HITLGOV_ENGINE"
ENGINE_TTL_SECONDS = 300
#: results of these modules read the audit trail, which the data version leaves out: they are
#: cached in the server only (keyed by the version token, which counts audit events)
NOT_PERSISTED_MODULES = ("hitlgov.metrics.audit_trail",)
#: how long a write of results to the store's cache may wait for readers to close; 0 in the
#: server (a busy store is simply not cached this time), a few seconds in the warm-up
SAVE_WAIT_SECONDS = 0.0

FilterKey = tuple  # (start, end, system, model_version, segment_name, segment_value), dates as ISO text


def db_path() -> str:
    """The store the app serves: ``--db`` after ``--`` on the command line, else $HITLGOV_DB, else the default."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            return str(Path(argv[i + 1]))
        if arg.startswith("--db="):
            return str(Path(arg.split("=", 1)[1]))
    return str(hstore.resolve_db(None))


def engine_url() -> str | None:
    """The engine the app runs on: ``--engine`` after ``--``, else $HITLGOV_ENGINE, else None (the store)."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--engine" and i + 1 < len(argv):
            return argv[i + 1] or None
        if arg.startswith("--engine="):
            return arg.split("=", 1)[1] or None
    return os.environ.get(ENV_ENGINE) or None


def source_token(db: str, engine: str | None) -> str:
    """The cache token: the store's version token, or for an engine the URL and a time bucket."""
    if engine:
        return f"engine|{engine}|{int(time.time() // ENGINE_TTL_SECONDS)}"
    return version_token(db)


def store_token(db: str) -> str:
    """Changes whenever the store's files change (an ingestion committed, a result was cached, a
    checkpoint ran): when to re-read the version token, not a cache key."""
    parts = []
    for suffix in ("", ".wal"):
        try:
            s = os.stat(db + suffix)
            parts.append(f"{s.st_size}:{s.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


_versions: dict[str, tuple[str, str]] = {}  # db -> (file token it was read at, version token)
_versions_lock = threading.Lock()


def read_version(con) -> str:
    """The version token on an open connection: the data version and the audit trail's length."""
    events = 0
    try:
        events = con.execute("SELECT count(*) FROM audit_events").fetchall()[0][0]
    except Exception:  # noqa: BLE001 - a store without an audit trail yet
        events = -1
    return f"{result_cache.data_version(con)}|{events}"


def version_token(db: str) -> str:
    """The store's version token (:func:`read_version`), re-read only when its files changed.

    While an ingestion holds the store, the last token read stays in use (the figures already
    cached are those of the last committed data); with none read yet, the lock error is raised.
    """
    files = store_token(db)
    with _versions_lock:
        known = _versions.get(db)
    if known is not None and known[0] == files:
        return known[1]
    try:
        with hstore.connect(db, read_only=True, wait_seconds=1.0) as con:
            token = read_version(con)
    except HitlgovError:
        if known is not None:
            return known[1]
        raise
    with _versions_lock:
        _versions[db] = (files, token)
    return token


def data_version_of(token: str) -> str:
    """The data version inside a version token (what the store's result cache is keyed by)."""
    return token.split("|", 1)[0]


def filter_key(flt: Filter | None) -> FilterKey | None:
    if flt is None:
        return None
    seg = flt.segment or (None, None)
    return (flt.start.isoformat() if flt.start else None, flt.end.isoformat() if flt.end else None,
            flt.system, flt.model_version, seg[0], seg[1])


def to_filter(key: FilterKey | None) -> Filter | None:
    if key is None:
        return None
    start, end, system, version, seg_name, seg_value = key
    return Filter(start=dt.date.fromisoformat(start) if start else None,
                  end=dt.date.fromisoformat(end) if end else None,
                  system=system, model_version=version,
                  segment=(seg_name, seg_value) if seg_name is not None else None)


def _plain_equal(a: Any, b: Any) -> bool:
    """Deep equality with the exact types JSON gives back (NaN equal to NaN, 1 not equal to 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_plain_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(_plain_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def encode(value: Any) -> str | None:
    """The JSON text of ``value`` when reading it back gives exactly ``value`` (same types: no
    tuple, no integer dict key, no DataFrame, no numpy scalar); else None (not stored)."""
    try:
        text = json.dumps({"v": value}, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return text if _plain_equal(json.loads(text)["v"], value) else None


def persisted(qualname: str) -> bool:
    """Whether a function's results may go to the store's cache (see the module doc)."""
    return not qualname.startswith(tuple(m + "." for m in NOT_PERSISTED_MODULES))


def store_key(qualname: str, token: str, fkey: FilterKey | None, has_filter: bool, kwargs: tuple,
              inputs: str) -> str:
    return result_cache.key(f"dashboard:{qualname}", data_version_of(token), filter=fkey, has_filter=has_filter,
                            kwargs=[[k, repr(v)] for k, v in kwargs], inputs=inputs)


def compute(qualname: str, db: str, token: str, fkey: FilterKey | None, has_filter: bool, kwargs: tuple,
            engine: str | None = None, inputs: str = "") -> Any:
    """One figure: from the store's result cache when it holds it for this data version, else
    computed by the metric function (and then written to that cache once the reader closed)."""
    module, name = qualname.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    kw = dict(kwargs)
    use_store = engine is None and persisted(qualname) and not result_cache.disabled()
    key = store_key(qualname, token, fkey, has_filter, kwargs, inputs) if use_store else None
    entry = None
    with open_source(db, engine) as src:
        if key is not None and src.raw is not None:
            hit = result_cache.lookup(src.raw, key)
            if isinstance(hit, dict) and "v" in hit:
                return hit["v"]
        value = fn(src, to_filter(fkey), **kw) if has_filter else fn(src, **kw)
        if key is not None and src.raw is not None:
            text = encode(value)
            if text is not None:
                entry = (key, f"dashboard:{qualname}", data_version_of(token), text)
    if entry is not None:  # the reader is closed: a short write, never waiting long
        result_cache.save(db, [entry], wait_seconds=SAVE_WAIT_SECONDS)
    return value


@st.cache_data(show_spinner=False, max_entries=1000)
def _cached(qualname: str, db: str, token: str, fkey: FilterKey | None, has_filter: bool,
            kwargs: tuple, engine: str | None = None, inputs: str = "") -> Any:
    return compute(qualname, db, token, fkey, has_filter, kwargs, engine, inputs)


#: what a page is waiting for, in words, while a figure is computed (the running state)
WHAT = {
    "kpis": "the KPI tiles and their deltas", "findings": "the policy findings, drift tests included",
    "oversight_summary": "the oversight rates", "trend": "the monthly trends",
    "roi_trend": "the monthly cost and errors caught", "by_reviewer": "the per-reviewer figures",
    "by_model_version": "the rates by model version", "high_risk_coverage": "the high-risk review coverage",
    "automation_bias": "the automation-bias test", "reviewer_accuracy": "reviewer accuracy",
    "latency_histogram": "the review times", "agreement_summary": "reviewer agreement and its bootstrap intervals",
    "fairness_by_attribute": "fairness and its bootstrap intervals", "drift_summary": "Evidently's drift tests",
    "distribution": "the reference and current distributions", "score_trend": "the score trend",
    "reliance_summary": "reliance", "selective_accuracy_summary": "the audit sample's error rate",
    "reviewer_quality_summary": "Dawid-Skene reviewer accuracy", "bias_audit_table": "the bias-audit table",
    "store_verification": "the verification of every stored row", "search_cases": "the matching cases",
    "system_context": "the system's model versions and segments",
}


def scope_words(flt: Filter | None) -> str:
    """'consumer-credit, 2026 Q3' / 'consumer-credit, 2026-01-05 – 2026-02-20, model version v2'."""
    if flt is None:
        return "the store"
    from hitlgov.metrics.periods import quarter_label

    period = None
    if flt.start and flt.end:
        period = quarter_label(flt.start, flt.end) or f"{flt.start} – {flt.end}"
    parts = [flt.system or "all systems", period,
             f"model version {flt.model_version}" if flt.model_version else None,
             f"{flt.segment[0]} = {flt.segment[1]}" if flt.segment else None]
    return ", ".join(p for p in parts if p)


def call(fn: Callable, flt: Filter | None = None, *, db: str | None = None, what: str | None = None,
         **kwargs) -> Any:
    """``fn(source, flt, **kwargs)`` (or ``fn(source, **kwargs)`` when ``flt`` is None), cached.

    While it computes (a cache miss: a new filter, new data) the page says what it is waiting
    for -- "Computing fairness and its bootstrap intervals for consumer-credit, 2026 Q3…", with
    the seconds elapsed -- instead of sitting frozen: Streamlit's spinner, which appears only
    after half a second, so a cached figure never flickers one (``what`` overrides :data:`WHAT`).
    When the store cannot be read (missing, locked by a writer, not a hitlgov store) the page
    shows the one-line reason and stops there, instead of a traceback.
    """
    from hitlgov.dashboard.literal import md

    words = what or WHAT.get(fn.__name__) or fn.__name__.replace("_", " ")
    try:
        with st.spinner(f"Computing {md(words)} for {md(scope_words(flt))}…", show_time=True):
            return try_call(fn, flt, db=db, **kwargs)
    except HitlgovError as exc:
        st.error(str(exc), icon=":material/lock:" if isinstance(exc, StoreLockedError) else ":material/error:")
        st.stop()


def inputs_digest(kwargs: dict) -> str:
    """What a call reads besides the store: the content of a policy file it names (editing the
    file must not serve figures evaluated under the old policy)."""
    path = kwargs.get("policy_path")
    if not path:
        return ""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would block the page
            return "not a file"
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read(1 << 22)).hexdigest()
    except OSError:
        return "unreadable"  # the metric's own error (naming the file) is what the page shows


def try_call(fn: Callable, flt: Filter | None = None, *, db: str | None = None, **kwargs) -> Any:
    """Like :func:`call`, but raises what the metric or :func:`open_source` raises
    (``HitlgovError`` for a missing or locked store). Errors are never cached."""
    db = db or db_path()
    engine = engine_url()
    qualname = f"{fn.__module__}.{fn.__name__}"
    kw = tuple(sorted(kwargs.items()))
    return _cached(qualname, db, source_token(db, engine), filter_key(flt), flt is not None, kw, engine,
                   inputs_digest(kwargs))


def uncached(fn: Callable, *args, db: str | None = None, **kwargs) -> Any:  # noqa: D401
    """``fn(source, *args, **kwargs)`` on a fresh read-only connection, no cache (exports)."""
    with open_source(db or db_path(), engine_url()) as src:
        return fn(src, *args, **kwargs)


@st.cache_data(show_spinner=False, max_entries=20)
def _integrity(db: str, token: str) -> list[str]:
    from hitlgov import integrity

    with hstore.connect(db, read_only=True) as con:
        problems, entry = integrity.check(con, version=data_version_of(token))
    if entry is not None:  # the reader is closed: a short write, never waiting long
        result_cache.save(db, [entry], wait_seconds=SAVE_WAIT_SECONDS)
    return problems


def integrity_problems(db: str | None = None) -> list[str]:
    """What must hold before any figure is shown (:func:`hitlgov.audit.quick_check`): no
    duplicated keys in the store, and in place the registered files unchanged -- the same
    check that makes ``hitlgov metrics`` refuse. Cached per store version, in this server and in
    the store's result cache (:mod:`hitlgov.integrity`). A remote engine has no store to check: nothing to report."""
    db = db or db_path()
    if engine_url():
        return []
    return _integrity(db, version_token(db))


def clear() -> None:
    """Forget every figure cached in this server (after an ingestion from the Data page); the
    store's cache needs no clearing: its entries are keyed by the data version."""
    _cached.clear()
    _integrity.clear()
    with _versions_lock:
        _versions.clear()
