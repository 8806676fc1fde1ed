"""Lossless ingestion: every row read is stored, skipped as an identical duplicate, or quarantined.

The work is SQL inside DuckDB (no Python loop over rows), one transaction per file:

1. a reader (plugin hook) loads the file into a relation of text columns plus ``_row``;
2. ``stage``: the mapping renames columns and maps labels; values are parsed into typed
   canonical columns and each row gets the *first* problem found (field + reason), if any;
3. ``classify``: valid rows are compared with earlier rows of the same case / review in the
   file and with the store. A row that disagrees with what is already known is quarantined
   (the stored row is never touched); a row that adds nothing new is a duplicate;
4. new cases, reviews and attributes are inserted; quarantined rows keep their raw source
   values, row number, field and reason; the run and an audit event are recorded.

Identity (SCHEMA §1): a case is (system, case_id); a review is (system, case_id, reviewer_id).
A row "stores" when it adds a new case or a new review; an unreviewed row for a case that is
already known (stored earlier, or created by an earlier row of the same file) is a duplicate.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import stat
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import duckdb

from hitlgov import audit, case_keys
from hitlgov import store as store_module
from hitlgov.errors import HitlgovError, IngestError
from hitlgov.ingest.casting import FieldSQL, q
from hitlgov.ingest.hooks import Reader, all_readers
from hitlgov.ingest.readers import GZIP_MAGIC, RESERVED_COLUMNS, csv_rejects, looks_binary, read_head
from hitlgov.limits import limit, EARLIEST_TS, LATEST_TS_SQL, MAX_REVIEW_SECONDS
from hitlgov.mapping import Mapping, check_one_column_per_field
from hitlgov.schema import CASE_FIELDS, DEFAULT_SYSTEM, REQUIRED, REVIEW_FIELDS, required_fields  # noqa: F401
from hitlgov.store import transaction


@dataclass
class IngestResult:
    file: str
    sha256: str
    rows_read: int
    stored: int
    duplicates: int
    quarantined: int
    seconds: float
    format: str = ""
    run_id: int = 0
    notices: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """The stable ``ingest --json`` object."""
        d = asdict(self)
        return {k: d[k] for k in ("file", "sha256", "rows_read", "stored", "duplicates", "quarantined", "seconds")}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of the sorted (name, sha256) list of a folder's files."""
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + file_sha256(f).encode() + b"\n")
        return h.hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def choose_reader(path: Path, fmt: str = "auto") -> Reader:
    """Pick the reader named by ``--format``, or the first whose ``detect`` recognises the file."""
    readers = all_readers()
    if fmt != "auto":
        for reader in readers:
            if reader.name == fmt:
                return reader
        names = ", ".join(sorted(r.name for r in readers))
        raise IngestError(f"{path}: unknown format '{fmt}' (known: auto, {names})")
    head = read_head(path)
    if path.is_file() and not head.strip():
        raise IngestError(f"{path}: file is empty")
    for reader in readers:
        try:
            if reader.detect(path, head):
                return reader
        except Exception:  # a plugin's detect must not break auto-detection
            continue
    if path.is_file() and not looks_binary(head):
        _refuse_invalid_json(path, head)
    what = "binary content" if looks_binary(head) else "unrecognised content"
    raise IngestError(f"{path}: not a CSV, JSON Lines, Parquet or known HITL tool export ({what})")


def _refuse_invalid_json(path: Path, head: bytes) -> None:
    """A file that starts like JSON but that no reader recognised: when it does not parse, say
    where (a truncated export is the usual cause), instead of "unrecognised content". JSON Lines
    (several values, "Extra data") is left to the generic message."""
    from hitlgov.adapters import head_text, json_error, read_text

    if not head_text(head).startswith(("[", "{")):
        return
    try:
        content = read_text(path, "JSON")
        json.loads(content)
    except IngestError:
        return
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return
        raise IngestError(f"{path}: {json_error(exc, content)}") from None


