"""Which engine the metrics run on: the embedded DuckDB store by default, or an Ibis URL.

Every caller that needs a :class:`~hitlgov.metrics.source.Source` (the CLI's ``metrics`` and
``report``, the dashboard, the report generator) opens it through :func:`open_source`, so
``--engine`` is honoured in one place. The metric code never knows which engine it runs on:
the same Ibis expressions are compiled to the engine's SQL and only their (small) results
come back.

Engine URLs (``--engine URL``)::

    pyspark://local[2]?parquet=DIR                a local Spark session (2 cores) over the canonical
                                                  tables exported as Parquet (``hitlgov export-parquet``)
    pyspark://yarn?views=lake.yaml                a Spark session on YARN; views over lake tables
    spark://HOST:7077?parquet=s3a://bucket/hitl   a Spark standalone cluster (the URL is the master)
    pyspark://local[*]?database=hitl              tables in a catalog database (Hive metastore, ...)
    duckdb://?parquet=DIR                         in-memory DuckDB over the same Parquet folders
    duckdb:///path/to/lake.duckdb?read_only=true  another DuckDB file holding the canonical tables
    trino://USER@HOST:8080/CATALOG/SCHEMA         any backend ``ibis.connect`` knows: Trino,
    bigquery://PROJECT/DATASET                    BigQuery, Snowflake, Postgres, ClickHouse, ...
    snowflake://USER:PASS@ACCOUNT/DB/SCHEMA?warehouse=WH

Query parameters this module reads (and removes before the URL reaches ``ibis.connect``):

* ``parquet=DIR`` -- register ``DIR/<table>/`` (Hive-partitioned Parquet folders, as written by
  ``hitlgov export-parquet``) as the canonical tables, in the engine's session only;
* ``views=FILE`` -- a YAML file mapping each canonical table to a table name or a ``SELECT``
  over the lake's own tables (see :func:`load_views`); nothing is created on the engine: each
  mapped table is an Ibis expression compiled into the metric queries;
* ``database=NAME`` -- look the canonical tables up in this database / schema;
* for Spark: ``spark.*=VALUE`` -- session configuration (e.g. ``spark.sql.shuffle.partitions=8``).

Connections (and Spark sessions) are kept for the life of the process, keyed by URL, so the
dashboard does not start a Spark session per chart.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, quote, urlencode

import ibis
import ibis.expr.types as ir
from hitlgov.metrics.source import Source

from hitlgov.errors import HitlgovError
from hitlgov.schema import ADDED_OPTIONAL, CASE_KEY, OPTIONAL_TABLES, TABLES
from hitlgov.yamlfile import read_yaml_mapping

# The canonical relations and the Ibis types the metric code relies on (source.py docstring).
CANONICAL_SCHEMA: dict[str, dict[str, str]] = TABLES
STORE_ONLY = ("ingestion_runs", "quarantine", "audit_events", "schema_version")
# Store-only relations an engine source answers with no rows (it was not ingested, it has no audit
# chain); the quarantine is refused instead, since "0 quarantined rows" would be a claim.
AUDIT_EVENTS_SCHEMA = {"seq": "int64", "event_at": "timestamp", "kind": "string", "actor": "string",
                       "subject": "string", "detail": "string", "prev_hash": "string", "hash": "string"}
INGESTION_RUNS_SCHEMA = {"run_id": "int64", "file": "string", "sha256": "string", "format": "string",
                         "options": "string", "rows_read": "int64", "stored": "int64", "duplicates": "int64",
                         "quarantined": "int64", "started_at": "timestamp", "finished_at": "timestamp"}
SPARK_SCHEMES = ("pyspark", "spark")
_OUR_PARAMS = ("parquet", "views", "database")


@contextmanager
def open_source(db: str | Path | None = None, engine: str | None = None) -> Iterator[Source]:
    """Open the store ``db`` read-only, or the canonical tables on ``engine`` (an Ibis URL)."""
    if engine is None or not str(engine).strip():
        with Source.open(db) as source:
            yield source
        return
    # A fresh Source per open (its materialised relations are released on close) over the
    # process-wide connection and canonical tables of this URL. A DuckDB connection must not run
    # two queries at once (the dashboard serves sessions from several threads): one user at a time.
    url = str(engine).strip()
    with engine_source(url) as source:
        if source.backend.name == "duckdb":
            with _lock_for(url):
                yield source
        else:
            yield source


# -- Ibis gaps ---------------------------------------------------------------------------------

def _complete_ibis() -> None:
    """Compile rules Ibis 12 lacks for functions these engines have.

    The bounded samples (drift windows, agreement cases) are drawn in the engine in the order of
    ``MD5(system|case_id|seed)`` -- the same function, hence the same sample, on every engine.
    Ibis compiles ``hexdigest("md5")`` for DuckDB and Spark only; Trino, BigQuery, Snowflake and
    Postgres all have MD5 and get a rule here (lower-case hex of the UTF-8 bytes, as DuckDB's).
    """
    def rule(render):
        def visit_HexDigest(self, op, *, arg, how):
            if how != "md5":
                raise NotImplementedError(f"hexdigest {how!r} is not available on this engine")
            return render(self, arg)
        return visit_HexDigest

    rules = {
        "trino": ("TrinoCompiler", lambda self, arg: self.f.lower(self.f.to_hex(self.f.md5(self.f.to_utf8(arg))))),
        "bigquery": ("BigQueryCompiler", lambda self, arg: self.f.to_hex(self.f.md5(arg))),
        "snowflake": ("SnowflakeCompiler", lambda self, arg: self.f.md5(arg)),
        "postgres": ("PostgresCompiler", lambda self, arg: self.f.md5(arg)),
    }
    import importlib

    for module, (name, render) in rules.items():
        try:
            compiler = getattr(importlib.import_module(f"ibis.backends.sql.compilers.{module}"), name)
        except (ImportError, AttributeError):  # pragma: no cover - another Ibis layout
            continue
        if compiler.visit_HexDigest is compiler.visit_Undefined:
            compiler.visit_HexDigest = rule(render)


_complete_ibis()


# -- parsing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EngineSpec:
    """An ``--engine`` URL taken apart."""

    url: str                     # as given (the cache key)
    scheme: str
    target: str                  # what follows ``scheme://`` up to ``?`` (Spark: the master)
    connect_url: str             # the URL for ibis.connect, without our parameters
    parquet: str | None = None
    views: str | None = None
    database: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # remaining query parameters

    @property
    def is_spark(self) -> bool:
        return self.scheme in SPARK_SCHEMES

    @property
    def spark_master(self) -> str:
        if self.scheme == "spark":
            return f"spark://{self.target}"
        return self.target or "local[*]"


def parse_engine(url: str) -> EngineSpec:
    """Split an engine URL into scheme, target, our parameters and the backend's parameters.

    Parsed by hand rather than with ``urllib``: Spark masters such as ``local[2]`` are not valid
    URL hosts (brackets mean IPv6 there).
    """
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^?]*)(?:\?(.*))?", url.strip())
    if not m:
        raise HitlgovError(f"--engine {url!r}: expected a URL such as 'pyspark://local[2]?parquet=DIR', "
                           "'duckdb://?parquet=DIR' or 'trino://user@host:8080/catalog/schema'")
    scheme, target, query = m.group(1).lower(), m.group(2), m.group(3) or ""
    params = dict(parse_qsl(query, keep_blank_values=True))
    ours = {k: params.pop(k) for k in _OUR_PARAMS if k in params}
    rest = urlencode(params, quote_via=quote, safe="/:@")
    connect_url = f"{scheme}://{target}" + (f"?{rest}" if rest else "")
    return EngineSpec(url=url, scheme=scheme, target=target, connect_url=connect_url,
                      parquet=ours.get("parquet") or None, views=ours.get("views") or None,
                      database=ours.get("database") or None, options=params)


# -- the views file ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Views:
    """Canonical table -> a table name or a SELECT on the engine; config rows given inline."""

    tables: dict[str, str]
    dialect: str | None = None
    rows: dict[str, list[dict]] = field(default_factory=dict)  # systems / attribute_roles given inline


def load_views(path: str | Path) -> Views:
    """Read a views file::

        dialect: trino            # optional: the SQL below is in this dialect (SQLGlot transpiles it)
        tables:                   # canonical table: an engine table name, or a SELECT producing it
          cases: |
            SELECT tenant AS system, decision_id AS case_id, decided_at AS ts, model AS model_version,
                   label AS model_decision, score AS model_score, final AS final_decision,
                   truth AS outcome
            FROM lake.moderation.decisions
          reviews: lake.moderation.hitl_reviews_canonical
          case_attributes: SELECT tenant AS system, decision_id AS case_id, k AS name, v AS value
                           FROM lake.moderation.decision_tags
        systems:                  # configuration the lake does not hold (or: a `tables` entry)
          - {system: moderation, positive_label: allow, label_order: null}
        attribute_roles:
          - {system: moderation, name: region, role: sensitive}
          - {system: moderation, name: language, role: feature}
    """
    where = str(path)
    doc = read_yaml_mapping(path, kind="views")
    unknown = sorted(set(doc) - {"dialect", "tables", "systems", "attribute_roles"})
    if unknown:
        raise HitlgovError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                           "expected dialect, tables, systems, attribute_roles")
    tables = doc.get("tables") or {}
    if not isinstance(tables, dict) or not all(isinstance(v, str) for v in tables.values()):
        raise HitlgovError(f"{where}: 'tables' must map a canonical table to a table name or a SELECT")
    bad = sorted(set(tables) - set(CANONICAL_SCHEMA))
    if bad:
        raise HitlgovError(f"{where}: 'tables' names unknown table(s) {', '.join(bad)}; "
                           f"canonical tables are {', '.join(CANONICAL_SCHEMA)}")
    rows: dict[str, list[dict]] = {}
    for name in ("systems", "attribute_roles"):
        value = doc.get(name)
        if value is None:
            continue
        if name in tables:
            raise HitlgovError(f"{where}: '{name}' is given both under 'tables' and as rows")
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise HitlgovError(f"{where}: '{name}' must be a list of rows, e.g. "
                               + ("{system: x, positive_label: yes, label_order: null}" if name == "systems"
                                  else "{system: x, name: region, role: sensitive}"))
        cols = CANONICAL_SCHEMA[name]
        for r in value:
            extra = sorted(set(r) - set(cols))
            if extra or "system" not in r:
                raise HitlgovError(f"{where}: each '{name}' row needs 'system' and only {', '.join(cols)} "
                                   f"(got {', '.join(map(str, r))})")
        rows[name] = [{c: r.get(c) for c in cols} for r in value]
    return Views(tables={k: v.strip() for k, v in tables.items()}, dialect=doc.get("dialect"), rows=rows)


_TABLE_NAME = re.compile(r"[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){0,2}|`[^`]+`")


# -- connecting -------------------------------------------------------------------------------

class EngineSource(Source):
    """A :class:`Source` whose canonical tables live on another engine."""

    read_window = False

    def __init__(self, backend, *, tables: dict[str, ir.Table], spec: EngineSpec):
        super().__init__(backend, raw=None)
        self.tables = tables
        self.spec = spec

    def table(self, name: str) -> ir.Table:
        if name in self.tables:
            return self.tables[name]
        if name == "ingestion_runs":  # an engine source was not ingested: no runs to list
            return ibis.memtable([], schema=INGESTION_RUNS_SCHEMA)
        if name == "audit_events":  # the hash chain lives in the store only
            return ibis.memtable([], schema=AUDIT_EVENTS_SCHEMA)
        if name in STORE_ONLY:
            raise HitlgovError(f"'{name}' is kept only in the DuckDB store (ingestion runs, quarantine, audit "
                               f"trail); it is not available on --engine {self.spec.url}")
        return self.backend.table(name)

    def describe(self) -> str:
        return self.spec.url


_CACHE: dict[str, EngineSource] = {}
_LOCK = threading.Lock()
_URL_LOCKS: dict[str, threading.RLock] = {}


def _lock_for(url: str) -> threading.RLock:
    with _LOCK:
        return _URL_LOCKS.setdefault(url, threading.RLock())


def engine_source(url: str) -> EngineSource:
    """A new source on the (process-wide, cached) connection and tables of an engine URL."""
    with _LOCK:
        known = _CACHE.get(url)
        if known is None:
            known = _CACHE[url] = _build(parse_engine(url))
    return EngineSource(known.backend, tables=known.tables, spec=known.spec)


def forget(url: str | None = None) -> None:
    """Drop cached engine connections (all, or one URL); Spark sessions are left running."""
    with _LOCK:
        for key in list(_CACHE) if url is None else [url]:
            src = _CACHE.pop(key, None)
            if src is not None and not src.spec.is_spark:
                try:
                    src.backend.disconnect()
                except Exception:  # pragma: no cover - best effort
                    pass


def _build(spec: EngineSpec) -> EngineSource:
    views = load_views(spec.views) if spec.views else Views(tables={})
    if spec.parquet and "://" not in spec.parquet:  # fail before starting an engine
        for name in CANONICAL_SCHEMA:
            folder = Path(spec.parquet) / name
            if name not in views.tables and name not in views.rows and not folder.exists() \
                    and name not in OPTIONAL_TABLES:
                raise HitlgovError(f"--engine {spec.url}: {folder}/ not found (write it with `hitlgov "
                                   f"export-parquet --out {spec.parquet}`, or name the lake tables in a views file)")
    backend = _connect_spark(spec) if spec.is_spark else _connect_ibis(spec)
    tables = _canonical_tables(backend, spec, views)
    return EngineSource(backend, tables=tables, spec=spec)


def _connect_ibis(spec: EngineSpec):
    try:
        return ibis.connect(spec.connect_url)
    except HitlgovError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HitlgovError(f"--engine {spec.url}: cannot connect: {first}") from exc


def _connect_spark(spec: EngineSpec):
    """A SparkSession for the master in the URL (or the one already running in this process)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise HitlgovError("--engine pyspark://...: PySpark is not installed (pip install 'hitlgov[spark]')") from None
    conf = {k: v for k, v in spec.options.items() if k.startswith("spark.")}
    unknown = sorted(k for k in spec.options if not k.startswith("spark."))
    if unknown:
        raise HitlgovError(f"--engine {spec.url}: unknown parameter(s) {', '.join(unknown)}; "
                           f"expected {', '.join(_OUR_PARAMS)} or spark.* settings")
    try:
        builder = SparkSession.builder.master(spec.spark_master).appName("hitlgov")
        builder = builder.config("spark.sql.session.timeZone", "UTC")
        builder = builder.config("spark.ui.enabled", conf.pop("spark.ui.enabled", "false"))
        builder = builder.config("spark.ui.showConsoleProgress", conf.pop("spark.ui.showConsoleProgress", "false"))
        for k, v in conf.items():
            builder = builder.config(k, v)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = " (is Java installed? PySpark needs a JRE, e.g. Debian default-jre-headless)" \
            if "java" in str(exc).lower() or "JAVA_HOME" in str(exc) else ""
        raise HitlgovError(f"--engine {spec.url}: cannot start Spark: {first}{hint}") from exc
    for k, v in conf.items():  # getOrCreate() returned an existing session: apply runtime settings
        try:
            session.conf.set(k, v)
        except Exception:  # static settings of a running session cannot change
            pass
    return ibis.pyspark.connect(session)  # also sets the session time zone to UTC


def _canonical_tables(backend, spec: EngineSpec, views: Views) -> dict[str, ir.Table]:
    """Resolve each canonical table (Parquet folder, views file, or a table on the engine),
    check its columns and cast them to the canonical types."""
    out: dict[str, ir.Table] = {}
    for name, schema in CANONICAL_SCHEMA.items():
        if name in views.rows:
            t = ibis.memtable(views.rows[name], schema=schema)
            where = f"rows in {spec.views}"
        elif name in views.tables:
            t = _from_views(backend, views, name, spec)
            where = f"{spec.views}: tables.{name}"
        elif name in OPTIONAL_TABLES and not _optional_present(backend, spec, views, name):
            t = ibis.memtable([], schema=schema)  # a lake from before the relation existed: no rows
            where = f"{name} (not in this lake: empty)"
        elif spec.parquet:
            t = _read_parquet(backend, spec, name)
            where = f"{spec.parquet.rstrip('/')}/{name}/"
        else:
            t = _engine_table(backend, spec, name)
            where = f"table {name}" + (f" in database {spec.database}" if spec.database else "")
        out[name] = _conform(t, name, where, spec)
    return out


def _optional_present(backend, spec: EngineSpec, views: Views, name: str) -> bool:
    """Whether the lake holds an optional relation (``review_events``): a views entry, a Parquet
    folder, or a table on the engine. A local Parquet export without its folder, or an engine
    without the table, means the relation has no rows; a remote Parquet root is read."""
    if name in views.tables or name in views.rows:
        return True
    if spec.parquet:
        return "://" in spec.parquet or (Path(spec.parquet) / name).exists()
    try:
        _engine_table(backend, spec, name)
    except HitlgovError:
        return False
    return True


def _engine_table(backend, spec: EngineSpec, name: str) -> ir.Table:
    try:
        return backend.table(name, database=spec.database) if spec.database else backend.table(name)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HitlgovError(
            f"--engine {spec.url}: no canonical table '{name}' on the engine ({first}); "
            "give ?parquet=DIR, ?views=FILE (a mapping of canonical tables to lake tables) or ?database=NAME"
        ) from exc


def _from_views(backend, views: Views, name: str, spec: EngineSpec) -> ir.Table:
    text = views.tables[name]
    try:
        if _TABLE_NAME.fullmatch(text):
            parts = text.strip("`").split(".") if not text.startswith("`") else [text.strip("`")]
            table, database = parts[-1], tuple(parts[:-1])
            if not database:
                return backend.table(table, database=spec.database) if spec.database else backend.table(table)
            return backend.table(table, database=database[0] if len(database) == 1 else database)
        if views.dialect:
            import sqlglot

            text = sqlglot.transpile(text, read=views.dialect, write=backend.dialect)[0]
        if backend.name == "duckdb":
            # Ibis 12's DuckDB .sql() calls a method DuckDB 2 removed; a session view serves the same.
            backend.raw_sql(f'CREATE OR REPLACE TEMP VIEW "hitlgov_view_{name}" AS {text}')
            return backend.table(f"hitlgov_view_{name}")
        return backend.sql(text)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HitlgovError(f"{spec.views}: tables.{name}: the engine rejects it: {first}") from exc


def _read_parquet(backend, spec: EngineSpec, name: str) -> ir.Table:
    root = spec.parquet.rstrip("/")
    folder = f"{root}/{name}"
    local = "://" not in root
    table_name = f"hitlgov_{name}"
    try:
        if backend.name == "duckdb":
            path = f"{folder}/**/*.parquet" if not local or Path(folder).is_dir() else folder
            return backend.read_parquet(path, table_name=table_name, hive_partitioning=True,
                                        union_by_name=True)
        return backend.read_parquet(folder, table_name=table_name)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HitlgovError(f"--engine {spec.url}: cannot read {folder}/ as Parquet: {first}") from exc


def _conform(t: ir.Table, name: str, where: str, spec: EngineSpec) -> ir.Table:
    """Exactly the canonical columns, in the canonical types (extra columns such as a partition
    key are dropped; a missing one is an error naming the table and the column)."""
    schema = CANONICAL_SCHEMA[name]
    have = t.schema()
    missing = [c for c in schema if c not in have and c not in ADDED_OPTIONAL and c != CASE_KEY]
    if missing:
        raise HitlgovError(f"--engine {spec.url}: {where} lacks column(s) {', '.join(missing)} "
                           f"(has {', '.join(have.names)})")
    cols = {}
    for c, typ in schema.items():
        want = ibis.dtype(typ)
        if c == CASE_KEY and c not in have:  # a lake without the integer key joins on (system, case_id)
            continue
        if c not in have:  # an optional field the lake table predates
            cols[c] = ibis.null(want)
            continue
        col = t[c]
        cols[c] = col if _same_type(have[c], want) else col.cast(want)
    # the store's bookkeeping columns, empty: code that shows them (case history) still runs
    for c in BOOKKEEPING.get(name, ()):
        cols[c] = ibis.null("int64")
    return t.select(**cols)


# the store's own columns that an engine table has no use for (filled with NULL by _conform)
BOOKKEEPING = {"cases": ("run_id", "source_row"), "reviews": ("run_id", "source_row"), "case_attributes": ("run_id",)}


def _same_type(have, want) -> bool:
    if want.is_timestamp():
        return have.is_timestamp()  # naive or UTC-zoned both serve (sessions run in UTC)
    return have.copy(nullable=True) == want.copy(nullable=True)
