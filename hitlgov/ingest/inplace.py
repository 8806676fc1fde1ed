"""In-place Parquet: serve a partitioned decision log from where it lies -- validated, not copied.

``hitlgov ingest --in-place 'logs/month=*/*.parquet' [--mapping FILE]`` registers a Parquet
dataset of decision-log rows (SCHEMA §1, canonical or mapped names) as the store's data. The
store file then holds no decision at all, only:

* ``inplace_log`` -- a view over ``read_parquet([the files], hive_partitioning)`` that types the
  canonical fields exactly as ingestion does (same label mapping, timestamp and number parsing;
  typed Parquet columns are used as they are) and carries each row's file and row number;
* ``inplace_skip`` -- the *index of exclusions*, (file, row) pairs the views leave out: invalid
  rows, conflicting and duplicate rows, and the extra rows of a case with several reviews (they
  are reviews, not new cases). It is small: it grows with the bad rows and the multi-review
  cases, not with the log;
* ``cases``, ``reviews`` and ``case_attributes`` -- views over ``inplace_log`` minus the index,
  with the columns of the tables they replace, so every metric runs on them unchanged;
* ``inplace_files`` -- the files served, with their row counts, sizes and SHA-256.

Registration runs the ingestion rules once over the whole dataset, in a few streaming scans:
the row-level checks of :func:`hitlgov.ingest.pipeline.stage` (same fields, same reasons); then
the cases that occur on more than one row (a ``GROUP BY`` on a 64-bit hash of the case key --
collisions only add candidates) go through :func:`hitlgov.ingest.pipeline.classify` itself, the
identity rules of copied ingestion (first row of a case wins; a later row that disagrees is a
conflict, one that adds nothing is a duplicate). Quarantined rows are written to the
``quarantine`` table with file, row, field, reason and raw values, as ingestion does, and the
counts obey the same identity: ``rows_read = stored + duplicates + quarantined`` (stored = the
rows the views serve as a new case or a new review).

The file list is fixed at registration: files added later are not served until a new store is
registered (a store file holds only the index, so registering again is cheap in space). Copied
and in-place data cannot be mixed in one store: identities could not be checked across the two
without copying. ``hitlgov verify`` on such a store checks the audit chain and that every file
still has the SHA-256 recorded at registration.
"""
from __future__ import annotations

import glob as globlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from hitlgov import audit, case_keys
from hitlgov.errors import IngestError
from hitlgov.ingest.casting import FieldSQL, lit, q
from hitlgov.ingest.pipeline import attribute_columns, classify, file_sha256, row_checks
from hitlgov.mapping import Mapping
from hitlgov.schema import CASE_FIELDS, REVIEW_FIELDS
from hitlgov.store import transaction

FORMAT = "parquet-in-place"


@dataclass
class InPlaceResult:
    file: str          # the pattern(s) as given
    sha256: str        # over the files' relative paths and contents
    rows_read: int
    stored: int
    duplicates: int
    quarantined: int
    seconds: float
    files: int
    run_id: int = 0
    format: str = FORMAT

    def as_json(self) -> dict:
        d = asdict(self)
        out = {k: d[k] for k in ("file", "sha256", "rows_read", "stored", "duplicates", "quarantined", "seconds")}
        return {**out, "files": self.files, "in_place": True}


