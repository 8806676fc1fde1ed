"""Data access for the dashboard: cached calls of ``metrics`` functions, nothing else.

Every number a page shows comes from a function in ``metrics/``; this module only opens the
store read-only for the duration of one call (DuckDB allows one writer process, and ingestion
may be writing) and caches the result with ``st.cache_data``. The cache key is the function,
the filter (as a plain tuple), the keyword arguments and the store's *version token* -- the
size and modification time of the database file and its write-ahead log -- so a new ingestion
invalidates every cached figure without a query.

``hitlgov serve --engine URL`` runs the same calls on another engine (:func:`hitlgov.metrics.engines.open_source`):
the URL reaches the app as ``--engine`` after ``--`` (or ``$HITLGOV_ENGINE``). A remote engine
has no file to watch, so its cached figures expire after :data:`ENGINE_TTL_SECONDS`.
"""
from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import streamlit as st
from hitlgov.metrics.engines import open_source
from hitlgov.metrics.source import Filter

from hitlgov import store as hstore
from hitlgov.errors import HitlgovError, StoreLockedError

ENV_ENGINE = "HITLGOV_ENGINE"
ENGINE_TTL_SECONDS = 300

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
    """The cache token: the store's files, or for an engine the URL and a time bucket."""
    if engine:
        return f"engine|{engine}|{int(time.time() // ENGINE_TTL_SECONDS)}"
    return store_token(db)


def store_token(db: str) -> str:
    """Changes whenever the store's files change (an ingestion committed, a checkpoint ran)."""
    parts = []
    for suffix in ("", ".wal"):
        try:
            s = os.stat(db + suffix)
            parts.append(f"{s.st_size}:{s.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return "|".join(parts)


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


@st.cache_data(show_spinner=False, max_entries=1000)
def _cached(qualname: str, db: str, token: str, fkey: FilterKey | None, has_filter: bool,
            kwargs: tuple, engine: str | None = None) -> Any:
    module, name = qualname.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    kw = dict(kwargs)
    with open_source(db, engine) as src:
        if has_filter:
            return fn(src, to_filter(fkey), **kw)
        return fn(src, **kw)


def call(fn: Callable, flt: Filter | None = None, *, db: str | None = None, **kwargs) -> Any:
    """``fn(source, flt, **kwargs)`` (or ``fn(source, **kwargs)`` when ``flt`` is None), cached.

    When the store cannot be read (missing, locked by a writer, not a hitlgov store) the page
    shows the one-line reason and stops there, instead of a traceback.
    """
    try:
        return try_call(fn, flt, db=db, **kwargs)
    except HitlgovError as exc:
        st.error(str(exc), icon=":material/lock:" if isinstance(exc, StoreLockedError) else ":material/error:")
        st.stop()


def try_call(fn: Callable, flt: Filter | None = None, *, db: str | None = None, **kwargs) -> Any:
    """Like :func:`call`, but raises what the metric or :func:`open_source` raises
    (``HitlgovError`` for a missing or locked store). Errors are never cached."""
    db = db or db_path()
    engine = engine_url()
    qualname = f"{fn.__module__}.{fn.__name__}"
    kw = tuple(sorted(kwargs.items()))
    return _cached(qualname, db, source_token(db, engine), filter_key(flt), flt is not None, kw, engine)


def uncached(fn: Callable, *args, db: str | None = None, **kwargs) -> Any:  # noqa: D401
    """``fn(source, *args, **kwargs)`` on a fresh read-only connection, no cache (exports)."""
    with open_source(db or db_path(), engine_url()) as src:
        return fn(src, *args, **kwargs)


@st.cache_data(show_spinner=False, max_entries=20)
def _integrity(db: str, token: str) -> list[str]:
    from hitlgov import audit

    with hstore.connect(db, read_only=True) as con:
        return audit.quick_check(con)


def integrity_problems(db: str | None = None) -> list[str]:
    """What must hold before any figure is shown (:func:`hitlgov.audit.quick_check`): no
    duplicated keys in the store, and in place the registered files unchanged -- the same
    check that makes ``hitlgov metrics`` and the reports refuse. Cached per store version (one
    aggregation per table). A remote engine has no store to check: nothing to report."""
    db = db or db_path()
    if engine_url():
        return []
    return _integrity(db, store_token(db))


def clear() -> None:
    """Forget every cached figure (after an ingestion from the Data page)."""
    _cached.clear()
    _integrity.clear()
