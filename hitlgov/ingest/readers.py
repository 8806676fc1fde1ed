"""Built-in readers: CSV, JSON Lines and Parquet (gzip-compressed CSV/JSONL too).

They are registered through the same ``hitlgov_readers`` hook a third-party plugin uses. Each
returns a DuckDB relation with every source column as text plus ``_row`` (the 1-based data row
in the file). Reading everything as text is deliberate: a malformed value must reach validation,
where it is quarantined with its row and field, instead of failing the whole read.

Lines the CSV parser itself cannot split (wrong number of fields, broken quoting) are kept too:
they come back from :func:`csv_rejects` and are quarantined with their line number.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import duckdb

from hitlgov import hookimpl
from hitlgov.errors import IngestError
from hitlgov.hookspecs import Reader

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
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        return exc.start < len(head) - 4
    return False


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


def read_csv(con: duckdb.DuckDBPyConnection, path: Path):
    try:
        rel = con.sql(
            "SELECT * FROM read_csv(?, header = true, all_varchar = true, store_rejects = true, "
            "rejects_scan = 'hitlgov_reject_scans', rejects_table = 'hitlgov_reject_errors', "
            "max_line_size = 16777216)",
            params=[str(path)],
        )
        con.execute("CREATE OR REPLACE TEMP TABLE hitlgov_csv AS SELECT row_number() OVER () AS _k, * FROM rel")
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    rejects = csv_rejects(con)
    # Data row of each good row = its rank among good rows + rejected lines before it.
    con.execute("CREATE OR REPLACE TEMP TABLE hitlgov_reject_rows AS SELECT * FROM (VALUES (0::BIGINT, 0::BIGINT)) t(pos, shift) WHERE false")
    if rejects:
        positions = sorted({r["row"] for r in rejects})
        con.executemany(
            "INSERT INTO hitlgov_reject_rows VALUES (?, ?)",
            [[p, p - i] for i, p in enumerate(positions)],
        )
    return con.sql(
        "SELECT c.* EXCLUDE (_k), c._k + (SELECT count(*) FROM hitlgov_reject_rows r WHERE r.shift <= c._k) AS _row "
        "FROM hitlgov_csv c"
    )


def csv_rejects(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Lines DuckDB's CSV parser rejected in the last read: one entry per line."""
    try:
        rows = con.execute(
            "SELECT line, min(error_message), min(csv_line) FROM hitlgov_reject_errors "
            "GROUP BY line ORDER BY line"
        ).fetchall()
    except duckdb.Error:
        return []
    # The header is line 1, so data row = line - 1 (quoted multi-line fields aside).
    return [{"row": int(line) - 1, "line": int(line), "error": err, "text": text} for line, err, text in rows]


def read_jsonl(con: duckdb.DuckDBPyConnection, path: Path):
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE hitlgov_lines AS "
            "SELECT row_number() OVER () AS _row, line FROM read_csv(?, header = false, "
            "columns = {'line': 'VARCHAR'}, delim = ?, quote = '', escape = '', "
            "max_line_size = 16777216, strict_mode = false)",
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
    columns = ", ".join(
        f"json_extract_string(obj, ${i + 1}) AS {_quote_ident(k)}"
        for i, k in enumerate(keys)
    )
    # A line that is not a JSON object keeps its text in _invalid_json and is quarantined.
    select = (
        f"SELECT _row, {columns + ',' if columns else ''} "
        "CASE WHEN obj IS NULL THEN line END AS _invalid_json "
        "FROM hitlgov_lines"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE hitlgov_jsonl AS {select}",
        ['$."' + k.replace('"', '\\"') + '"' for k in keys],
    )
    return con.table("hitlgov_jsonl")


def read_parquet(con: duckdb.DuckDBPyConnection, path: Path):
    try:
        rel = con.sql("SELECT * FROM read_parquet(?, file_row_number = true)", params=[str(path)])
        names = [c for c in rel.columns if c != "file_row_number"]
        casts = ", ".join(f"CAST({_quote_ident(c)} AS VARCHAR) AS {_quote_ident(c)}" for c in names)
        return con.sql(f"SELECT file_row_number + 1 AS _row, {casts} FROM rel")
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