def _check_path(path: Path) -> None:
    """Refuse what cannot be read safely, before opening it: a FIFO (or device, socket) would
    block forever or never end, so only regular files and adapter folders are taken."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise IngestError(f"{path}: file not found") from None
    except OSError as exc:
        raise IngestError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        return
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{path}: not a regular file (FIFOs, devices and sockets are refused)")
    if st.st_size == 0:
        raise IngestError(f"{path}: file is empty")


def snapshot(path: Path, folder: Path) -> tuple[Path, str]:
    """Copy ``path`` into ``folder`` (same name) while hashing it; return the copy and its SHA-256.

    The copy is what gets read, so the recorded hash describes exactly the bytes ingested even if
    the file is replaced meanwhile. A gzip file is decompressed on the way (into nothing) to
    enforce ``HITLGOV_MAX_INPUT_BYTES`` before DuckDB expands it: 5 MB of gzip can hold 70M rows.
    """
    cap = limit("HITLGOV_MAX_INPUT_BYTES")
    copy = folder / path.name
    h = hashlib.sha256()
    inflater = None
    expanded = 0
    with open(path, "rb") as src, open(copy, "wb") as dst:
        for block in iter(lambda: src.read(1 << 20), b""):
            if inflater is None:
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if block.startswith(GZIP_MAGIC) else False
            h.update(block)
            dst.write(block)
            if inflater:
                try:
                    data = block
                    while data:
                        # bounded output per call: the expansion is counted, never held
                        expanded += len(inflater.decompress(data, 1 << 20))
                        data = inflater.unconsumed_tail
                        if inflater.eof and inflater.unused_data:  # multi-member gzip
                            data, inflater = inflater.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
                        if expanded > cap:
                            break
                except zlib.error as exc:
                    raise IngestError(f"{path}: gzip file cannot be decompressed ({exc})") from None
            else:
                expanded += len(block)
            if expanded > cap:
                raise IngestError(f"{path}: more than {cap:,} bytes{' once decompressed' if inflater else ''} "
                                  "(HITLGOV_MAX_INPUT_BYTES)")
    return copy, h.hexdigest()


@dataclass
class Staged:
    """A file read and validated outside the store (:func:`prepare`), waiting to be committed."""
    path: Path            # the user's file, as recorded
    database: Path        # the private DuckDB file holding its staged rows
    reader: str
    digest: str
    rejects: list
    attrs: list
    started: float
    notices: tuple = ()   # what the reader wants the user told (e.g. which question it used)


def ingest_path(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    mapping: Mapping | None = None,
    fmt: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> IngestResult:
    """Ingest one file (or one adapter folder) in one transaction; return its counts."""
    mapping = mapping or Mapping()
    with tempfile.TemporaryDirectory(prefix="hitlgov-ingest-") as folder:
        staged = prepare(path, Path(folder), mapping=mapping, fmt=fmt, progress=progress)
        return commit(con, staged, mapping=mapping, progress=progress)


def prepare(path: str | Path, folder: Path, *, mapping: Mapping, fmt: str = "auto",
            progress: Callable[[str], None] | None = None) -> Staged:
    """Hash, read and validate a file into a private DuckDB database in ``folder``, without the store.

    Everything slow happens here, so the store's write lock is taken only by :func:`commit`
    (readers -- ``status``, the dashboard -- keep working meanwhile). The file is first copied
    while hashed (:func:`snapshot`) and the copy is read: the digest is that of the bytes ingested.
    """
    path = Path(path)
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    _check_path(path)
    try:
        if path.is_dir():
            digest = file_sha256(path)
            source_path = path
        else:
            step("hashing")
            source_path, digest = snapshot(path, folder)
        database = folder / "staging.duckdb"
        scratch = store_module.open_scratch(database)
        try:
            reader = choose_reader(source_path, fmt)
            step("reading")
            source = read_source(reader, scratch, source_path, mapping)
            notices = tuple(getattr(source, "attrs", {}).get("hitlgov_notices", ()))
            _materialise_source(scratch, source, path)
            rejects = csv_rejects(scratch) if reader.name == "csv" else []
            apply_default_ts(scratch, path, mapping, adapter=reader.annotation_source)
            step("validating")
            # hitlgov_src and hitlgov_stg are tables of the private database itself (not TEMP):
            # commit reads them where they are, so no copy of the rows is made between the steps
            attrs = stage(scratch, path, mapping, annotation_only=reader.annotation_source or mapping.annotation_only)
        finally:
            scratch.close()
        if path.is_dir() and file_sha256(path) != digest:
            raise IngestError(f"{path}: changed while it was being ingested; nothing stored, run again")
    except HitlgovError as exc:
        # messages name the user's file, never the private copy
        raise type(exc)(str(exc).replace(str(folder / path.name), str(path))) from None
    return Staged(path, database, reader.name, digest, rejects, attrs, started, notices)


def commit(con: duckdb.DuckDBPyConnection, staged: Staged, *, mapping: Mapping,
           progress: Callable[[str], None] | None = None) -> IngestResult:
    """Classify the staged rows against the store and store them: one transaction, the only step
    that needs the write lock. ``seconds`` is the whole run (hashing to audit trail)."""
    step = progress or (lambda _msg: None)
    path = staged.path
    # the staged rows are read in place from the private database, attached for the commit
    con.execute("ATTACH ? AS hitlgov_staging (READ_ONLY)", [str(staged.database)])
    rejects, attrs = staged.rejects, staged.attrs
    with store_module.ingestion_memory(con):
        try:
            con.execute("CREATE OR REPLACE TEMP VIEW hitlgov_src AS FROM hitlgov_staging.main.hitlgov_src")
            con.execute("CREATE OR REPLACE TEMP VIEW hitlgov_stg AS FROM hitlgov_staging.main.hitlgov_stg")
            with transaction(con):
                step("classifying")
                classify(con, attrs)
                step("storing")
                run_id = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM ingestion_runs").fetchall()[0][0]
                counts = store(con, run_id=run_id, path=path, attrs=attrs, rejects=rejects, mapping=mapping)
                # before the run's Merkle roots are committed (audit.commit_run): the roots cover what is kept
                forget_requarantined(con, run_id=run_id, sha256=staged.digest)
                seconds = round(time.perf_counter() - staged.started, 3)
                result = IngestResult(str(path), staged.digest, counts["rows_read"], counts["stored"],
                                      counts["duplicates"], counts["quarantined"], seconds, staged.reader, run_id,
                                      staged.notices)
                options = {"format": staged.reader, "mapping": asdict(mapping)}
                con.execute(
                    "INSERT INTO ingestion_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "now()::TIMESTAMP - to_microseconds(?::BIGINT), now()::TIMESTAMP)",
                    [run_id, str(path), staged.digest, staged.reader, json.dumps(options), result.rows_read,
                     result.stored, result.duplicates, result.quarantined, int(seconds * 1e6)],
                )
                audit.append_event(con, kind="ingestion", subject=str(path),
                                   detail={"run_id": run_id, **result.as_json(), **audit.commit_run(con, run_id)})
        finally:
            for t in ("hitlgov_cls", "hitlgov_attrs", "hitlgov_new_cases", "hitlgov_keys"):
                con.execute(f"DROP TABLE IF EXISTS {t}")
            for v in ("hitlgov_src", "hitlgov_stg"):
                con.execute(f"DROP VIEW IF EXISTS {v}")
            con.execute("DETACH DATABASE IF EXISTS hitlgov_staging")
    # `seconds` is the whole run: hashing, reading, storing and the audit trail
    return replace(result, seconds=round(time.perf_counter() - staged.started, 3))


def read_source(reader: Reader, con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping):
    """Call the reader with the options the user gave (``--question``, ``--adapter-option``).

    An option the reader does not take is refused with the ones it does, so a typo never
    passes silently (``--adapter-option model_decison=...``).
    """
    options = dict(mapping.adapter_options)
    if mapping.question is not None:
        options["question"] = mapping.question
    if not options:
        return reader.read(con, path)
    params = inspect.signature(reader.read).parameters
    takes = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    for name in options:
        if name not in takes:
            flag = "--question" if name == "question" else f"--adapter-option {name}"
            known = ", ".join(takes) or "none"
            raise IngestError(f"{path}: the {reader.name} reader has no option '{name}' ({flag}); "
                              f"its options: {known}")
    return reader.read(con, path, **options)


def apply_default_ts(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, *, adapter: bool) -> None:
    """``--default-ts``: fill ``ts`` where the source has none; without it, refuse an export
    that records no timestamp at all (before anything is stored), naming the option.

    A tool export often records no decision time (Argilla records, a Label Studio task without
    ``created_at``). Quarantining every row would lose the whole export; guessing a date would
    put the cases in a period nobody chose. So the user names one.
    """
    column = mapping.columns.get("ts", "ts")
    columns = set(_source_columns(con))
    if mapping.default_ts is not None:
        given = con.execute("SELECT TRY_CAST(? AS TIMESTAMPTZ)", [mapping.default_ts]).fetchall()[0][0]
        if given is None:
            raise IngestError(f"{path}: --default-ts {mapping.default_ts!r} is not a date or timestamp "
                              "(expected ISO 8601, e.g. 2024-03-01 or 2024-03-01T12:00:00Z)")
        if column not in columns:
            con.execute(f"ALTER TABLE hitlgov_src ADD COLUMN {q(column)} VARCHAR")
        con.execute(f"UPDATE hitlgov_src SET {q(column)} = ? WHERE NULLIF(trim({q(column)}), '') IS NULL",
                    [mapping.default_ts])
        return
    if not adapter or column not in columns:
        return
    dated = con.execute(f"SELECT count(*) FILTER (WHERE NULLIF(trim({q(column)}), '') IS NOT NULL), count(*) "
                        "FROM hitlgov_src").fetchall()[0]
    if dated[1] and not dated[0]:
        raise IngestError(f"{path}: the export records no timestamp for any of its {dated[1]:,} rows; "
                          "give the decision time with --default-ts DATE (or default_ts: in the mapping file)")


def _materialise_source(con: duckdb.DuckDBPyConnection, source, path: Path) -> None:
    """Readers may return a DuckDB relation, a pandas DataFrame or an Arrow table."""
    try:
        if isinstance(source, duckdb.DuckDBPyRelation):
            source.create_view("hitlgov_input", replace=True)
        else:
            con.register("hitlgov_input", source)
        columns = [c for (c, *_rest) in con.execute("DESCRIBE hitlgov_input").fetchall()]
    except duckdb.Error as exc:  # pragma: no cover - reader bug
        raise IngestError(f"{path}: reader returned unusable data ({str(exc).splitlines()[0]})") from None
    if "_row" not in columns:
        raise IngestError(f"{path}: reader returned no _row column")
    # Every source column becomes text: validation parses it; Parquet types round-trip.
    cols = ", ".join(
        f"CAST({q(c)} AS VARCHAR) AS {q(c)}" if c != "_row" else "CAST(_row AS BIGINT) AS _row"
        for c in columns
    )
    try:
        con.execute(f"CREATE OR REPLACE TABLE hitlgov_src AS SELECT {cols} FROM hitlgov_input")
    except duckdb.Error as exc:
        # found by fuzzing: a Parquet timestamp[ms] of year 146,000,000 cannot even be scanned
        # (DuckDB's timestamps end in year 294,247); one line, nothing stored
        raise IngestError(f"{path}: a value cannot be read ({str(exc).splitlines()[0]}); "
                          "nothing stored from this file") from None
    try:
        con.execute("DROP VIEW IF EXISTS hitlgov_input")
    except duckdb.Error:
        con.unregister("hitlgov_input")
    n = con.execute("SELECT count(*) FROM hitlgov_src").fetchall()[0][0]
    if n == 0 and not csv_rejects(con):
        raise IngestError(f"{path}: no data rows")


def _source_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("DESCRIBE hitlgov_src").fetchall()]


def _shown(x: str) -> str:
    """SQL for a raw value quoted in a quarantine reason (cut at 80 characters)."""
    return f"'''' || left({x}, 80) || ''''"


def _outside(field: str) -> tuple[str, str, str]:
    """A timestamp outside the plausible range (:mod:`hitlgov.limits`) is quarantined, naming it."""
    return (f"{field} < TIMESTAMP '{EARLIEST_TS}' OR {field} > {LATEST_TS_SQL}", f"'{field}'",
            f"'timestamp outside the plausible range {EARLIEST_TS[:10]} .. now + 1 year: ' || " + _shown(f"_raw_{field}"))


def row_checks(mapping: Mapping | None = None, *, annotation_only: bool = False) -> list[tuple[str, str, str]]:
    """The row-level validation rules, in the order they are tried: ``(condition, field,
    reason)`` as SQL over the typed columns and their ``_raw_*`` text. The first that holds
    quarantines the row. Used by ingestion (:func:`stage`) and by in-place datasets
    (``hitlgov.ingest.inplace``), so both quarantine the same rows for the same reasons.

    ``annotation_only``: the source is a labelling tool export without predictions, or a system
    declared annotation-only, so an empty model decision is incomplete, not wrong: stored.
    ``mapping``: its ``score_range`` (if declared) bounds ``model_score``."""
    score_range = []
    if mapping is not None and mapping.score_range is not None:
        lo, hi = (float(v) for v in mapping.score_range)
        score_range = [(f"model_score < {lo!r} OR model_score > {hi!r}", "'model_score'",
                        f"'score outside the declared score_range [{lo:g}, {hi:g}]: ' || " + _shown("_raw_model_score"))]
    review_given = ("_raw_review_started_at IS NOT NULL OR _raw_review_completed_at IS NOT NULL "
                    "OR _raw_review_seconds IS NOT NULL OR rationale IS NOT NULL OR human_initial_decision IS NOT NULL")
    return [
        ("case_id IS NULL", "'case_id'", "'missing required field case_id'"),
        ("_raw_ts IS NULL", "'ts'", "'missing required field ts'"),
        ("ts IS NULL", "'ts'", "'unparsable timestamp ' || " + _shown("_raw_ts")),
        _outside("ts"),
        *([] if annotation_only else [
            ("model_decision IS NULL", "'model_decision'", "'missing required field model_decision'")]),
        ("_raw_model_score IS NOT NULL AND (model_score IS NULL OR NOT isfinite(model_score))",
         "'model_score'", "'not a number: ' || " + _shown("_raw_model_score")),
        *score_range,
        ("human_decision IS NOT NULL AND reviewer_id IS NULL", "'reviewer_id'",
         "'human_decision given without reviewer_id'"),
        ("reviewer_id IS NOT NULL AND human_decision IS NULL", "'human_decision'",
         "'reviewer_id given without human_decision'"),
        ("_raw_review_started_at IS NOT NULL AND review_started_at IS NULL", "'review_started_at'",
         "'unparsable timestamp ' || " + _shown("_raw_review_started_at")),
        ("_raw_review_completed_at IS NOT NULL AND review_completed_at IS NULL", "'review_completed_at'",
         "'unparsable timestamp ' || " + _shown("_raw_review_completed_at")),
        _outside("review_started_at"),
        _outside("review_completed_at"),
        (f"review_seconds_given > {MAX_REVIEW_SECONDS}", "'review_seconds'",
         f"'review seconds outside the plausible range 0 .. {MAX_REVIEW_SECONDS:,} (one year): ' || "
         + _shown("_raw_review_seconds")),
        ("_raw_review_seconds IS NOT NULL AND (review_seconds_given IS NULL OR NOT isfinite(review_seconds_given) "
         "OR review_seconds_given < 0)", "'review_seconds'",
         "'not a non-negative number: ' || " + _shown("_raw_review_seconds")),
        ("review_completed_at < review_started_at", "'review_completed_at'",
         "'review completed before it started'"),
        # the same bound when the review time is derived from the two timestamps (no review_seconds
        # given): each may be plausible on its own while the review "took" 57 years
        (f"review_seconds_given IS NULL AND epoch(review_completed_at) - epoch(review_started_at) > {MAX_REVIEW_SECONDS}",
         "'review_completed_at'",
         f"'review time derived from review_started_at .. review_completed_at outside the plausible range "
         f"0 .. {MAX_REVIEW_SECONDS:,} seconds (one year): ' || " + _shown("_raw_review_started_at")
         + " || ' .. ' || " + _shown("_raw_review_completed_at")),
        ("_raw_escalated IS NOT NULL AND escalated IS NULL", "'escalated'",
         "'not a boolean: ' || " + _shown("_raw_escalated") + " || ' (expected true/false, 1/0, yes/no)'"),
        ("reviewer_id IS NULL AND escalated", "'escalated'",
         "'escalated without a review (reviewer_id is empty)'"),
        ("_raw_canary IS NOT NULL AND canary IS NULL", "'canary'",
         "'not a boolean: ' || " + _shown("_raw_canary") + " || ' (expected true/false, 1/0, yes/no)'"),
        ("_raw_audit_sample IS NOT NULL AND audit_sample IS NULL", "'audit_sample'",
         "'not a boolean: ' || " + _shown("_raw_audit_sample") + " || ' (expected true/false, 1/0, yes/no)'"),
        # an inclusion probability is in (0, 1]: Horvitz-Thompson weights are its inverse
        ("_raw_audit_probability IS NOT NULL AND (audit_probability IS NULL OR NOT isfinite(audit_probability) "
         "OR audit_probability <= 0 OR audit_probability > 1)", "'audit_probability'",
         "'not a probability in (0, 1]: ' || " + _shown("_raw_audit_probability")),

        (f"reviewer_id IS NULL AND ({review_given})", "'reviewer_id'",
         "'review fields given without reviewer_id'"),
    ]



def attribute_columns(columns: list[str], mapping: Mapping, source_of: dict[str, str], *, where: str,
                      several_files: bool = False, exclude: frozenset[str] = frozenset(),
                      annotation_only: bool = False) -> list[str]:
    """Check a source's columns against the mapping; return the columns kept as case attributes.

    The same rules for a file being ingested and for an in-place dataset (``several_files``):
    every column the mapping names must exist, every required field must have a column, and every
    declared sensitive attribute or feature must be an attribute. Attributes are the columns no
    canonical field uses (all of them, or only those the mapping's ``attributes`` lists), minus
    ``exclude`` (e.g. Hive partition keys). Each failure is one :class:`IngestError` naming ``where``.
    """
    the, have = ("the files", "do not have") if several_files else ("the file", "does not have")
    check_one_column_per_field(source_of, where)
    listed = ", ".join(c for c in columns if c not in RESERVED_COLUMNS)
    for field, source in mapping.columns.items():
        if source not in columns:
            raise IngestError(f"{where}: mapping puts {field} in column '{source}', which {the} {have} "
                              f"(columns: {listed})")
    for field in required_fields(annotation_only=annotation_only):
        if field not in source_of:
            raise IngestError(f"{where}: no column for required field {field} (columns: {listed}); "
                              f"name it {field} or map it with --mapping")
    used = set(source_of.values())
    # Every other source column is kept (a source column can never be an internal one: the
    # readers refuse RESERVED_COLUMNS), so nothing is dropped without being listed.
    extra = [c for c in columns if c not in used and c not in RESERVED_COLUMNS]
    if mapping.attributes is not None:
        missing = [a for a in mapping.attributes if a not in columns]
        if missing:
            raise IngestError(f"{where}: mapping lists attribute(s) {', '.join(missing)} {the} {have}")
        extra = [c for c in extra if c in mapping.attributes]
    else:
        extra = [c for c in extra if c not in exclude]
    for declared in (*mapping.sensitive, *mapping.features):
        if declared not in extra:
            raise IngestError(f"{where}: declared attribute '{declared}' is not a column of {the} "
                              f"(attributes: {', '.join(extra) or 'none'})")
    return extra

def stage(con: duckdb.DuckDBPyConnection, path: Path, mapping: Mapping, *, annotation_only: bool = False) -> list[str]:
    """Build ``hitlgov_stg``: typed canonical columns, attributes ``_a0..`` and the first problem.

    Returns the attribute names in ``_a<i>`` order.
    """
    columns = _source_columns(con)
    present = set(columns)
    extra = attribute_columns(columns, mapping, FieldSQL({c: "VARCHAR" for c in columns}, mapping).source_of,
                              where=str(path), annotation_only=annotation_only)

    params: list = []

    def param(value) -> str:
        params.append(value)
        return f"${len(params)}"

    fields = FieldSQL({c: "VARCHAR" for c in columns}, mapping, value=param)
    typed = fields.columns()
    raw = fields.raw()
    select = ",\n".join(f"{expr} AS {name}" for name, expr in typed.items())
    raw_select = ",\n".join(f"{expr} AS _raw_{name}" for name, expr in raw.items())
    attr_select = "".join(f",\n{text_expr(c)} AS _a{i}" for i, c in enumerate(extra))
    invalid = "_invalid_json" if "_invalid_json" in present else "NULL::VARCHAR"
    # A NUL byte is never part of a label or an id: the row is quarantined, naming the field.
    field_of = {src: f for f, src in fields.source_of.items()}
    nul_whens = " ".join(f"WHEN strpos({q(c)}, chr(0)) > 0 THEN {param(field_of.get(c, c))}"
                         for c in columns if c != "_row")
    nul = f"CASE {nul_whens} END" if nul_whens else "NULL::VARCHAR"
    # an adapter's row that is in the export but is not a review (a skipped annotation, a draft
    # response): quarantined with the adapter's reason, so rows read = stored + duplicates + quarantined
    rejected = "_reject" if "_reject" in present else "NULL::VARCHAR"
    typed_sql = (f"SELECT _row, {invalid} AS _invalid, {nul} AS _nul, {rejected} AS _rejected, {select},\n"
                 f"{raw_select}{attr_select} FROM hitlgov_src")

    checks = ([("_invalid IS NOT NULL", "NULL", "'line is not a JSON object: ' || " + _shown("_invalid")),
               ("_nul IS NOT NULL", "_nul", "'NUL byte in the value of ' || _nul"),
               ("_rejected IS NOT NULL", "NULL", "_rejected")]
              + row_checks(mapping, annotation_only=annotation_only))
    field_case = "CASE " + " ".join(f"WHEN {c} THEN {f}" for c, f, _ in checks) + " END"
    reason_case = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, _, r in checks) + " END"
    # one pass over the source: typing and the checks in one statement (a table of the private
    # staging database, read in place by commit)
    con.execute(
        "CREATE OR REPLACE TABLE hitlgov_stg AS SELECT * EXCLUDE (review_seconds_given, _nul), "
        "coalesce(review_seconds_given, "
        "  epoch(review_completed_at) - epoch(review_started_at)) AS review_seconds, "
        f"{field_case} AS _field, {reason_case} AS _reason FROM ({typed_sql})",
        params,
    )
    return extra


def text_expr(column: str) -> str:
    return f"NULLIF(trim({q(column)}), '')"


def _first_difference(fields: list[str], new: Callable[[str], str], old: Callable[[str], str]) -> tuple[str, str]:
    """SQL for the first field where a new row differs from a known one, and a message saying how."""
    def shown(x: str) -> str:
        return f"coalesce('''' || left(CAST({x} AS VARCHAR), 60) || '''', 'empty')"

    field = "CASE " + " ".join(
        f"WHEN {new(f)} IS DISTINCT FROM {old(f)} THEN '{f}'" for f in fields) + " END"
    detail = "CASE " + " ".join(
        f"WHEN {new(f)} IS DISTINCT FROM {old(f)} THEN '{f} ' || {shown(old(f))} || ' vs ' || {shown(new(f))}"
        for f in fields) + " END"
    return field, detail


def classify(con: duckdb.DuckDBPyConnection, attrs: list[str]) -> None:
    """Give each staged row a status: quarantined (field, reason), duplicate or stored."""
    attr_cols = [f"_a{i}" for i in range(len(attrs))]
    case_cols = list(CASE_FIELDS)
    review_cols = list(REVIEW_FIELDS)
    names = dict(zip(attr_cols, attrs))

    # 1. Conflicts inside the file: every valid row against the first valid row of its case
    #    (case fields + attributes) and of its review (review fields). The first rows come from
    #    two hash aggregates (no sort, no struct carried through a window); only rows that are
    #    not their case's or review's first row -- few in a real log -- are compared with it,
    #    through a join on the integer row number.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hitlgov_cls AS
        WITH v AS (SELECT * EXCLUDE (_field, _reason) FROM hitlgov_stg WHERE _field IS NULL AND _reason IS NULL),
             fc AS (SELECT system, case_id, min(_row) AS _case_first_row FROM v GROUP BY ALL),
             fr AS (SELECT system, case_id, reviewer_id, min(_row) AS _review_first_row FROM v GROUP BY ALL)
        SELECT v.*, fc._case_first_row, fr._review_first_row, NULL::VARCHAR AS _field, NULL::VARCHAR AS _reason
        FROM v JOIN fc ON fc.system = v.system AND fc.case_id = v.case_id
        JOIN fr ON fr.system = v.system AND fr.case_id = v.case_id AND fr.reviewer_id IS NOT DISTINCT FROM v.reviewer_id"""
    )
    case_field, case_detail = _first_difference(case_cols + attr_cols, lambda c: f"k.{c}", lambda c: f"f.{c}")
    con.execute(
        f"""UPDATE hitlgov_cls t SET _field = x._field, _reason = x._reason FROM (
            SELECT k._row, {case_field} AS _field,
                   'conflicts with row ' || k._case_first_row || ' of this file (same case): ' || ({case_detail}) AS _reason
            FROM hitlgov_cls k JOIN hitlgov_cls f ON f._row = k._case_first_row
            WHERE k._row <> k._case_first_row AND ({case_field}) IS NOT NULL) x
        WHERE t._row = x._row"""
    )
    review_field, review_detail = _first_difference(review_cols, lambda c: f"k.{c}", lambda c: f"f.{c}")
    con.execute(
        f"""UPDATE hitlgov_cls t SET _field = x._field, _reason = x._reason FROM (
            SELECT k._row, {review_field} AS _field,
                   'conflicts with row ' || k._review_first_row || ' of this file (same case and reviewer): '
                     || ({review_detail}) AS _reason
            FROM hitlgov_cls k JOIN hitlgov_cls f ON f._row = k._review_first_row
            WHERE k._field IS NULL AND k.reviewer_id IS NOT NULL AND k._row <> k._review_first_row
              AND ({review_field}) IS NOT NULL) x
        WHERE t._row = x._row"""
    )
    # 2. Conflicts with the store: case fields, attributes, then the review's fields.
    stored_case_field, stored_case_detail = _first_difference(case_cols, lambda c: f"k.{c}", lambda c: f"c.{c}")
    con.execute(
        f"""UPDATE hitlgov_cls k SET _field = {stored_case_field},
              _reason = 'conflicts with the stored case (ingestion run ' || c.run_id || ', row ' || c.source_row
                        || '): ' || ({stored_case_detail})
            FROM cases c
            WHERE k._field IS NULL AND c.system = k.system AND c.case_id = k.case_id
              AND ({stored_case_field}) IS NOT NULL"""
    )
    # Attributes in long form, once: the first valid row of each case speaks for the case (rows
    # that disagree with it were quarantined above). Then one join finds stored conflicts.
    if attr_cols:
        pairs = ", ".join(f"{c} AS {q(names[c])}" for c in attr_cols)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE hitlgov_attrs AS
            UNPIVOT (SELECT _row, system, case_id, {pairs} FROM hitlgov_cls
                     WHERE _field IS NULL AND _row = _case_first_row)
            ON COLUMNS(* EXCLUDE (_row, system, case_id)) INTO NAME name VALUE value"""
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE hitlgov_attrs "
                    "(_row BIGINT, system VARCHAR, case_id VARCHAR, name VARCHAR, value VARCHAR)")
    con.execute(
        """UPDATE hitlgov_cls k SET _field = d.name,
              _reason = 'conflicts with the stored case: attribute ' || d.name || ' ''' || left(d.stored, 60)
                        || ''' vs ''' || left(d.value, 60) || ''''
            FROM (SELECT DISTINCT ON (n.system, n.case_id) n.system, n.case_id, n.name, n.value, a.value AS stored
                  FROM hitlgov_attrs n JOIN case_attributes a
                    ON a.system = n.system AND a.case_id = n.case_id AND a.name = n.name
                  WHERE a.value IS DISTINCT FROM n.value ORDER BY n.system, n.case_id, n.name) d
            WHERE k._field IS NULL AND k.system = d.system AND k.case_id = d.case_id"""
    )
    stored_review_field, stored_review_detail = _first_difference(review_cols, lambda c: f"k.{c}", lambda c: f"r.{c}")
    con.execute(
        f"""UPDATE hitlgov_cls k SET _field = {stored_review_field},
              _reason = 'conflicts with the stored review (ingestion run ' || r.run_id || ', row ' || r.source_row
                        || '): ' || ({stored_review_detail})
            FROM reviews r
            WHERE k._field IS NULL AND r.system = k.system AND r.case_id = k.case_id
              AND r.reviewer_id = k.reviewer_id AND ({stored_review_field}) IS NOT NULL"""
    )
    # 3. Among rows that survived: stored if they add a new review, or create a new case.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hitlgov_cls AS
        SELECT k.*,
          CASE WHEN k._field IS NOT NULL OR k._reason IS NOT NULL THEN 'quarantined'
               WHEN k.reviewer_id IS NOT NULL AND k._row = k._review_first_row
                    AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.system = k.system AND r.case_id = k.case_id
                                    AND r.reviewer_id = k.reviewer_id) THEN 'stored'
               WHEN k.reviewer_id IS NULL AND k._row = min(k._row) FILTER (WHERE k._reason IS NULL)
                        OVER (PARTITION BY k.system, k.case_id)
                    AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.system = k.system AND c.case_id = k.case_id)
                    THEN 'stored'
               ELSE 'duplicate' END AS _status
        FROM hitlgov_cls k"""
    )


def forget_requarantined(con: duckdb.DuckDBPyConnection, *, run_id: int, sha256: str) -> None:
    """Re-ingesting a file adds nothing -- to the quarantine either: this run's quarantined rows
    that an earlier run of the same bytes already quarantined (same row, field and reason) are
    not kept twice. The run still counts them as quarantined (rows read = stored + duplicates +
    quarantined), and a different file with the same bad rows is quarantined as usual."""
    con.execute(
        """DELETE FROM quarantine q WHERE q.run_id = $1 AND EXISTS (
            SELECT 1 FROM quarantine p JOIN ingestion_runs r ON r.run_id = p.run_id
            WHERE r.sha256 = $2 AND p.run_id <> $1 AND p.row_number IS NOT DISTINCT FROM q.row_number
              AND p.field IS NOT DISTINCT FROM q.field AND p.reason = q.reason)""",
        [run_id, sha256],
    )


def store(con: duckdb.DuckDBPyConnection, *, run_id: int, path: Path, attrs: list[str],
          rejects: list[dict], mapping: Mapping) -> dict:
    """Insert what is new, quarantine what is not valid, and return the counts."""
    # New cases get the next integer keys (hitlgov.case_keys), in row order; every other row of
    # the file joins on the key of its case, new or stored.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hitlgov_new_cases AS
        SELECT _row, row_number() OVER (ORDER BY _row) AS _n FROM hitlgov_cls k
        WHERE _status <> 'quarantined' AND _row = _case_first_row
          AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.system = k.system AND c.case_id = k.case_id)""")
    new = con.execute("SELECT count(*) FROM hitlgov_new_cases").fetchall()[0][0]
    first_key = case_keys.reserve(con, new)
    con.execute(
        f"""INSERT INTO cases (system, case_id, {', '.join(CASE_FIELDS)}, run_id, source_row, case_key)
        SELECT k.system, k.case_id, {', '.join(f'k.{c}' for c in CASE_FIELDS)}, ?, k._row, n._n + ? - 1
        FROM hitlgov_cls k JOIN hitlgov_new_cases n ON n._row = k._row""",
        [run_id, first_key],
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hitlgov_keys AS
        SELECT c.system, c.case_id, c.case_key FROM cases c
        SEMI JOIN (SELECT system, case_id FROM hitlgov_cls WHERE _status <> 'quarantined') k
          ON k.system = c.system AND k.case_id = c.case_id""")
    con.execute(
        f"""INSERT INTO reviews (system, case_id, reviewer_id, {', '.join(REVIEW_FIELDS)}, run_id, source_row, case_key)
        SELECT k.system, k.case_id, k.reviewer_id, {', '.join(f'k.{c}' for c in REVIEW_FIELDS)}, ?, k._row, x.case_key
        FROM hitlgov_cls k JOIN hitlgov_keys x ON x.system = k.system AND x.case_id = k.case_id
        WHERE k._status = 'stored' AND k.reviewer_id IS NOT NULL""",
        [run_id],
    )
    # Attributes (long form; hitlgov_attrs holds each case's first valid row). A new case's are all
    # new: they join on the integer row number, no string key and no look-up in the stored
    # attributes (the bulk of a first ingestion). A case stored before gets the attributes it lacks.
    con.execute(
        """INSERT INTO case_attributes (system, case_id, name, value, run_id, case_key)
        SELECT n.system, n.case_id, n.name, n.value, ?, c._n + ? - 1
        FROM hitlgov_attrs n JOIN hitlgov_new_cases c ON c._row = n._row""",
        [run_id, first_key],
    )
    known = con.execute("SELECT count(*) FROM hitlgov_cls WHERE _row = _case_first_row AND _status <> 'quarantined'"
                        ).fetchall()[0][0] - new
    if known:
        con.execute(
            """INSERT INTO case_attributes (system, case_id, name, value, run_id, case_key)
            WITH old AS MATERIALIZED (
                SELECT n.* FROM hitlgov_attrs n
                SEMI JOIN (SELECT _row FROM hitlgov_cls WHERE _row = _case_first_row AND _status <> 'quarantined') k
                  ON k._row = n._row
                ANTI JOIN hitlgov_new_cases c ON c._row = n._row)
            SELECT n.system, n.case_id, n.name, n.value, ?, x.case_key FROM old n
            JOIN hitlgov_keys x ON x.system = n.system AND x.case_id = n.case_id
            ANTI JOIN case_attributes a ON a.system = n.system AND a.case_id = n.case_id AND a.name = n.name""",
            [run_id],
        )
    _store_wide_attributes(con, run_id, attrs, first_key)
    if "_review_events" in _source_columns(con):
        _store_review_events(con, run_id)
    # Quarantine: invalid rows (stage), conflicting rows (classify), unparsable CSV lines.
    con.execute(
        """INSERT INTO quarantine
        SELECT $1, $2, s._row, s._field, s._reason, to_json(src)::VARCHAR
        FROM hitlgov_stg s JOIN hitlgov_src src ON src._row = s._row
        WHERE s._field IS NOT NULL OR s._reason IS NOT NULL""",
        [run_id, str(path)],
    )
    con.execute(
        """INSERT INTO quarantine
        SELECT $1, $2, k._row, k._field, k._reason, to_json(src)::VARCHAR
        FROM hitlgov_cls k JOIN hitlgov_src src ON src._row = k._row WHERE k._status = 'quarantined'""",
        [run_id, str(path)],
    )
    if rejects:
        con.executemany(
            "INSERT INTO quarantine VALUES (?, ?, ?, NULL, ?, ?)",
            [[run_id, str(path), r["row"], _malformed(r), r["text"]]
             for r in rejects],
        )
    _record_system_config(con, mapping)
    staged, invalid = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _field IS NOT NULL OR _reason IS NOT NULL) FROM hitlgov_stg"
    ).fetchall()[0]
    stored, duplicates, conflicts = con.execute(
        "SELECT count(*) FILTER (WHERE _status = 'stored'), count(*) FILTER (WHERE _status = 'duplicate'), "
        "count(*) FILTER (WHERE _status = 'quarantined') FROM hitlgov_cls"
    ).fetchall()[0]
    counts = {
        "rows_read": staged + len(rejects),
        "stored": stored,
        "duplicates": duplicates,
        "quarantined": invalid + conflicts + len(rejects),
    }
    assert counts["stored"] + counts["duplicates"] + counts["quarantined"] == counts["rows_read"], counts
    return counts


REVIEW_EVENT_JSON = '[{"reviewed_by": "VARCHAR", "accepted": "BOOLEAN", "reviewed_at": "VARCHAR", "review_id": "VARCHAR"}]'


def _store_review_events(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Review-stage events an adapter put in ``_review_events`` (JSON list per review row):
    kept for every stored or already-known review, each event once (re-ingesting adds none)."""
    con.execute(
        f"""INSERT INTO review_events (system, case_id, reviewer_id, reviewed_by, accepted, reviewed_at, event_id,
                                   run_id, source_row, case_key)
        SELECT DISTINCT k.system, k.case_id, k.reviewer_id, e.reviewed_by, e.accepted,
               timezone('UTC', TRY_CAST(e.reviewed_at AS TIMESTAMPTZ)), e.review_id, $1, k._row, x.case_key
        FROM hitlgov_cls k JOIN hitlgov_src s ON s._row = k._row
             JOIN hitlgov_keys x ON x.system = k.system AND x.case_id = k.case_id,
             unnest(from_json(s._review_events, '{REVIEW_EVENT_JSON}')) AS u(e)
        WHERE k._status <> 'quarantined' AND k.reviewer_id IS NOT NULL AND s._review_events IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM review_events x WHERE x.system = k.system AND x.case_id = k.case_id
                          AND x.reviewer_id = k.reviewer_id AND x.event_id IS NOT DISTINCT FROM e.review_id
                          AND x.reviewed_by IS NOT DISTINCT FROM e.reviewed_by
                          AND x.reviewed_at IS NOT DISTINCT FROM timezone('UTC', TRY_CAST(e.reviewed_at AS TIMESTAMPTZ)))""",
        [run_id])


def _store_wide_attributes(con: duckdb.DuckDBPyConnection, run_id: int, attrs: list[str], first_key: int) -> None:
    """The run's attributes in the wide table (hitlgov.case_keys): a new case's straight from its
    first row (already one column per attribute here), and the attributes this run adds to a
    case stored before from the long rows just inserted."""
    if not attrs:
        return
    cat = case_keys.add_columns(con, list(attrs))
    cols = ", ".join(q(cat[a]) for a in attrs)
    values = ", ".join(f"k._a{i}" for i in range(len(attrs)))
    con.execute(
        f"""INSERT INTO {case_keys.WIDE} (case_key, {cols})
        SELECT n._n + ? - 1, {values} FROM hitlgov_cls k JOIN hitlgov_new_cases n ON n._row = k._row
        WHERE {' OR '.join(f'k._a{i} IS NOT NULL' for i in range(len(attrs)))}""",
        [first_key])
    case_keys.fill_wide(con, "run_id = ? AND case_key < ?", [run_id, first_key])


def _malformed(reject: dict) -> str:
    """The quarantine reason of a record the CSV parser could not split, with the lines it took."""
    first, lines = reject["row"] + 1, reject["lines"]
    where = f"line {first}" if lines == 1 else f"lines {first}-{first + lines - 1} ({lines} lines, e.g. an unclosed quote)"
    return f"malformed CSV {where}: {reject['error']}"


def _record_system_config(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """Declared positive and favourable labels, label order and attribute roles apply to the file's systems.

    Changing a system's positive or favourable label or its label order changes what the metrics
    mean, so it is recorded as a ``config_changed`` audit event.
    """
    systems = [s for (s,) in con.execute(
        "SELECT DISTINCT system FROM hitlgov_cls WHERE _status <> 'quarantined' ORDER BY system").fetchall()]
    for system in systems:
        rows = con.execute("SELECT positive_label, label_order, favourable_label FROM systems WHERE system = ?",
                           [system]).fetchall()
        known = rows[0] if rows else None
        if known is None:
            con.execute("INSERT INTO systems (system, positive_label, label_order, favourable_label) "
                        "VALUES (?, ?, ?, ?)",
                        [system, mapping.positive_label, mapping.label_order, mapping.favourable_label])
        else:
            changes = {}
            if mapping.positive_label is not None and mapping.positive_label != known[0]:
                changes["positive_label"] = [known[0], mapping.positive_label]
            if mapping.label_order is not None and list(mapping.label_order) != list(known[1] or []):
                changes["label_order"] = [known[1], mapping.label_order]
            if mapping.favourable_label is not None and mapping.favourable_label != known[2]:
                changes["favourable_label"] = [known[2], mapping.favourable_label]
            if changes:
                con.execute(
                    "UPDATE systems SET positive_label = coalesce(?, positive_label), "
                    "label_order = coalesce(?, label_order), favourable_label = coalesce(?, favourable_label) "
                    "WHERE system = ?",
                    [mapping.positive_label, mapping.label_order, mapping.favourable_label, system])
                audit.append_event(con, kind="config_changed", subject=system, detail=changes)
        for role, names in (("sensitive", mapping.sensitive), ("feature", mapping.features)):
            for name in names:
                con.execute("INSERT INTO attribute_roles VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [system, name, role])
