"""Built-in readers: CSV, JSON Lines and Parquet (gzip-compressed CSV/JSONL too).

They are registered through the same ``hitlgov_readers`` hook a third-party plugin uses. Each
returns a DuckDB relation with every source column as text plus ``_row`` (the 1-based data row
in the file). Reading everything as text is deliberate: a malformed value must reach validation,
where it is quarantined with its row and field, instead of failing the whole read.

Lines the CSV parser itself cannot split (wrong number of fields, broken quoting) are kept too:
they come back from :func:`csv_rejects` and are quarantined with their line number.
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path

import duckdb

from hitlgov import hookimpl
from hitlgov.errors import IngestError
from hitlgov.hookspecs import Reader
from hitlgov.limits import limit

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# A byte that cannot occur raw in valid JSON text: splits a JSONL file into whole lines.
_NO_DELIMITER = "\x01"


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first bytes of a file, decompressed if it is gzip (b"" for a directory)."""
    if path.is_dir():
        return b""
    with open(path, "rb") as fh:
        raw = fh.read(size)
    if raw.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read(size)
        except (OSError, EOFError) as exc:
            raise IngestError(f"{path}: gzip file cannot be decompressed ({exc})") from None
    return raw


def looks_binary(head: bytes) -> bool:
    """Binary = a NUL byte or mostly control characters in the sample. Text that is not UTF-8
    (Latin-1 exports from older tools) is still text: the CSV reader reads it as Latin-1."""
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(head) // 10


def _suffixes(path: Path) -> list[str]:
    return [s.lower() for s in path.suffixes if s.lower() != ".gz"]


def _detect_parquet(path: Path, head: bytes) -> bool:
    return head.startswith(PARQUET_MAGIC)


def _detect_jsonl(path: Path, head: bytes) -> bool:
    if not head or looks_binary(head):
        return False
    if _suffixes(path)[-1:] in ([".jsonl"], [".ndjson"]):
        return True
    # One JSON object per line: the first non-blank character is "{" (a JSON list is not JSONL).
    return head.lstrip().startswith(b"{")


