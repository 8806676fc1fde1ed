"""Integer case keys and attributes served wide (issue 16; store migration 9).

Why: every metric joins a case to its reviews and to its attributes. On the two-string key
``(system, case_id)`` those joins hash and compare two strings per row, and fairness joined the
long ``case_attributes`` table once per sensitive attribute: at 10M cases that was most of a
``metrics`` run, at 100M in place most of four minutes. So:

* **``case_key``** -- a BIGINT on ``cases``, ``reviews``, ``case_attributes`` and
  ``review_events``, assigned by ingestion when a case is first stored: 1, 2, 3, ... in the order
  of the rows that created them (so the same files ingested in the same order give the same
  keys). A case keeps its key for ever (nothing rewrites it) and a key is never handed out twice:
  the next free key is kept in ``case_key_counter`` and only grows, in the same transaction as
  the rows -- a rolled-back ingestion gives its keys back, a deleted case (no path deletes one
  today) would not. ``(system, case_id)`` stays the case's identity everywhere a person reads
  it (SCHEMA.md is unchanged); the key is how the engine joins.
* **attributes wide** -- ``case_attributes_wide``: one row per case that has attributes, keyed by
  ``case_key``, one VARCHAR column per attribute name. Fairness, the segment filter, the bias
  audit and drift read all the attributes they need with *one* integer join, whatever their
  number. Columns are named ``a1, a2, ...`` and ``attribute_columns`` maps each attribute name to
  its column: a name is data (it comes from a column header of someone's log), so it can be any
  text -- quotes, markup, two names differing only in case, which DuckDB identifiers cannot tell
  apart -- and it never becomes an identifier. A new attribute adds a column (``ALTER TABLE``)
  at ingestion; nothing is rewritten.

  Why a table beside ``cases`` and not columns on ``cases``: the canonical ``cases`` relation
  keeps one shape for every engine and export; the wide table is one integer join, which costs
  a fraction of one string join. Why not a ``MAP`` column: reading a map element is a search per
  row, a column is a column.

The long ``case_attributes`` table stays the record (the audit trail commits to it, the
interchange contract and ``export-parquet`` use it, a conflict check reads it); the wide table
is maintained from the same rows in the same transaction, and :func:`wide_problems` checks that
it says the same (``hitlgov verify``).

In-place Parquet (:mod:`hitlgov.ingest.inplace`) serves both from the file row: the key of a
case is its first row's position in the registered file list, ``file_index * 2**40 + row + 1``
(unique because a (file, row) pair is; stable because the file list and each file's SHA-256 are
fixed at registration), and the wide attributes are the row's own columns. A lake reached with
``--engine`` that has no ``case_key`` column is joined on ``(system, case_id)`` as before: no
hash of the key is ever used in its place (a 64-bit hash of 100M keys collides with probability
about 3e-4, and one collision would merge two people's cases).
"""
from __future__ import annotations

import re

import duckdb


