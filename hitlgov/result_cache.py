"""Results cached in the store, keyed by the version of the data they were computed from.

Why: ``hitlgov metrics``, ``report`` and ``status`` recompute everything from the tables on
every call, and on a large store (or a small one paying for Evidently's import) that takes
seconds. What they return depends only on the stored data, the filter, the policy, the options
and the code, so the result is written to the ``result_cache`` table once and served from there
while none of those changed.

The key (:func:`key`) is the SHA-256 of:

* the **data version** (:func:`data_version`): every ingestion run (id, file digest, counts,
  finish time), the row count of every table (audit trail and this cache excepted: recording a
  policy or a report does not change the data), the full content of the configuration tables
  (``systems``, ``attribute_roles``, which set the positive label and the sensitive attributes)
  and, for a store serving Parquet in place, each file's current size and modification time;
* the **code version**: the content of every module of ``hitlgov``, ``hitlgov.metrics`` and
  ``hitlgov.reports`` (an upgrade, or an edit in a checkout, computes afresh);
* the caller's parts: the kind of result, the filter, the policy's digest, the options.

So an ingestion, a re-registered in-place dataset, a changed file, a changed policy or a new
hitlgov all miss. What it cannot see: someone rewriting rows of the DuckDB file directly with
SQL while keeping every table's row count -- ``hitlgov verify`` is what detects that, and
``--no-cache`` (``HITLGOV_NO_CACHE=1``) bypasses the cache entirely.

The table is created by the first write (it holds derived data, never evidence: dropping it
loses nothing). Reads use the caller's (read-only) connection; writes (:func:`save`) open a short write
connection *after* the reader closed and never wait: a store locked by a dashboard or an
ingestion simply is not cached this time. A cache failure never fails the command.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import duckdb

TABLE = "result_cache"
ENV_DISABLE = "HITLGOV_NO_CACHE"
# Tables whose growth is bookkeeping about use, not data: policy_changed / report_generated
# events are appended by the very commands that read the cache.
NOT_DATA = {"audit_events", TABLE, "schema_version"}
CONFIG_TABLES = ("systems", "attribute_roles")
KEEP_PER_KIND = 64  # entries kept per kind for the current data version (one per filter/policy)


def disabled() -> bool:
    return os.environ.get(ENV_DISABLE, "").strip().lower() not in ("", "0", "false", "no")


def _q(name: str) -> str:
    """A quoted identifier (the rule of ``hitlgov.ingest.casting.q``, which the ground cannot import)."""
    return '"' + name.replace('"', '""') + '"'


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                       "AND schema_name = 'main' ORDER BY table_name").fetchall()
    return [r[0] for r in rows if r[0] not in NOT_DATA]


def data_version(con: duckdb.DuckDBPyConnection) -> str:
    """A digest that changes whenever the data the metrics read changes (see the module doc)."""
    tables = _tables(con)
    parts: dict = {"tables": {}}
    for name in tables:
        parts["tables"][name] = con.execute(f"SELECT count(*) FROM {_q(name)}").fetchall()[0][0]
    if "ingestion_runs" in tables:
        parts["runs"] = con.execute(
            "SELECT list([CAST(run_id AS VARCHAR), coalesce(sha256, ''), coalesce(CAST(stored AS VARCHAR), ''), "
            "coalesce(CAST(quarantined AS VARCHAR), ''), coalesce(CAST(finished_at AS VARCHAR), '')] "
            "ORDER BY run_id) FROM ingestion_runs").fetchall()[0][0]
    for name in CONFIG_TABLES:
        if name in tables:
            rows = con.execute(f"SELECT CAST(t AS VARCHAR) AS r FROM {_q(name)} t ORDER BY r").fetchall()
            parts[name] = [r[0] for r in rows]
    if "inplace_files" in tables:
        files = []
        for (path,) in con.execute("SELECT path FROM inplace_files ORDER BY path").fetchall():
            try:
                st = os.stat(path)
                files.append([path, st.st_size, st.st_mtime_ns])
            except OSError:
                files.append([path, None, None])
        parts["inplace_files"] = files
    return _sha256(parts)


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 over the source of the modules that compute results (read once per process)."""
    from hitlgov import __version__

    h = hashlib.sha256(__version__.encode())
    for package in ("hitlgov", "hitlgov.metrics", "hitlgov.reports"):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(folder).rglob("*")):
                if path.suffix in (".py", ".yaml", ".j2", ".css") and path.is_file():
                    h.update(str(path.relative_to(folder)).encode())
                    h.update(path.read_bytes())
    return h.hexdigest()


def _sha256(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def key(kind: str, version: str, **parts) -> str:
    """The cache key of one result: its kind, the data and code versions, and the caller's parts."""
    return _sha256({"kind": kind, "data": version, "code": code_version(), "parts": parts})


DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key          VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    data_version VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    value        VARCHAR NOT NULL
)"""


def has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'main' AND table_name = ?", [TABLE]).fetchall()[0][0])


def lookup(con: duckdb.DuckDBPyConnection, cache_key: str):
    """The cached value (decoded JSON) for ``cache_key``, or None. Never raises."""
    if disabled():
        return None
    try:
        if not has_table(con):
            return None
        row = con.execute(f"SELECT value FROM {TABLE} WHERE key = ?", [cache_key]).fetchall()
        return json.loads(row[0][0]) if row else None
    except (duckdb.Error, ValueError):  # a damaged entry is a miss, never an error
        return None


def save(db, entries: list[tuple[str, str, str, object]], *, wait_seconds: float = 0.0) -> bool:
    """Write ``(key, kind, data_version, value)`` entries (``value``: JSON-ready data or its JSON text) with a short write connection that does
    not wait for a lock (or waits ``wait_seconds``: the dashboard's warm-up, which must not lose its work to a reader); drop entries of other data versions (they can never be served again) and
    keep the newest :data:`KEEP_PER_KIND` per kind. Returns whether they were written."""
    if disabled() or not entries:
        return False
    from hitlgov import store
    from hitlgov.errors import HitlgovError

    try:
        with store.connect(db, wait_seconds=wait_seconds) as con, store.transaction(con):
            # derived data, not schema: created on first use, so it needs no migration
            con.execute(DDL)
            current = data_version(con)
            for cache_key, kind, version, value in entries:
                # the data may have moved on between the read and this write: store only if still current
                if version != current:
                    continue
                text = value if isinstance(value, str) else json.dumps(value, allow_nan=False, separators=(",", ":"))
                con.execute(f"DELETE FROM {TABLE} WHERE kind = ? AND data_version <> ?", [kind, version])
                con.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?)",
                            [cache_key, kind, version, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), text])
                con.execute(f"DELETE FROM {TABLE} WHERE kind = ? AND key NOT IN (SELECT key FROM {TABLE} "
                            f"WHERE kind = ? ORDER BY created_at DESC LIMIT {KEEP_PER_KIND})", [kind, kind])
        return True
    except (HitlgovError, duckdb.Error, OSError, ValueError, TypeError):
        return False