def _detect_csv(path: Path, head: bytes) -> bool:
    if not head or looks_binary(head):
        return False
    if _suffixes(path)[-1:] in ([".csv"], [".tsv"], [".txt"]):
        return True
    first = head.lstrip()[:1]
    return first not in (b"{", b"[")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: column names the pipeline and the adapters add to a relation (row number, bad JSON line, the
#: record an adapter row came from, a row that is not a review, review-stage events); a source
#: column may not use them, and they never become case attributes
RESERVED_COLUMNS = ("_row", "_invalid_json", "_record", "_reject", "_review_events")
_DELIMITERS = (",", ";", "\t", "|")


def check_columns(path: Path, names: list[str]) -> None:
    """Refuse a header that would hijack an internal column, repeat a name (after
    :func:`deduplicate`, only a reader bug can) or exceed the limit."""
    cap = limit("HITLGOV_MAX_COLUMNS")
    if len(names) > cap:
        raise IngestError(f"{path}: {len(names):,} columns, more than the limit of {cap:,} "
                          "(HITLGOV_MAX_COLUMNS)")
    for name in names:
        if name in RESERVED_COLUMNS:
            raise IngestError(f"{path}: column '{name}' uses a name reserved for hitlgov's own bookkeeping "
                              f"({', '.join(RESERVED_COLUMNS)}); rename it in the file")
    if len(set(names)) != len(names):  # a CSV header can repeat a name; a relation cannot
        raise IngestError(f"{path}: column '{next(n for n in names if names.count(n) > 1)}' appears twice")


def deduplicate_header(names: list[str]) -> list[str]:
    """A repeated CSV header name keeps its first occurrence under the name and the later ones as
    ``name_2``, ``name_3``... (as DuckDB names them; real exports repeat columns: ProPublica's
    COMPAS file has ``decile_score`` and ``priors_count`` twice). A mapping that names the column
    means the first occurrence; the others stay attributes, so nothing is dropped.

    Names are compared case-insensitively (``Branch`` and ``branch`` repeat each other): DuckDB's
    identifiers are, so two such columns could not both be read -- the file was refused with
    DuckDB's "Duplicate named argument" binder error."""
    out: list[str] = []
    seen: set[str] = set()
    taken = {n.casefold() for n in names}
    for name in names:
        if name.casefold() not in seen:
            out.append(name)
            seen.add(name.casefold())
            continue
        k = 2
        while f"{name}_{k}".casefold() in taken or f"{name}_{k}".casefold() in seen:
            k += 1
        out.append(f"{name}_{k}")
        seen.add(f"{name}_{k}".casefold())
    return out



def _open_text(path: Path):
    raw = open(path, "rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.close()
        return gzip.open(path, "rb")
    raw.seek(0)
    return raw


def _header(path: Path) -> tuple[str, str, list[str]]:
    """The CSV's encoding, delimiter and column names, read from its first line.

    The dialect is fixed here rather than sniffed by DuckDB from a sample: with one unbalanced
    quote in the sample DuckDB switches the whole file to "no quoting" and stores every quoted
    value with its quotes. Quoting is always RFC 4180 (``"`` quotes, ``""`` escapes); the
    delimiter is the candidate that splits the header into the most fields (``.tsv``: tab).
    """
    cap = limit("HITLGOV_MAX_LINE_BYTES")
    try:
        with _open_text(path) as fh:
            line = fh.readline(cap + 1)
    except (OSError, EOFError) as exc:
        raise IngestError(f"{path}: cannot be read ({exc})") from None
    if len(line) > cap:
        raise IngestError(f"{path}: the header line is longer than the limit of {cap:,} bytes "
                          "(HITLGOV_MAX_LINE_BYTES)")
    try:
        text, encoding = line.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = line.decode("latin-1"), "latin-1"
    if encoding == "utf-8" and looks_latin1(read_head(path)):
        encoding = "latin-1"
    # a header line ends at the first line break of any kind (old Mac exports end lines with \r)
    text = (text.lstrip("\ufeff").splitlines() or [""])[0]
    if _suffixes(path)[-1:] == [".tsv"]:
        delim = "\t"
    else:
        delim = max(_DELIMITERS, key=lambda d: (text.count(d), d == ","))
    try:
        names = next(csv.reader([text], delimiter=delim), [])
    except csv.Error as exc:
        raise IngestError(f"{path}: the header row cannot be split ({exc})") from None
    names = deduplicate_header([n.strip() or f"column{i}" for i, n in enumerate(names)])
    if not names:
        raise IngestError(f"{path}: no header row")
    return encoding, delim, names


def looks_latin1(head: bytes) -> bool:
    """Text that is not UTF-8 but has no NUL byte: read as Latin-1 (ISO 8859-1), not refused."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4
    return False


def read_csv(con: duckdb.DuckDBPyConnection, path: Path):
    encoding, delim, names = _header(path)
    check_columns(path, names)
    cap = limit("HITLGOV_MAX_LINE_BYTES")
    columns = "{" + ", ".join(f"{_sql_str(n)}: 'VARCHAR'" for n in names) + "}"
    try:
        rel = con.sql(
            f"SELECT * FROM read_csv(?, header = false, skip = 1, auto_detect = false, columns = {columns}, "
            "delim = ?, quote = '\"', escape = '\"', encoding = ?, store_rejects = true, "
            "rejects_scan = 'hitlgov_reject_scans', rejects_table = 'hitlgov_reject_errors', "
            f"max_line_size = {int(cap)}, buffer_size = {int(max(cap * 2, 1 << 25))})",
            params=[str(path), delim, encoding],
        )
        con.execute("CREATE OR REPLACE TEMP TABLE hitlgov_csv AS SELECT row_number() OVER () AS _k, * FROM rel")
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    rejects = csv_rejects(con)
    con.execute("CREATE OR REPLACE TEMP TABLE hitlgov_reject_rows AS SELECT * FROM (VALUES (0::BIGINT, 0::BIGINT, 0::BIGINT)) t(rec, shift, span) WHERE false")
    if rejects:
        # the i-th rejected record comes right after the (rec - i)-th good one
        con.executemany("INSERT INTO hitlgov_reject_rows VALUES (?, ?, ?)",
                        [[r["record"], r["record"] - i, r["lines"]] for i, r in enumerate(rejects)])
    if _one_line_per_record(con, path, len(rejects)):
        # Every record took exactly one line: a good record's row is its record number (its
        # number among the good ones plus the rejected records before it), a rejected one's too.
        for r in rejects:
            r["row"] = r["record"]
        _keep_reject_rows(con, rejects)
        return con.sql("SELECT c.* EXCLUDE (_k), c._k + (SELECT count(*) FROM hitlgov_reject_rows r "
                       "WHERE r.shift <= c._k) AS _row FROM hitlgov_csv c")
    # True row numbers: a record's data row is 1 + the physical lines taken by every record
    # before it (a quoted field with a newline takes two; a stray quote that swallowed the next
    # k lines takes k + 1), so rows after a broken one keep the number an editor shows.
    newlines = " + ".join(f"coalesce(length({_quote_ident(n)}) - length(replace({_quote_ident(n)}, chr(10), '')), 0)"
                          for n in names)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE hitlgov_csv_lines AS
        WITH good AS (
            SELECT c._k, c._k + (SELECT count(*) FROM hitlgov_reject_rows r WHERE r.shift <= c._k) AS rec,
                   1 + {newlines} AS span
            FROM hitlgov_csv c),
        every AS (SELECT _k, rec, span FROM good UNION ALL SELECT NULL, rec, span FROM hitlgov_reject_rows)
        SELECT _k, rec, 1 + coalesce(sum(span) OVER (ORDER BY rec ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS row
        FROM every"""
    )
    for r in rejects:
        r["row"] = con.execute("SELECT row FROM hitlgov_csv_lines WHERE _k IS NULL AND rec = ?",
                               [r["record"]]).fetchall()[0][0]
    _keep_reject_rows(con, rejects)
    return con.sql(
        "SELECT c.* EXCLUDE (_k), l.row AS _row FROM hitlgov_csv c JOIN hitlgov_csv_lines l ON l._k = c._k ORDER BY c._k"
    )


def _keep_reject_rows(con: duckdb.DuckDBPyConnection, rejects: list[dict]) -> None:
    """Record each rejected record's true row for :func:`csv_rejects`."""
    con.execute("CREATE OR REPLACE TEMP TABLE hitlgov_csv_rejects AS SELECT * FROM (VALUES (0::BIGINT, 0::BIGINT)) t(record, row) WHERE false")
    if rejects:
        con.executemany("INSERT INTO hitlgov_csv_rejects VALUES (?, ?)", [[r["record"], r["row"]] for r in rejects])


def _one_line_per_record(con: duckdb.DuckDBPyConnection, path: Path, rejected: int) -> bool:
    """Whether the file has exactly one line per record (header included), so row numbers need no
    count of the line breaks inside values: every record takes at least one line and no two share
    one, so lines == records only when each took exactly one (and no blank line was skipped).
    One pass over the bytes in C (``bytes.count``), instead of counting line breaks in every value
    of every row in SQL. Gzip files take the exact path (counting would mean decompressing twice)."""
    with open(path, "rb") as fh:
        if fh.read(2) == GZIP_MAGIC:
            return False
        fh.seek(0)
        lines, last = 0, b""
        for block in iter(lambda: fh.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    if last not in (b"\n", b""):
        lines += 1  # a last line without a line break
    good = con.execute("SELECT count(*) FROM hitlgov_csv").fetchall()[0][0]
    return lines == 1 + good + rejected


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def csv_rejects(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Records DuckDB's CSV parser rejected in the last read: one entry per record, with its data
    row (``row``, true physical numbering once :func:`read_csv` has run) and the number of physical
    lines it took (``lines``: more than one when a stray quote swallowed the lines after it)."""
    # Look the tables up rather than catch the error: a failed query aborts the transaction.
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    if "hitlgov_reject_errors" not in tables:
        return []
    rows = con.execute(
        "SELECT line, min(error_message), min(csv_line) FROM hitlgov_reject_errors "
        "GROUP BY line ORDER BY line"
    ).fetchall()
    true_rows = {}
    if "hitlgov_csv_rejects" in tables:
        true_rows = dict(con.execute("SELECT record, row FROM hitlgov_csv_rejects").fetchall())
    out = []
    for line, err, text in rows:
        text = text or ""
        record = int(line) - 1  # the header is record 1
        lines = text.strip("\r\n").count("\n") + 1
        out.append({"record": record, "row": true_rows.get(record, record), "lines": lines,
                    "error": _reject_reason(err), "text": text})
    return out


def _reject_reason(error: str | None) -> str:
    error = (error or "").splitlines()[0] if error else ""
    if "Maximum line size" in error or "maximum line size" in error.lower():
        cap = limit("HITLGOV_MAX_LINE_BYTES")
        return f"line longer than the limit of {cap:,} bytes (HITLGOV_MAX_LINE_BYTES)"
    return error


def read_jsonl(con: duckdb.DuckDBPyConnection, path: Path):
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE hitlgov_lines AS "
            "SELECT row_number() OVER () AS _row, line FROM read_csv(?, header = false, "
            "columns = {'line': 'VARCHAR'}, delim = ?, quote = '', escape = '', "
            f"max_line_size = {int(limit('HITLGOV_MAX_LINE_BYTES'))}, "
            f"buffer_size = {int(max(2 * limit('HITLGOV_MAX_LINE_BYTES'), 1 << 25))}, strict_mode = false)",
            [str(path), _NO_DELIMITER],
        )
        con.execute("DELETE FROM hitlgov_lines WHERE line IS NULL OR trim(line) = ''")
        # DuckDB evaluates JSON functions on every row, even inside CASE: keep a column that
        # holds only valid JSON objects (NULL otherwise) and parse nothing else.
        con.execute("ALTER TABLE hitlgov_lines ADD COLUMN obj VARCHAR")
        con.execute("UPDATE hitlgov_lines SET obj = line WHERE json_valid(line)")
        con.execute("UPDATE hitlgov_lines SET obj = NULL WHERE json_type(obj) <> 'OBJECT'")
        keys = [k for (k,) in con.execute(
            "SELECT DISTINCT unnest(json_keys(obj)) AS k FROM hitlgov_lines WHERE obj IS NOT NULL ORDER BY k"
        ).fetchall()]
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot be read as JSON Lines: {str(exc).splitlines()[0]}") from None
    # an empty key ("": 1) cannot be a column name: kept as the attribute 'unnamed' (as a CSV
    # header's empty name is kept as 'columnN'), never dropped and never a SQL error
    unnamed, k = "unnamed", 2
    while unnamed in keys:
        unnamed, k = f"unnamed_{k}", k + 1
    names = [key if key != "" else unnamed for key in keys]
    check_columns(path, names)
    columns = ", ".join(
        f"json_extract_string(obj, ${i + 1}) AS {_quote_ident(name)}"
        for i, name in enumerate(names)
    )
    # A line that is not a JSON object keeps its text in _invalid_json and is quarantined.
    select = (
        f"SELECT _row, {columns + ',' if columns else ''} "
        "CASE WHEN obj IS NULL THEN line END AS _invalid_json "
        "FROM hitlgov_lines"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE hitlgov_jsonl AS {select}",
        # JSON Pointer paths (RFC 6901): every key, the empty one and keys holding '"', '.', '/' included
        ["/" + k.replace("~", "~0").replace("/", "~1") for k in keys],
    )
    return con.table("hitlgov_jsonl")


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path):
    try:
        rel = con.sql("SELECT * FROM read_parquet(?, file_row_number = true)", params=[str(path)])
        names = [c for c in rel.columns if c != "file_row_number"]
        check_columns(path, names)
        casts = ", ".join(f"CAST({_quote_ident(c)} AS VARCHAR) AS {_quote_ident(c)}" for c in names)
        return con.sql(f"SELECT file_row_number + 1 AS _row, {casts} FROM rel")
    except IngestError:
        raise
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot be read as Parquet: {str(exc).splitlines()[0]}") from None


@hookimpl
def hitlgov_readers() -> list[Reader]:
    return [
        Reader("parquet", _detect_parquet, read_parquet, priority=5, description="Apache Parquet"),
        Reader("jsonl", _detect_jsonl, read_jsonl, priority=1,
               description="JSON Lines, one decision-log row per line (optionally .gz)"),
        Reader("csv", _detect_csv, read_csv, priority=0,
               description="CSV with a header row (optionally .gz)"),
    ]