def is_inplace(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store serves in-place Parquet (its ``cases`` is a view)."""
    rows = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'cases' "
                       "AND table_schema = 'main'").fetchall()
    return bool(rows) and rows[0][0] == "VIEW"


def registration(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The in-place run of this store: ``{"run_id", "pattern", "files", "rows_read", ...}``, or None."""
    if not is_inplace(con):
        return None
    row = con.execute("SELECT run_id, file, sha256, rows_read, stored, duplicates, quarantined, finished_at "
                      "FROM ingestion_runs WHERE format = ? ORDER BY run_id DESC LIMIT 1", [FORMAT]).fetchall()
    files = con.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM inplace_files").fetchall()[0]
    keys = ("run_id", "pattern", "sha256", "rows_read", "stored", "duplicates", "quarantined", "registered_at")
    if not row:
        return None
    info = dict(zip(keys, row[0]))
    info["registered_at"] = info["registered_at"].isoformat() if info["registered_at"] else None
    return {**info, "files": files[0], "bytes": files[1]}


def resolve_files(patterns: list[str | Path]) -> list[Path]:
    """The Parquet files a list of glob patterns, files and folders names, sorted, without repeats."""
    found: set[Path] = set()
    for pattern in patterns:
        text = str(pattern)
        path = Path(text)
        if path.is_dir():
            matches = [Path(p) for p in globlib.glob(str(path / "**" / "*.parquet"), recursive=True)]
        elif path.is_file():
            matches = [path]
        else:
            matches = [Path(p) for p in globlib.glob(text, recursive=True)]
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise IngestError(f"{text}: no Parquet file matches")
        found.update(m.resolve() for m in matches)
    return sorted(found)


def _partition_keys(files: list[Path]) -> set[str]:
    return {part.split("=", 1)[0] for f in files for part in f.parent.parts if "=" in part}


def dataset_sha256(files: list[Path], sizes: dict[Path, int] | None = None) -> tuple[str, dict[Path, str]]:
    """SHA-256 over ``relative path NUL sha256`` lines (relative to the files' common folder)."""
    root = Path(os.path.commonpath([str(f.parent) for f in files]))
    per_file = {f: file_sha256(f) for f in files}
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + per_file[f].encode() + b"\n")
    return h.hexdigest(), per_file


