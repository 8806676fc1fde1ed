"""The integrity check every figure waits for, computed once per data version.

Why: :func:`hitlgov.audit.quick_check` (no duplicated key, which the metrics assume; in place, the
registered files unchanged) runs before ``hitlgov metrics`` computes anything and before a
dashboard page shows a figure. It is one aggregation per table, but on 10M cases that is tens of
seconds, and every new server process and every ``metrics`` call paid it again: the first visit
after ``hitlgov serve`` took 42-57 s on the Audit trail page of a 10M store whose figures were
all cached, 70% of it in this check (bench/RESULTS.md). Its answer depends only on the stored
data, so it is cached in the store's result cache under the data version
(:mod:`hitlgov.result_cache`), like the figures it guards.

What the cache cannot see it cannot see here either: rows rewritten in place with every table's
row count kept (an inserted duplicate changes a count, so a new version, so a fresh check).
That is what ``hitlgov verify`` and the reports' own verification find -- neither ever reads
this cache -- and ``--no-cache`` / ``HITLGOV_NO_CACHE=1`` bypasses it.
"""
from __future__ import annotations

import duckdb

KIND = "integrity"
_UNCHECKABLE = "the store cannot be checked"


def check(con: duckdb.DuckDBPyConnection, *, use_cache: bool = True,
          version: str | None = None) -> tuple[list[str], tuple | None]:
    """``(problems, entry)``: :func:`hitlgov.audit.quick_check`'s problems, served from the store's
    result cache when it holds them for this data version (``version``, when the caller has just
    read it: :func:`hitlgov.result_cache.data_version`). ``entry`` is the cache row to write once
    the (read-only) connection is closed (:func:`hitlgov.result_cache.save`), or None."""
    from hitlgov import audit, result_cache

    if not use_cache:
        return audit.quick_check(con), None
    version = version or result_cache.data_version(con)
    cache_key = result_cache.key(KIND, version)
    hit = result_cache.lookup(con, cache_key)
    if isinstance(hit, list) and all(isinstance(p, str) for p in hit):
        return hit, None
    problems = audit.quick_check(con)
    if any(p.startswith(_UNCHECKABLE) for p in problems):  # a failure to read, not a property of the data
        return problems, None
    return problems, (cache_key, KIND, version, problems)