def q(name: str) -> str:
    """A quoted identifier (as :func:`hitlgov.ingest.casting.q`; the ground layer has its own)."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"

#: a case key in place: file index in the high bits, row number in the file in the low 40
INPLACE_ROW_BITS = 40
WIDE = "case_attributes_wide"
CATALOGUE = "attribute_columns"
KEYED_TABLES = ("cases", "reviews", "case_attributes", "review_events")


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The counter, the attribute catalogue and an empty wide table."""
    con.execute("CREATE TABLE case_key_counter (next_key BIGINT NOT NULL)")
    con.execute("INSERT INTO case_key_counter VALUES (1)")
    con.execute(f"CREATE TABLE {CATALOGUE} (name VARCHAR PRIMARY KEY, col VARCHAR NOT NULL UNIQUE)")
    con.execute(f"CREATE TABLE {WIDE} (case_key BIGINT NOT NULL)")


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 9 on a store written before it: key every stored case, its reviews, attributes
    and review events, and build the wide table from the long one.

    Keys follow ingestion order -- ingestion run, then source row (then the case id, for rows
    without one) -- as ingestion would have given them. An in-place store's relations are views:
    they are redefined with the key and the wide attributes (:func:`upgrade_inplace`)."""
    create_tables(con)
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                             "WHERE table_schema = 'main'").fetchall())
    if kinds.get("cases") == "VIEW":
        if kinds.get("review_events") == "BASE TABLE":  # a table (empty) in an in-place store too
            con.execute("ALTER TABLE review_events ADD COLUMN case_key BIGINT")
        upgrade_inplace(con)
        return
    con.execute("ALTER TABLE cases ADD COLUMN case_key BIGINT")
    con.execute(
        """UPDATE cases SET case_key = n.k FROM (
             SELECT system, case_id, row_number() OVER (ORDER BY run_id, source_row NULLS LAST, system, case_id) AS k
             FROM cases) n
           WHERE cases.system = n.system AND cases.case_id = n.case_id""")
    con.execute("UPDATE case_key_counter SET next_key = (SELECT coalesce(max(case_key), 0) + 1 FROM cases)")
    for table in ("reviews", "case_attributes", "review_events"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN case_key BIGINT")
        con.execute(f"UPDATE {table} t SET case_key = c.case_key FROM cases c "
                    f"WHERE c.system = t.system AND c.case_id = t.case_id")
    add_columns(con, [n for (n,) in con.execute(
        "SELECT DISTINCT name FROM case_attributes ORDER BY name").fetchall()])
    fill_wide(con, "TRUE")


def reserve(con: duckdb.DuckDBPyConnection, count: int) -> int:
    """Take ``count`` new keys; return the first (the keys are ``first .. first + count - 1``)."""
    first = con.execute("SELECT next_key FROM case_key_counter").fetchall()[0][0]
    con.execute("UPDATE case_key_counter SET next_key = next_key + ?", [int(count)])
    return int(first)


def columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """``{attribute name: its column in the wide table}``."""
    return dict(con.execute(f"SELECT name, col FROM {CATALOGUE} ORDER BY col").fetchall())


def add_columns(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, str]:
    """Give each attribute name not yet in the catalogue its column (``a<n>``); return the catalogue."""
    known = columns(con)
    n = con.execute(f"SELECT coalesce(max(CAST(substr(col, 2) AS BIGINT)), 0) FROM {CATALOGUE}").fetchall()[0][0]
    for name in names:
        if name in known:
            continue
        n += 1
        col = f"a{n}"
        con.execute(f"ALTER TABLE {WIDE} ADD COLUMN {q(col)} VARCHAR")
        con.execute(f"INSERT INTO {CATALOGUE} VALUES (?, ?)", [name, col])
        known[name] = col
    return known


def fill_wide(con: duckdb.DuckDBPyConnection, where: str, params: list | None = None) -> None:
    """Bring the wide table up to date with the long rows selected by ``where`` (SQL over
    ``case_attributes``, e.g. ``run_id = ?``): a new row for a case the wide table does not hold
    yet, the new attributes filled in on one it holds. One pivot of the selected rows."""
    cat = columns(con)
    if not cat:
        return
    names = list(cat)
    pivot = ", ".join(f"max(value) FILTER (WHERE name = ${i + 1}) AS {q(cat[n])}" for i, n in enumerate(names))
    args = names + list(params or [])
    shifted = _shift_params(where, len(names))
    con.execute(f"CREATE OR REPLACE TEMP TABLE hitlgov_wide_new AS SELECT case_key, {pivot} "
                f"FROM case_attributes WHERE {shifted} GROUP BY case_key", args)
    cols = [cat[n] for n in names]
    con.execute(
        f"""UPDATE {WIDE} w SET {', '.join(f'{q(c)} = coalesce(w.{q(c)}, n.{q(c)})' for c in cols)}
            FROM hitlgov_wide_new n WHERE w.case_key = n.case_key""")
    con.execute(
        f"""INSERT INTO {WIDE} (case_key, {', '.join(q(c) for c in cols)})
            SELECT n.case_key, {', '.join(f'n.{q(c)}' for c in cols)} FROM hitlgov_wide_new n
            ANTI JOIN {WIDE} w ON w.case_key = n.case_key""")
    con.execute("DROP TABLE hitlgov_wide_new")


def _shift_params(where: str, by: int) -> str:
    """Renumber ``?`` placeholders of ``where`` as ``$k`` after the pivot's own ``by`` parameters."""
    out, k = [], by
    for ch in where:
        if ch == "?":
            k += 1
            out.append(f"${k}")
        else:
            out.append(ch)
    return "".join(out)