def register(con: duckdb.DuckDBPyConnection, patterns: list[str | Path] | str, *, mapping: Mapping | None = None,
             progress=None) -> InPlaceResult:
    """Register the Parquet files matching ``patterns`` as the store's data (one transaction)."""
    patterns = [patterns] if isinstance(patterns, (str, Path)) else list(patterns)
    where = " ".join(str(p) for p in patterns)
    mapping = mapping or Mapping()
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    _check_store(con)
    files = resolve_files(patterns)
    listing = "[" + ", ".join(lit(str(f)) for f in files) + "]"
    source = f"read_parquet({listing}, hive_partitioning = true, union_by_name = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{where}: cannot read the files as Parquet: {str(exc).splitlines()[0]}") from None
    types = {name: typ for name, typ, *_ in described}
    typed = FieldSQL(types, mapping)
    # month=... folders are not attributes
    attrs = attribute_columns(list(types), mapping, typed.source_of, where=where, several_files=True,
                              exclude=frozenset(_partition_keys(files)))
    step("hashing")
    digest, per_file = dataset_sha256(files)

    cols = typed.columns()
    select = ",\n  ".join(f"{expr} AS {name}" for name, expr in cols.items())
    attr_select = "".join(f",\n  NULLIF(trim(CAST({q(c)} AS VARCHAR)), '') AS _a{i}" for i, c in enumerate(attrs))
    raw_select = "".join(f",\n  {expr} AS _raw_{name}" for name, expr in typed.raw().items())
    base = f"SELECT filename AS _file, file_index AS _fidx, file_row_number AS _frow,\n  {select}{attr_select}"

    try:
        with transaction(con):
            step("reading")
            run_id = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM ingestion_runs").fetchall()[0][0]
            con.execute("CREATE TABLE inplace_files (file_no INTEGER, path VARCHAR, rows BIGINT, bytes BIGINT, "
                        "sha256 VARCHAR, row_offset BIGINT)")
            counts = con.execute(
                f"SELECT filename, count(*) FROM read_parquet({listing}) GROUP BY filename").fetchall()
            per_count = {str(Path(f)): n for f, n in counts}
            offset = 0
            rows = []
            for i, f in enumerate(files):
                n = per_count.get(str(f), 0)
                rows.append((i, str(f), n, f.stat().st_size, per_file[f], offset))
                offset += n
            con.executemany("INSERT INTO inplace_files VALUES (?, ?, ?, ?, ?, ?)", rows)
            rows_read = offset
            if rows_read == 0:
                raise IngestError(f"{where}: no data rows")

            # 1. the row-level checks: one scan; only the failing rows are kept
            step("validating")
            checks = row_checks(mapping)
            field_case = "CASE " + " ".join(f"WHEN {c} THEN {f}" for c, f, _ in checks) + " END"
            reason_case = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, _, r in checks) + " END"
            con.execute(f"CREATE OR REPLACE TEMP VIEW hitlgov_ip_typed AS {base}{raw_select}\nFROM {source}")
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE hitlgov_ip_bad AS
                SELECT _file, _frow, _field, _reason FROM (
                  SELECT _file, _frow, {field_case} AS _field, {reason_case} AS _reason FROM hitlgov_ip_typed)
                WHERE _reason IS NOT NULL""")

            # 2. cases on more than one valid row: candidates by a 64-bit hash of the key (one scan)
            step("classifying")
            con.execute(
                """CREATE OR REPLACE TEMP TABLE hitlgov_ip_multi AS
                SELECT hash(t.system, t.case_id) AS h, count(*) AS n FROM hitlgov_ip_typed t
                ANTI JOIN hitlgov_ip_bad b ON b._file = t._file AND b._frow = t._frow
                GROUP BY 1 HAVING count(*) > 1""")
            systems = [s for (s,) in con.execute(
                """SELECT DISTINCT t.system FROM hitlgov_ip_typed t
                ANTI JOIN hitlgov_ip_bad b ON b._file = t._file AND b._frow = t._frow ORDER BY 1""").fetchall()]
            # 3. their rows through ingestion's own identity rules (pipeline.classify), with a global
            #    row number (files in path order) standing for the file row number
            review_cols = ", ".join(f"t.{c}" for c in REVIEW_FIELDS if c != "review_seconds")
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE hitlgov_stg AS
                SELECT f.row_offset + t._frow + 1 AS _row, t._file, t._frow, t.system, t.case_id, t.reviewer_id,
                       {', '.join(f't.{c}' for c in CASE_FIELDS)}, {review_cols},
                       coalesce(t.review_seconds_given, epoch(t.review_completed_at) - epoch(t.review_started_at))
                         AS review_seconds
                       {''.join(f', t._a{i}' for i in range(len(attrs)))},
                       NULL::VARCHAR AS _field, NULL::VARCHAR AS _reason
                FROM hitlgov_ip_typed t
                JOIN inplace_files f ON f.path = t._file
                SEMI JOIN hitlgov_ip_multi m ON m.h = hash(t.system, t.case_id)
                ANTI JOIN hitlgov_ip_bad b ON b._file = t._file AND b._frow = t._frow""")
            classify(con, attrs)  # cases/reviews/case_attributes are still the (empty) tables here

            # 4. the index of exclusions: invalid rows; conflicts and duplicates; extra rows of a case
            step("storing")
            con.execute("CREATE TABLE inplace_skip (file VARCHAR, row BIGINT, skip_case BOOLEAN, skip_review BOOLEAN)")
            con.execute("INSERT INTO inplace_skip SELECT _file, _frow, true, true FROM hitlgov_ip_bad")
            con.execute(
                """INSERT INTO inplace_skip
                SELECT _file, _frow, skip_case, skip_review FROM (
                  SELECT _file, _frow, NOT coalesce(_status <> 'quarantined' AND _row = _case_first_row, false) AS skip_case,
                         reviewer_id IS NOT NULL AND _status <> 'stored' AS skip_review
                  FROM hitlgov_cls)
                WHERE skip_case OR skip_review""")

            # 5. quarantine rows as ingestion writes them: file, row, field, reason, raw values
            _quarantine(con, run_id, source, list(types))

            bad = con.execute("SELECT count(*) FROM hitlgov_ip_bad").fetchall()[0][0]
            dup, conflicts = con.execute(
                "SELECT count(*) FILTER (WHERE _status = 'duplicate'), count(*) FILTER (WHERE _status = 'quarantined') "
                "FROM hitlgov_cls").fetchall()[0]
            quarantined = bad + conflicts
            stored = rows_read - quarantined - dup

            # 6. the canonical relations become views over the files minus the index
            _create_views(con, base, source, attrs, run_id)
            for system in systems:
                con.execute("INSERT INTO systems (system, positive_label, label_order, favourable_label) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                            [system, mapping.positive_label, mapping.label_order, mapping.favourable_label])
                for role, names in (("sensitive", mapping.sensitive), ("feature", mapping.features)):
                    for name in names:
                        con.execute("INSERT INTO attribute_roles VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                                    [system, name, role])
            seconds = round(time.perf_counter() - started, 3)
            result = InPlaceResult(where, digest, rows_read, stored, dup, quarantined, seconds, len(files), run_id)
            options = {"format": FORMAT, "in_place": True, "files": len(files), "mapping": asdict(mapping)}
            con.execute(
                "INSERT INTO ingestion_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "now()::TIMESTAMP - to_microseconds(?::BIGINT), now()::TIMESTAMP)",
                [run_id, where, digest, FORMAT, json.dumps(options), rows_read, stored, dup, quarantined,
                 int(seconds * 1e6)])
            audit.append_event(con, kind="ingestion", subject=where,
                               detail={"run_id": run_id, **result.as_json(), "systems": systems,
                                       **audit.commit_run(con, run_id, tables=("quarantine",))})
    finally:
        for t in ("hitlgov_ip_bad", "hitlgov_ip_multi", "hitlgov_stg", "hitlgov_cls", "hitlgov_attrs"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute("DROP VIEW IF EXISTS hitlgov_ip_typed")
    assert result.stored + result.duplicates + result.quarantined == result.rows_read, result
    return result


def _check_store(con: duckdb.DuckDBPyConnection) -> None:
    if is_inplace(con):
        reg = registration(con) or {}
        raise IngestError(
            f"this store already serves in-place Parquet ({reg.get('pattern')}, run {reg.get('run_id')}); "
            "a store serves one in-place dataset, registered once: register into a new store (--db NEW.duckdb)")
    cases, runs = con.execute("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM ingestion_runs)").fetchall()[0]
    if cases or runs:
        raise IngestError(
            f"this store holds copied data ({cases:,} cases from {runs:,} ingestion runs); in-place Parquet cannot be "
            "mixed with copied data in one store (identities could not be checked across the two without copying): "
            "register into a new store (--db NEW.duckdb)")


def _quarantine(con: duckdb.DuckDBPyConnection, run_id: int, source: str, columns: list[str]) -> None:
    """Invalid rows and identity conflicts, with the raw values of the source row (as text)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hitlgov_ip_q AS
        SELECT _file, _frow, _field, _reason FROM hitlgov_ip_bad
        UNION ALL
        SELECT k._file, k._frow, k._field,
               -- 'conflicts with row N of this file' names the global row: name the file and its row
               CASE WHEN ref._file IS NULL THEN k._reason
                    ELSE regexp_replace(k._reason, '^conflicts with row \\d+ of this file',
                                        'conflicts with row ' || (ref._frow + 1) || ' of ' || ref._file) END
        FROM hitlgov_cls k
        LEFT JOIN hitlgov_stg ref
          ON ref._row = TRY_CAST(regexp_extract(k._reason, '^conflicts with row (\\d+) of this file', 1) AS BIGINT)
        WHERE k._status = 'quarantined'""")
    n = con.execute("SELECT count(*) FROM hitlgov_ip_q").fetchall()[0][0]
    if n:
        raw = ", ".join(["_row := file_row_number + 1"] + [f"{q(c)} := CAST({q(c)} AS VARCHAR)" for c in columns])
        con.execute(
            f"""INSERT INTO quarantine
            SELECT ?, q._file, q._frow + 1, q._field, q._reason, to_json(src._raw)::VARCHAR
            FROM hitlgov_ip_q q
            JOIN (SELECT filename AS _f, file_row_number AS _r, struct_pack({raw}) AS _raw
                  FROM {source}) src ON src._f = q._file AND src._r = q._frow
            ORDER BY q._file, q._frow""", [run_id])
    con.execute("DROP TABLE hitlgov_ip_q")


def _create_views(con: duckdb.DuckDBPyConnection, base: str, source: str, attrs: list[str], run_id: int) -> None:
    """The canonical relations as views over the files minus the index, with the integer case key
    (the case's first row's position) and the attributes wide from the same row
    (:func:`hitlgov.case_keys.inplace_views`)."""
    con.execute(f"CREATE VIEW inplace_log AS {base}\nFROM {source}")
    for table in ("case_attributes", "reviews", "cases"):
        con.execute(f"DROP TABLE {table}")
    case_keys.build_inplace_keys(con)
    case_keys.inplace_views(con, attrs, run_id)


def verify(con: duckdb.DuckDBPyConnection, *, since: list | None = None) -> dict:
    """The audit chain and checkpoints, then every served file against the size and SHA-256
    recorded at registration (:func:`hitlgov.audit.verify`)."""
    result = audit.verify(con, since=since)
    return {**result, "in_place": registration(con) or {}}