def key_problems(con: duckdb.DuckDBPyConnection, *, limit: int = 10) -> list[str]:
    """Keys that do not identify one case: a key shared by two cases, a case without one, or a
    review, attribute or review event whose key is not its case's. (A run ingested after
    migration 9 commits to its rows' keys in the audit leaves; this also covers the keys migration
    9 gave to rows committed before it.)"""
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                             "WHERE table_schema = 'main'").fetchall())
    if kinds.get("cases") != "BASE TABLE":  # in place: keys are computed from the file rows, not stored
        return []
    if "case_key" not in {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                                      "WHERE table_name = 'cases'").fetchall()}:
        return []
    problems = [f"cases: case key {k} is held by {n} cases" for k, n in con.execute(
        "SELECT case_key, count(*) FROM cases WHERE case_key IS NOT NULL GROUP BY 1 HAVING count(*) > 1 "
        "ORDER BY 1 LIMIT ?", [limit]).fetchall()]
    problems += [f"cases: case {s}/{c} has no case key" for s, c in con.execute(
        "SELECT system, case_id FROM cases WHERE case_key IS NULL ORDER BY 1, 2 LIMIT ?", [limit]).fetchall()]
    for table in ("reviews", "case_attributes", "review_events"):
        rows = con.execute(
            f"""SELECT t.system, t.case_id, t.case_key, c.case_key FROM {table} t
                LEFT JOIN cases c ON c.system = t.system AND c.case_id = t.case_id
                WHERE t.case_key IS DISTINCT FROM c.case_key ORDER BY 1, 2 LIMIT ?""", [limit]).fetchall()
        problems += [f"{table}: a row of case {s}/{c} carries case key {k}, the case's key is {want}"
                     for s, c, k, want in rows]
    return problems


def wide_problems(con: duckdb.DuckDBPyConnection, *, limit: int = 10) -> list[str]:
    """Where the wide table does not say what the long ``case_attributes`` (the committed record)
    says: a value changed, added or missing, a case with two wide rows, an attribute the
    catalogue has no column for. Empty when they agree.

    Exact, value by value (the metrics read the wide table: a hash of a row would only say it
    probably agrees). One join per attribute column on the integer ``case_key`` alone, the long
    rows of that attribute against the column (``IS DISTINCT FROM``): unpivoting the wide table
    and joining it on ``(case_key, name, value)`` built a hash table of every attribute value
    (80M at 10M cases). A long row whose value is NULL says what an empty wide cell says (the
    pivot of :func:`fill_wide` gives NULL); strings are compared in binary collation (no
    connection setting makes ``North`` equal ``north``)."""
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                             "WHERE table_schema = 'main'").fetchall())
    if kinds.get(WIDE) != "BASE TABLE":  # in place: a view over the file rows, nothing stored
        return []
    cat = columns(con)
    if not cat:
        return []
    problems = [f"{WIDE}: case key {k} has {n} rows (one per case)" for k, n in con.execute(
        f"SELECT case_key, count(*) FROM {WIDE} GROUP BY case_key HAVING count(*) > 1 ORDER BY 1 LIMIT ?",
        [limit]).fetchall()]
    found: list[tuple] = []
    for name, col in cat.items():
        found += [(k, name) for (k,) in con.execute(
            f"""SELECT coalesce(a.case_key, w.case_key) AS k
                FROM (SELECT case_key, {q(col)} COLLATE "binary" AS v FROM {WIDE} WHERE {q(col)} IS NOT NULL) w
                FULL OUTER JOIN (SELECT case_key, value COLLATE "binary" AS v FROM case_attributes
                                 WHERE name COLLATE "binary" = $1 AND value IS NOT NULL) a
                  ON a.case_key = w.case_key
                WHERE a.v IS DISTINCT FROM w.v ORDER BY 1 NULLS FIRST LIMIT $2""", [name, limit]).fetchall()]
    found += con.execute(
        f"""SELECT a.case_key, a.name FROM case_attributes a
            ANTI JOIN {CATALOGUE} c ON c.name COLLATE "binary" = a.name COLLATE "binary"
            ORDER BY 1 NULLS FIRST, 2 LIMIT ?""", [limit]).fetchall()
    found = sorted(set(found), key=lambda kn: (kn[0] is not None, kn[0] or 0, kn[1]))[:limit]
    return problems + [f"{WIDE}: case key {k} attribute {n!r} differs from case_attributes (the committed record)"
                       for k, n in found]


def duplicate_attributes(con: duckdb.DuckDBPyConnection, *, limit: int = 10) -> list[tuple[str, int]]:
    """``[("system/case_id/name", copies), ...]``: attribute rows sharing ``(case, name)``, for a
    store whose keys agree with the identities one to one (:func:`key_problems` found nothing:
    a row's key is its case's, a key belongs to one case).

    Why not ``GROUP BY system, case_id, name``: that is one group per row (8M at 1M cases), each
    keyed on three strings. Here the rows are grouped per case on the integer key (1M groups)
    with a counter per catalogued attribute (binary comparison: ``Region`` and ``region`` are two
    attributes); the rows without a key or with a name the catalogue lacks (none in a store that
    verifies) are grouped on the strings. Every duplicate pair shares key and name, so it falls in
    one part or the other, and the result is exactly the string grouping's."""
    cat = columns(con)
    names = list(cat)
    binary = 'COLLATE "binary"'
    found: list[tuple[str, int]] = []
    if names:
        counts = ", ".join(f"count(*) FILTER (WHERE name {binary} = ${i + 1}) AS n{i}" for i in range(len(names)))
        having = " OR ".join(f"n{i} > 1" for i in range(len(names)))
        rows = con.execute(
            f"""SELECT p.*, c.system, c.case_id FROM (
                  SELECT * FROM (SELECT case_key, {counts} FROM case_attributes WHERE case_key IS NOT NULL
                                 GROUP BY case_key) WHERE {having}) p
                LEFT JOIN cases c ON c.case_key = p.case_key ORDER BY p.case_key LIMIT ${len(names) + 1}""",
            names + [limit]).fetchall()
        for row in rows:
            system, case_id = row[-2], row[-1]
            found += [(f"{system}/{case_id}/{names[i]}", n) for i, n in enumerate(row[1:1 + len(names)]) if n > 1]
    known = ", ".join(f"${i + 1}" for i in range(len(names))) or "NULL"
    found += con.execute(
        f"""SELECT concat_ws('/', system, case_id, name), count(*)
            FROM (SELECT system {binary} AS system, case_id {binary} AS case_id, name {binary} AS name
                  FROM case_attributes WHERE case_key IS NULL OR name {binary} NOT IN ({known}))
            GROUP BY system, case_id, name HAVING count(*) > 1 ORDER BY 1 LIMIT ${len(names) + 1}""",
        names + [limit]).fetchall()
    return sorted(found)[:limit]


# -- in-place Parquet -----------------------------------------------------------------------------

def inplace_key_sql(file_index: str, row: str) -> str:
    """The case key of the file row ``(file_index, row)`` (0-based), as SQL."""
    return f"(CAST({file_index} AS BIGINT) * {1 << INPLACE_ROW_BITS} + {row} + 1)"


def build_inplace_keys(con: duckdb.DuckDBPyConnection) -> None:
    """``inplace_keys``: the rows served as a review whose case was created by another row, and that
    row's key. Small: it grows with the cases on several rows, not with the log. Needs the
    ``inplace_log`` view (with ``_fidx``) and the index of exclusions."""
    key = inplace_key_sql("_fidx", "_frow")
    con.execute(
        f"""CREATE TABLE inplace_keys AS
        WITH multi AS (SELECT hash(system, case_id) AS h FROM inplace_log GROUP BY 1 HAVING count(*) > 1),
             rows AS (SELECT l.system, l.case_id, l._file, l._frow, {key} AS k FROM inplace_log l
                      SEMI JOIN multi m ON m.h = hash(l.system, l.case_id)),
             firsts AS (SELECT r.* FROM rows r
                        ANTI JOIN (SELECT file, row FROM inplace_skip WHERE skip_case) s
                          ON s.file = r._file AND s.row = r._frow)
        SELECT r._file AS file, r._frow AS row, f.k AS case_key
        FROM rows r JOIN firsts f ON f.system = r.system AND f.case_id = r.case_id
        WHERE r.k <> f.k""")


def inplace_views(con: duckdb.DuckDBPyConnection, attrs: list[str], run_id: int) -> None:
    """``cases``, ``reviews``, ``case_attributes`` and ``case_attributes_wide`` as views over
    ``inplace_log`` (columns ``_file, _fidx, _frow``, the canonical fields, ``_a<i>`` per
    attribute) minus the index of exclusions; the attributes wide straight from the case's row."""
    run = f"CAST({int(run_id)} AS BIGINT)"
    key = inplace_key_sql("_fidx", "_frow")
    con.execute(
        f"""CREATE OR REPLACE VIEW inplace_case_rows AS
        SELECT l.*, {key.replace('_fidx', 'l._fidx').replace('_frow', 'l._frow')} AS case_key FROM inplace_log l
        ANTI JOIN (SELECT file, row FROM inplace_skip WHERE skip_case) s ON s.file = l._file AND s.row = l._frow""")
    con.execute(
        f"""CREATE OR REPLACE VIEW cases AS
        SELECT system, case_id, ts, model_version, model_decision, model_score, final_decision, outcome,
               {run} AS run_id, _frow + 1 AS source_row,
               canary, audit_sample, audit_probability, case_key
        FROM inplace_case_rows""")
    con.execute(
        f"""CREATE OR REPLACE VIEW reviews AS
        SELECT l.system, l.case_id, l.reviewer_id, l.human_decision, l.review_started_at, l.review_completed_at,
               coalesce(l.review_seconds_given, epoch(l.review_completed_at) - epoch(l.review_started_at))
                 AS review_seconds,
               l.escalated, l.rationale, {run} AS run_id, l._frow + 1 AS source_row,
               l.human_initial_decision,
               coalesce(k.case_key, {key.replace('_fidx', 'l._fidx').replace('_frow', 'l._frow')}) AS case_key
        FROM inplace_log l
        ANTI JOIN (SELECT file, row FROM inplace_skip WHERE skip_review) s ON s.file = l._file AND s.row = l._frow
        LEFT JOIN inplace_keys k ON k.file = l._file AND k.row = l._frow
        WHERE l.reviewer_id IS NOT NULL""")
    if attrs:
        parts = [f"SELECT system, case_id, {lit(name)} AS name, _a{i} AS value, {run} AS run_id, case_key "
                 f"FROM inplace_case_rows WHERE _a{i} IS NOT NULL" for i, name in enumerate(attrs)]
        body = "\nUNION ALL\n".join(parts)
    else:
        body = ("SELECT NULL::VARCHAR AS system, NULL::VARCHAR AS case_id, NULL::VARCHAR AS name, "
                "NULL::VARCHAR AS value, NULL::BIGINT AS run_id, NULL::BIGINT AS case_key WHERE false")
    con.execute(f"CREATE OR REPLACE VIEW case_attributes AS {body}")
    con.execute(f"DROP TABLE IF EXISTS {WIDE}")
    con.execute(f"DELETE FROM {CATALOGUE}")
    for i, name in enumerate(attrs):
        con.execute(f"INSERT INTO {CATALOGUE} VALUES (?, ?)", [name, f"a{i + 1}"])
    wide = "".join(f", _a{i} AS a{i + 1}" for i in range(len(attrs)))
    con.execute(f"CREATE OR REPLACE VIEW {WIDE} AS SELECT case_key{wide} FROM inplace_case_rows")


_ATTR_PART = re.compile(r"'((?:[^']|'')*)' AS \"?name\"?, _a(\d+) AS \"?value\"?", re.I)


def upgrade_inplace(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 9 on an in-place store: the log view gains the file index, the relations are
    redefined with the key and the wide view, ``inplace_keys`` is built (one scan of the files'
    key columns)."""
    log_sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'inplace_log'").fetchall()[0][0]
    attr_sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'case_attributes'").fetchall()[0][0]
    run_id = con.execute("SELECT coalesce(max(run_id), 0) FROM ingestion_runs").fetchall()[0][0]
    found = sorted((int(i), name.replace("''", "'")) for name, i in _ATTR_PART.findall(attr_sql))
    attrs = [name for _i, name in found]
    body = re.sub(r"^\s*CREATE\s+VIEW\s+\S+\s+AS\s+", "", log_sql, flags=re.I | re.S).rstrip().rstrip(";")
    body = re.sub(r"filename\s+AS\s+_file\s*,", "filename AS _file, file_index AS _fidx,", body, count=1, flags=re.I)
    for view in ("case_attributes", "reviews", "cases", "inplace_case_rows"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    con.execute("DROP VIEW inplace_log")
    con.execute(f"CREATE VIEW inplace_log AS {body}")
    build_inplace_keys(con)
    inplace_views(con, attrs, run_id)
