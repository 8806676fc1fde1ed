"""A tamper-evident audit trail: a hash-chained event log, per-run Merkle commitments to the
stored rows, and signed checkpoints of the log's head kept outside the store.

It is designed as a transparency log (certificate transparency, Sigstore Rekor):

* **Events** (``audit_events``) form a hash chain: each event's ``hash`` is the SHA-256 of its
  own content and the previous event's hash, so changing, deleting or inserting an event breaks
  the chain at that point.
* **Row commitments.** Each ingestion run's event carries, for every table the run wrote
  (``cases``, ``reviews``, ``case_attributes``, ``quarantine``, ``review_events``), an RFC 6962
  Merkle root over SHA-256 leaves of buckets of the run's rows (canonical JSON texts, sorted;
  a case's attributes one text: format 3, see "row commitments" below), the row count and the columns hashed. ``audit_leaves``
  keeps each row's key and a fingerprint, so ``verify`` names the row that changed. No Python
  code loops over rows: DuckDB sorts and serialises, OpenSSL hashes slices of its Arrow batches.
  The event also commits to the run's ``ingestion_runs`` row and
  to the whole of ``systems`` and ``attribute_roles`` (small tables that later runs may change
  legitimately: the last commitment must match them).
* **Records** written one action at a time (findings history, alert deliveries, remediation,
  incidents, attestations, the reviewer register and its loads, local accounts:
  :data:`RECORD_TABLES`): the action's event carries the leaf of every row it wrote or
  changed (``rows``); ``verify`` replays them in chain order and compares each stored row
  with the latest commitment for its key.
* **Checkpoints** (:mod:`hitlgov.checkpoint`): after every committed write that appended
  events, the head (event count, head hash, time) is signed with the site's Ed25519 key and
  written *outside* the DuckDB file. Truncating the chain, or re-chaining any suffix
  consistently after editing a row and its leaf and its root, no longer matches a checkpoint.

:func:`verify_store` walks the chain, checks it against the checkpoints, recomputes each
run's Merkle root from its rows in the format the run was written in (format 1: re-hashes every
row against its stored leaf, then the roots from the leaves), names the rows of a run that no longer matches, and compares the small
tables with their last commitment. Events are written inside the caller's transaction:
an ingestion that rolls back leaves none.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

GENESIS = "0" * 64
#: RFC 6962: the hash of an empty tree is SHA-256 of the empty string
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
#: the commitment format written now (see "row commitments" below); older runs keep theirs
LEAF_FORMAT = "rfc6962-sha256/sorted-json-buckets-3"
LEAF_FORMAT_V2 = "rfc6962-sha256/sorted-json-buckets-2"
LEAF_FORMAT_V1 = "rfc6962-sha256/json-row-1"
#: the formats :func:`verify_store` can check (a run in any other one is reported, not guessed at)
LEAF_FORMATS = (LEAF_FORMAT_V1, LEAF_FORMAT_V2, LEAF_FORMAT)

#: the tables an ingestion run writes, and the columns that identify a row in verify's messages
RUN_TABLES: dict[str, tuple[str, ...]] = {
    "cases": ("system", "case_id"),
    "reviews": ("system", "case_id", "reviewer_id"),
    "case_attributes": ("case_key",),  # the integer case key where the store has one (else the text alone)
    "quarantine": ("row_number", "field"),
    "review_events": ("system", "case_id", "reviewer_id", "event_id"),
}
#: small configuration tables committed as a whole after every write
STATE_TABLES: dict[str, tuple[str, ...]] = {
    "systems": ("system",),
    "attribute_roles": ("system", "name", "role"),
}

#: tables written one record at a time by a named action (continuous oversight, accounts), and
#: the columns that name a row. The event of each write carries the leaves of the rows it wrote
#: (``"rows": {table: {"columns": [...], "leaves": {key: [leaf, ...]}}}``, see :func:`record_rows`);
#: ``verify`` replays those commitments in chain order and compares every stored row with the
#: latest one for its key, so a direct edit, delete or insert in any of them is named.
RECORD_TABLES: dict[str, tuple[str, ...]] = {
    "findings_history": ("monitor_run", "system", "metric"),
    "alert_deliveries": ("monitor_run", "channel", "target"),
    "incidents": ("incident_id",),
    "remediation": ("item_id",),
    "attestations": ("attestation_id",),
    "reviewer_register": ("version", "reviewer_id", "source_row"),
    "reviewer_register_loads": ("version",),
    "users": ("name",),
}
#: the events that wrote each record table before its rows were committed (older stores)
RECORD_KINDS: dict[str, tuple[str, ...]] = {
    "findings_history": ("monitor_run",), "alert_deliveries": ("alert_delivery",),
    "incidents": ("incident_recorded", "incident_reported"),
    "remediation": ("remediation_assigned", "remediation_acknowledged", "remediation_resolved"),
    "attestations": ("report_attested",), "reviewer_register": ("reviewer_register_loaded",),
    "reviewer_register_loads": ("reviewer_register_loaded",),
    "users": ("user_added", "user_password_changed", "user_disabled", "user_enabled"),
}

# Module-level encoders: json.dumps(..., separators=...) builds a new encoder per call.
_LINK = json.JSONEncoder(separators=(",", ":"))
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)

# Connections that appended events in the current transaction (their checkpoint is due after COMMIT).
_PENDING: set[int] = set()


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _digest(seq: int, at: str, kind: str, actor: str | None, subject: str | None, detail: str,
            prev_hash: str) -> str:
    content = _LINK.encode([seq, at, kind, actor, subject, detail, prev_hash])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _canonical(detail) -> str:
    return _CANONICAL.encode(detail)


def _head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    # fetchall, not fetchone: DuckDB 2 refuses con.append() while a result is left unfinished.
    head = con.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchall()
    return (head[0][0], head[0][1]) if head else (0, GENESIS)


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str | None]:
    """``(events, head hash)`` of the chain as stored (``(0, None)`` when empty)."""
    seq, digest = _head(con)
    return seq, (digest if seq else None)


def _now() -> tuple[datetime, str]:
    at = datetime.now(timezone.utc).replace(tzinfo=None)
    return at, at.isoformat(timespec="microseconds")


def append_event(con: duckdb.DuckDBPyConnection, *, kind: str, subject: str | None = None,
                 detail=None, actor: str | None = None) -> str:
    """Append one event after the current head; return its hash."""
    return append_events(con, [(kind, subject, detail if detail is not None else {})], actor=actor)


def append_events(con: duckdb.DuckDBPyConnection, events: list[tuple[str, str | None, object]], *,
                  actor: str | None = None) -> str:
    """Append ``(kind, subject, detail)`` events in order, as one bulk insert; return the new head.

    The connection is marked so that :func:`hitlgov.store.transaction` writes a signed checkpoint
    once the transaction commits (never before: a rolled-back head must not be checkpointed)."""
    if not events:
        return _head(con)[1]
    if actor is None:  # every event names who acted (see hitlgov.actor); callers may pass it explicitly
        from hitlgov.actor import current

        actor = current()
    seq, prev = _head(con)
    at, at_text = _now()
    rows = []
    for kind, subject, detail in events:
        seq += 1
        body = _canonical(detail)
        digest = _digest(seq, at_text, kind, actor, subject, body, prev)
        rows.append((seq, at, kind, actor, subject, body, prev, digest))
        prev = digest
    frame = pd.DataFrame(rows, columns=["seq", "event_at", "kind", "actor", "subject", "detail", "prev_hash", "hash"])
    con.append("audit_events", frame, by_name=True)
    _PENDING.add(id(con))
    return prev


# -- checkpoints after commit ------------------------------------------------------------------------

def discard_pending(con: duckdb.DuckDBPyConnection) -> None:
    """The transaction rolled back: its events are gone, no checkpoint is due."""
    _PENDING.discard(id(con))


def checkpoint_if_pending(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Write the signed checkpoint of the head when events were appended since the last one."""
    if id(con) not in _PENDING:
        return None
    _PENDING.discard(id(con))
    from hitlgov import checkpoint

    return checkpoint.write(con)


# -- row commitments ---------------------------------------------------------------------------------
#
# Format 2 (:data:`LEAF_FORMAT_V2`, written by issue 16's first ingestion work): a run's rows of one table, each as its
# canonical JSON text, are sorted (by integer columns of the row, :data:`ORDER_COLUMNS`, then by
# the text's bytes: the order is a function of the rows alone), cut into buckets of
# :data:`BUCKET_ROWS` consecutive rows, and each bucket is one Merkle leaf:
# SHA-256(0x00 || the bucket's texts concatenated). A JSON object is self-delimiting, so the
# concatenation is uniquely decodable: two different multisets of rows never give the same
# sequence of bucket inputs, and every row is bound by SHA-256 as before. The root over the
# bucket leaves is RFC 6962's tree hash. The hashing runs on the texts' bytes as DuckDB hands
# them over in Arrow batches (OpenSSL's SHA-256 through hashlib: a call per bucket slice, never
# per row), so its cost is that of hashing the bytes, not of ~2 DuckDB ``sha256`` calls per row.
#
# To *name* a changed row, ``audit_leaves`` keeps each row's key and a 64-bit fingerprint
# (DuckDB ``hash`` of its columns). Fingerprints only locate: whether rows changed is decided by
# recomputing the SHA-256 root from the rows, and a run whose root matches is intact whatever
# its fingerprints say (so a DuckDB release that changes ``hash`` cannot raise a false alarm).
#
# Format 3 (:data:`LEAF_FORMAT`, written now) is format 2 except for the tables committed per
# case (:data:`GROUPED_BY_CASE`: ``case_attributes``, eight rows per case at 1M cases): their
# canonical text is one per *case*, the JSON object of the case's identity columns
# (:data:`CASE_COLUMNS`: ``case_key``, ``run_id``, ``system``, ``case_id``) and ``rows``, the list
# of its rows' other columns sorted by ``list_sort`` (:func:`case_texts_sql`); the texts are in
# ``case_key`` order. Why: format 2 sorted the 8M attribute texts of 1M cases by their bytes, and
# texts that share a long common prefix (system, case id) make that sort compare long strings; the
# per-case texts sort on one integer and are less than half the bytes. Every committed column of
# every row is in its case's text, so any change to any row changes the root; the identity columns
# are the grouping itself, so a row moved to another case changes two texts. DuckDB's
# ``list_sort`` follows the connection's ``default_collation`` and ``default_order``: the sort is
# pinned (direction, NULLs last, binary collation on every text field) so no setting can reorder
# a case's rows, and the cases are ordered on every identity column (the integer key first, the
# rest only break ties a valid store never has). The commitment records ``rows`` (attribute rows),
# ``cases`` (texts hashed), the identity columns used and the bucket size. Fingerprints are kept
# per case as in format 2, so a changed case is still named.
#
# Format 1 (:data:`LEAF_FORMAT_V1`, stores written before issue 16): a SHA-256 leaf per row,
# stored in ``audit_leaves`` in key order, the tree hashed in SQL. Runs in formats 1 and 2 are
# still verified as they were written (``tests/ground/fixtures/store_format1``, ``store_format2``).

#: format 1 committed these tables' rows per case (one leaf per case: its rows, sorted); format 2
#: hashes every row's text but keeps one fingerprint per case (the unit verify names); format 3
#: hashes one text per case and keeps the same fingerprints
GROUPED_BY_CASE = ("case_attributes",)
#: rows per bucket (one SHA-256 leaf) in formats 2 and 3 (texts: cases, for a GROUPED_BY_CASE
#: table in format 3); recorded in each commitment
BUCKET_ROWS = 4096
#: format 3: the columns that make a GROUPED_BY_CASE row's case (in its text's order and in the
#: sort order of the texts); a column the table lacks is left out, the ones used are recorded
CASE_COLUMNS = ("case_key", "run_id", "system", "case_id")
_BINARY = 'COLLATE "binary"'
#: format 3 builds a GROUPED_BY_CASE table's texts a block of 2**CASE_BLOCK_BITS case keys at a
#: time, in key order (the texts and their order are the same as in one statement: it is only how
#: DuckDB is asked). Why: grouping 10M cases' lists in one hash aggregate took 33 s where ten
#: blocks of 1M took 21 s (its list states outgrow the caches and memory limit; 1M cases: 2 s).
CASE_BLOCK_BITS = 20
#: format 2's sort order before the text itself breaks ties: integer columns only (sorting
#: integers is far cheaper than sorting long texts, and no collation applies); recorded in each
#: commitment, and a column the table lacks is left out
ORDER_COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": ("source_row",),
    "reviews": ("source_row",),
    "case_attributes": ("case_key",),  # the integer case key where the store has one (else the text alone)
    "quarantine": ("row_number",),
    "review_events": ("source_row",),
}


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
        "ORDER BY ordinal_position", [table]).fetchall()]


def text_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The VARCHAR columns of ``table`` (the ones a collation applies to)."""
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
        "AND data_type = 'VARCHAR'", [table]).fetchall()}


def _json_sql(columns: list[str]) -> str:
    """A row's canonical text: its JSON object (keys in column order). JSON keeps NULL and ''
    apart and escapes every separator, so two different rows never share a text."""
    return "to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q(c)}" for c in columns) + "))::VARCHAR"


def _sha256_leaf_sql(text_sql: str) -> str:
    """Format 1's leaf: SHA-256 of ``0x00`` and the text (RFC 6962 §2.1)."""
    return f"sha256('\\x00'::BLOB || encode({text_sql}))"


def leaf_sql(columns: list[str]) -> str:
    """SQL for a row's fingerprint in ``audit_leaves`` (format 2): it locates a changed row; the
    SHA-256 root over the rows' texts is what proves the change."""
    return "CAST(hash(" + ", ".join(_q(c) for c in columns) + ") AS VARCHAR)"


def row_hashes_sql(table: str, columns: list[str], where: str) -> str:
    """Format 1: SQL yielding ``(run_id, k, h)``, each committed unit's key and SHA-256 leaf."""
    if table not in GROUPED_BY_CASE:
        return (f"SELECT run_id, {key_sql(table)} AS k, {_sha256_leaf_sql(_json_sql(columns))} AS h "
                f"FROM {table} WHERE {where}")
    rest = [c for c in columns if c not in ("system", "case_id", "run_id")]
    rows = (f"list(struct_pack({', '.join(f'{_q(c)} := {_q(c)}' for c in rest)}) "
            f"ORDER BY {', '.join(_q(c) for c in rest)})")
    text = f"to_json(struct_pack(system := system, case_id := case_id, run_id := run_id, rows := {rows}))::VARCHAR"
    return (f"SELECT run_id, {key_sql(table)} AS k, {_sha256_leaf_sql(text)} AS h FROM {table} WHERE {where} "
            "GROUP BY run_id, system, case_id")


def fingerprints_sql(table: str, columns: list[str], where: str) -> str:
    """Format 2: SQL yielding ``(run_id, k, h)``: each row's key and fingerprint, or for a
    GROUPED_BY_CASE table each case's (an order-free XOR of its rows' fingerprints)."""
    if table not in GROUPED_BY_CASE:
        return f"SELECT run_id, {key_sql(table)} AS k, {leaf_sql(columns)} AS h FROM {table} WHERE {where}"
    row = "hash(" + ", ".join(_q(c) for c in columns) + ")"
    return (f"SELECT run_id, {key_sql(table)} AS k, CAST(bit_xor({row}) AS VARCHAR) || '/' || count(*) AS h "
            f"FROM {table} WHERE {where} GROUP BY run_id, system, case_id")


def order_columns(table: str, columns: list[str]) -> list[str]:
    return [c for c in ORDER_COLUMNS.get(table, ()) if c in columns]


def texts_sql(table: str, columns: list[str], where: str, order: list[str]) -> str:
    """Format 2: SQL yielding each committed row's canonical text ``t`` in commitment order:
    by the ``order`` columns, then by the text's bytes -- a function of the rows alone, not of
    how they happen to be stored (NULLs last and binary collation spelled out, so no setting
    of the connection can change it)."""
    keys = "".join(f"{_q(c)} ASC NULLS LAST, " for c in order)
    return (f"SELECT t FROM (SELECT {', '.join(_q(c) for c in order) + ', ' if order else ''}{_json_sql(columns)} AS t "
            f"FROM {table} WHERE {where}) ORDER BY {keys}t COLLATE \"binary\" ASC")


def case_texts_sql(table: str, columns: list[str], where: str, group: list[str], texts: set[str]) -> str:
    """Format 3, a GROUPED_BY_CASE table: SQL yielding one canonical text ``t`` per case in
    commitment order. ``group`` are the identity columns (:data:`CASE_COLUMNS` as recorded),
    ``texts`` the VARCHAR columns (pinned to binary collation wherever they are compared: in
    ``list_sort`` of a case's rows and in the order of the cases)."""
    group = [c for c in group if c in columns]
    rest = [c for c in columns if c not in group]
    if not group or not rest:
        raise ValueError(f"{table}: format 3 needs identity columns and row columns, got {columns}")

    def pinned(c: str) -> str:
        return f"{_q(c)} {_BINARY}" if c in texts else _q(c)

    rows = (f"list_sort(list(struct_pack({', '.join(f'{_q(c)} := {pinned(c)}' for c in rest)})), "
            "'ASC', 'NULLS LAST')")
    text = f"to_json(struct_pack({', '.join(f'{_q(c)} := {_q(c)}' for c in group)}, rows := {rows}))::VARCHAR"
    cols = ", ".join(_q(c) for c in group)
    keys = ", ".join(f"{pinned(c)} ASC NULLS LAST" for c in group)
    return f"SELECT t FROM (SELECT {cols}, {text} AS t FROM {table} WHERE {where} GROUP BY {cols}) ORDER BY {keys}"


def case_texts_sqls(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], where: str,
                    group: list[str], *, block_bits: int = CASE_BLOCK_BITS) -> list[str]:
    """:func:`case_texts_sql` cut into blocks of case keys, in commitment order: each non-empty
    block ``[b * 2**bits, (b + 1) * 2**bits)`` in ascending order, then the rows without a key
    (NULLS LAST). Streamed one after the other they yield exactly the texts of the one statement."""
    texts = text_columns(con, table)
    if "case_key" not in group or "case_key" not in columns:
        return [case_texts_sql(table, columns, where, group, texts)]
    blocks = [b for (b,) in con.execute(
        f"SELECT case_key >> {int(block_bits)} AS b FROM {table} WHERE {where} GROUP BY b ORDER BY b NULLS LAST").fetchall()]
    size = 1 << int(block_bits)
    return [case_texts_sql(table, columns, f"({where}) AND " + (
        "case_key IS NULL" if b is None else f"case_key BETWEEN {b * size} AND {b * size + size - 1}"), group, texts)
        for b in blocks]


def key_sql(table: str) -> str:
    if table in RECORD_TABLES:
        return "concat_ws('/', " + ", ".join(f"coalesce(CAST({_q(c)} AS VARCHAR), '-')"
                                            for c in RECORD_TABLES[table]) + ")"
    if table == "quarantine":
        return "'row ' || coalesce(CAST(row_number AS VARCHAR), '-') || coalesce(' ' || field, '')"
    if table == "ingestion_runs":
        return "CAST(run_id AS VARCHAR)"
    if table in GROUPED_BY_CASE:
        return "concat_ws('/', system, case_id)"
    cols = RUN_TABLES.get(table) or STATE_TABLES[table]
    return "concat_ws('/', " + ", ".join(f"CAST({_q(c)} AS VARCHAR)" for c in cols) + ")"


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of leaf hashes (already ``SHA-256(0x00 || data)``), level by
    level: pairs ``2k, 2k+1`` into ``SHA-256(0x01 || left || right)``, an odd last node carried
    up -- the same tree as the RFC's split at the largest power of two below n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _string_slices(array):
    """``(offsets, data)`` of an Arrow string array: its UTF-8 bytes and where each value starts."""
    import numpy as np
    import pyarrow as pa

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())
    if array.null_count:
        raise ValueError("a committed row has no canonical text")
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _validity, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=width)[array.offset:array.offset + len(array) + 1]
    return offsets, memoryview(data if data is not None else b"")


def _batches(con: duckdb.DuckDBPyConnection, sqls: list[str], params: list | None):
    for sql in sqls:
        # a relation streams its result batch by batch; ``con.execute`` would first materialise
        # every text (10M cases: 10 GB of JSON in memory, outside DuckDB's memory limit)
        yield from con.sql(sql, params=params or None).to_arrow_reader(1 << 16)


def bucket_root(con: duckdb.DuckDBPyConnection, texts_sql: str | list[str], *, bucket_rows: int = BUCKET_ROWS,
                params: list | None = None) -> tuple[str, int]:
    """``(root, rows)``: the format-2/3 commitment to the texts ``texts_sql`` yields (one VARCHAR
    column, already in commitment order; a list of statements: their texts one after the other).
    The texts arrive in Arrow batches; each bucket's bytes are hashed as slices of the batch
    buffers (a loop over buckets and batches, never over rows)."""
    leaves: list[bytes] = []
    bucket = hashlib.sha256(b"\x00")
    filled = rows = 0
    for batch in _batches(con, [texts_sql] if isinstance(texts_sql, str) else texts_sql, params):
        offsets, data = _string_slices(batch.column(0))
        i, n = 0, batch.num_rows
        while i < n:
            take = min(bucket_rows - filled, n - i)
            bucket.update(data[offsets[i]:offsets[i + take]])
            i, filled = i + take, filled + take
            if filled == bucket_rows:
                leaves.append(bucket.digest())
                bucket, filled = hashlib.sha256(b"\x00"), 0
        rows += n
    if filled:
        leaves.append(bucket.digest())
    return mth(leaves).hex(), rows


def merkle_roots(con: duckdb.DuckDBPyConnection, leaves_sql: str, params: list | None = None) -> dict[str, tuple[str, int]]:
    """Format 1: ``{group: (root, leaves)}``, the RFC 6962 Merkle tree hash of each group's leaves.

    ``leaves_sql`` yields ``(g, i, h)``: a group, the leaf's position and its hex hash. Each level
    pairs nodes ``2k`` and ``2k+1`` into ``SHA-256(0x01 || left || right)`` and carries an odd last
    node up unchanged -- the same tree as RFC 6962's split at the largest power of two below n.
    One SQL statement per level (about 20 for a million rows), never a Python loop over rows."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE hitlgov_mt AS SELECT g, "
                f"row_number() OVER (PARTITION BY g ORDER BY i) - 1 AS i, h FROM ({leaves_sql})", params or [])
    try:
        sizes = dict(con.execute("SELECT g, count(*) FROM hitlgov_mt GROUP BY g").fetchall())
        width = max(sizes.values(), default=0)
        while width > 1:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE hitlgov_mt AS SELECT g, i // 2 AS i, "
                "CASE WHEN count(*) = 1 THEN any_value(h) "
                "ELSE sha256('\\x01'::BLOB || unhex(arg_min(h, i)) || unhex(arg_max(h, i))) END AS h "
                "FROM hitlgov_mt GROUP BY g, i // 2")
            width = (width + 1) // 2
        roots = dict(con.execute("SELECT g, h FROM hitlgov_mt").fetchall())
    finally:
        con.execute("DROP TABLE IF EXISTS hitlgov_mt")
    return {g: (roots[g], int(n)) for g, n in sizes.items()}


def _rows_digest(con: duckdb.DuckDBPyConnection, table: str, where: str = "", params: list | None = None) -> dict:
    """``{key: leaf}`` of a small table (for commitments carried inside an event)."""
    cols = table_columns(con, table)
    # small tables keep format 1's SHA-256 per row: the digests are carried inside the events
    rows = con.execute(f"SELECT {key_sql(table)}, {_sha256_leaf_sql(_json_sql(cols))} FROM {table} {where} ORDER BY 1, 2",
                       params or []).fetchall()
    out: dict[str, str] = {}
    for key, leaf in rows:
        out[key if key not in out else f"{key}#{len(out)}"] = leaf
    return out


def _record_leaves(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], where: str = "TRUE",
                   params: list | None = None) -> dict[str, list[str]]:
    """``{key: [leaf, ...]}`` (sorted; a key held by several rows has several leaves)."""
    out: dict[str, list[str]] = {}
    for key, leaf in con.execute(f"SELECT {key_sql(table)}, {leaf_sql(columns)} FROM {table} WHERE {where} "
                                 "ORDER BY 1, 2", params or []).fetchall():
        out.setdefault(key, []).append(leaf)
    return out


def record_rows(con: duckdb.DuckDBPyConnection, writes: list[tuple[str, str, list]]) -> dict:
    """The commitment a record-writing event carries: for each ``(table, where, params)`` the
    leaves of the rows it selects, *as written by this action* (call it after the INSERT/UPDATE,
    inside the same transaction, and select only the rows the action wrote: a whole-table
    snapshot would silently adopt an earlier direct edit). Put it in the event's ``rows``."""
    out: dict[str, dict] = {}
    for table, where, params in writes:
        if table not in RECORD_TABLES:
            raise ValueError(f"{table} is not a record table")
        columns = table_columns(con, table)
        entry = out.setdefault(table, {"columns": columns, "leaves": {}})
        entry["leaves"].update(_record_leaves(con, table, columns, where, params))
    return out


def state_commitment(con: duckdb.DuckDBPyConnection) -> dict:
    """The whole of ``systems`` and ``attribute_roles`` as ``{table: {key: leaf}}``."""
    return {table: _rows_digest(con, table) for table in STATE_TABLES}


def commit_run(con: duckdb.DuckDBPyConnection, run_id: int, *, tables=tuple(RUN_TABLES)) -> dict:
    """Store the fingerprints of every row run ``run_id`` wrote to ``tables`` and return the
    commitment that goes into the run's ``ingestion`` event: per table its format-3 Merkle root,
    row count, bucket size and the columns hashed (a GROUPED_BY_CASE table: also the case count
    and the identity columns); the run's ``ingestion_runs`` row; the state of the configuration
    tables."""
    merkle = {}
    for table in tables:
        cols = table_columns(con, table)
        where = f"run_id = {int(run_id)}"
        con.execute(f"INSERT INTO audit_leaves SELECT run_id, ?, 0, k, h FROM ({fingerprints_sql(table, cols, where)})",
                    [table])
        if table in GROUPED_BY_CASE:
            group = [c for c in CASE_COLUMNS if c in cols]
            root, cases = bucket_root(con, case_texts_sqls(con, table, cols, where, group))
            rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchall()[0][0]
            merkle[table] = {"root": root, "rows": rows, "cases": cases, "columns": cols, "group": group,
                             "bucket_rows": BUCKET_ROWS}
            continue
        order = order_columns(table, cols)
        root, rows = bucket_root(con, texts_sql(table, cols, where, order))
        merkle[table] = {"root": root, "rows": rows, "columns": cols, "order": order, "bucket_rows": BUCKET_ROWS}
    run_row = _rows_digest(con, "ingestion_runs", "WHERE run_id = ?", [run_id])
    return {"leaf_format": LEAF_FORMAT, "merkle": merkle, "run_row": run_row.get(str(run_id)),
            "state": state_commitment(con)}


def commit_state(con: duckdb.DuckDBPyConnection, *, reason: str, actor: str | None = None) -> bool:
    """Append ``config_committed`` when ``systems``/``attribute_roles`` differ from their last
    commitment (for writers other than ingestion). Returns whether an event was appended."""
    now = state_commitment(con)
    last = _last_state(con)
    if last is not None and last[1] == now:
        return False
    append_event(con, kind="config_committed", subject=reason, actor=actor, detail={"state": now})
    return True


def _last_state(con: duckdb.DuckDBPyConnection) -> tuple[int, dict] | None:
    row = con.execute(
        "SELECT seq, CAST(json_extract(detail, '$.state') AS VARCHAR) FROM audit_events "
        "WHERE json_extract(detail, '$.state') IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchall()
    return (row[0][0], json.loads(row[0][1])) if row else None


# -- verification ------------------------------------------------------------------------------------

def verify_chain(con: duckdb.DuckDBPyConnection) -> dict:
    """Recompute every link. Returns ``{"ok", "events", "head", "broken_at", "problem"}``."""
    rows = con.execute(
        "SELECT seq, event_at, kind, actor, subject, CAST(detail AS VARCHAR), prev_hash, hash FROM audit_events ORDER BY seq"
    ).fetchall()
    prev, expected_seq = GENESIS, 1
    for seq, at, kind, actor, subject, detail, prev_hash, digest in rows:
        problem = None
        if seq != expected_seq:
            problem = (f"sequence jumps from {expected_seq - 1} to {seq}: event(s) deleted"
                       if seq > expected_seq else f"sequence {seq} repeated: an event was inserted")
        elif prev_hash != prev:
            problem = "prev_hash does not match the previous event's hash: an event was deleted or inserted before it"
        elif at is None or _digest(seq, at.isoformat(timespec="microseconds"), kind, actor, subject, detail,
                                   prev_hash) != digest:
            problem = "content does not match its hash: the event was changed"
        if problem:
            return {"ok": False, "events": len(rows), "head": rows[-1][7], "broken_at": seq, "problem": problem}
        prev, expected_seq = digest, seq + 1
    return {"ok": True, "events": len(rows), "head": prev if rows else None, "broken_at": None, "problem": None}


def _missing_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    need = ["audit_events", "audit_leaves", "ingestion_runs", *RUN_TABLES, *STATE_TABLES]
    return [t for t in need if t not in have]


def _commitments(con: duckdb.DuckDBPyConnection, upto: int | None = None) -> list[tuple[int, int, dict]]:
    """``(seq, run_id, detail)`` of every ingestion event that commits to its rows."""
    rows = con.execute(
        "SELECT seq, CAST(detail AS VARCHAR) FROM audit_events WHERE kind = 'ingestion' "
        "AND (? IS NULL OR seq <= ?) ORDER BY seq", [upto, upto]).fetchall()
    out = []
    for seq, text in rows:
        try:
            detail = json.loads(text)
            out.append((seq, int(detail["run_id"]), detail))
        except (ValueError, KeyError, TypeError):
            continue  # a malformed detail is the chain's business (its hash no longer matches)
    return out


def _check_rows(con: duckdb.DuckDBPyConnection, commits: list, limit: int, *, as_of: bool = False) -> list[str]:
    """Every committed run's rows against its commitment, table by table: rows no run committed
    to, rows missing from a run's count, then the rows themselves (format 2: the SHA-256 root
    recomputed from the rows, the fingerprints naming the rows of a run that no longer matches;
    format 3: the same, a GROUPED_BY_CASE table's texts one per case; format 1: each row
    re-hashed against its stored leaf, then the roots from the stored leaves)."""
    problems: list[str] = []
    for table in RUN_TABLES:
        runs = {run: (seq, d) for seq, run, d in commits if table in d.get("merkle", {})}
        all_runs = ", ".join(str(int(r)) for r in runs) or "NULL"
        # rows of a run with no commitment (inserted behind ingestion's back, or run_id edited)
        # (as of a checkpoint, rows of later runs are legitimate appends: not looked at)
        orphans = [] if as_of else con.execute(
            f"SELECT DISTINCT run_id, {key_sql(table)} FROM {table} WHERE run_id IS NULL OR run_id NOT IN ({all_runs}) "
            f"ORDER BY 1, 2 LIMIT ?", [limit]).fetchall()
        problems += [f"{table}: row {k} (run {r}) was inserted without an ingestion run committing to it"
                     for r, k in orphans]
        if not runs:
            continue
        present = set(table_columns(con, table))
        usable = {}
        for run, (seq, d) in runs.items():
            cols = d["merkle"][table]["columns"]
            gone = [c for c in cols if c not in present]
            if gone:
                problems.append(f"{table}: column(s) {', '.join(gone)} hashed at ingestion no longer exist")
            else:
                usable[run] = (seq, d)
        # counts first: a deleted copy of a row identical to another (quarantine) changes no key
        # (format 1 counted a GROUPED_BY_CASE table's cases, format 2 counts its rows)
        have = dict(con.execute(f"SELECT run_id, count(*) FROM {table} WHERE run_id IN ({all_runs}) "
                                "GROUP BY run_id").fetchall())
        v1_runs = [run for run, (_s, d) in runs.items() if d.get("leaf_format", LEAF_FORMAT_V1) == LEAF_FORMAT_V1]
        if table in GROUPED_BY_CASE and v1_runs:  # (a distinct count over every row: only where it is used)
            cases = dict(con.execute(f"SELECT run_id, count(DISTINCT (system, case_id)) FROM {table} "
                                     f"WHERE run_id IN ({', '.join(str(int(r)) for r in v1_runs)}) "
                                     "GROUP BY run_id").fetchall())
            have.update({run: cases.get(run, 0) for run in v1_runs})
        problems += [f"{table}: ingestion run {run} stored {d['merkle'][table]['rows']:,} rows, "
                     f"{have.get(run, 0):,} are left"
                     for run, (_seq, d) in sorted(runs.items()) if have.get(run, 0) < d["merkle"][table]["rows"]]
        fmt = {run: sd[1].get("leaf_format", LEAF_FORMAT_V1) for run, sd in usable.items()}
        problems += [f"{table}: ingestion run {run} was committed in format {fmt[run]!r}, which this hitlgov "
                     f"cannot check (event {seq})" for run, (seq, _d) in sorted(usable.items())
                     if fmt[run] not in LEAF_FORMATS]
        v1 = {run: sd for run, sd in usable.items() if fmt[run] == LEAF_FORMAT_V1}
        sorted_texts = {run: sd for run, sd in usable.items() if fmt[run] in (LEAF_FORMAT_V2, LEAF_FORMAT)}
        problems += _check_rows_v1(con, table, v1, limit)
        problems += _check_rows_v2(con, table, sorted_texts, limit)
    return problems


def _named_differences(con: duckdb.DuckDBPyConnection, table: str, now_sql: str, runs: list[int], limit: int) -> list[str]:
    """Rows whose (key, leaf) is in ``audit_leaves`` but not in the table now, or the reverse."""
    ids = ", ".join(str(int(r)) for r in runs)
    found = con.execute(
        f"""WITH now AS ({now_sql}),
             was AS (SELECT run_id, row_key AS k, leaf AS h FROM audit_leaves WHERE tbl = ? AND run_id IN ({ids})),
             diff AS (SELECT coalesce(was.run_id, now.run_id) AS run_id, coalesce(was.k, now.k) AS k,
                             was.h IS NOT NULL AS before, now.h IS NOT NULL AS after
                      FROM was FULL OUTER JOIN now ON was.run_id = now.run_id AND was.k = now.k AND was.h = now.h
                      WHERE was.h IS NULL OR now.h IS NULL)
        SELECT run_id, k, bool_or(before), bool_or(after) FROM diff GROUP BY ALL ORDER BY 1, 2 LIMIT ?""",
        [table, limit]).fetchall()
    problems = []
    for run, key, before, after in found:
        what = "changed" if before and after else ("deleted" if before else "inserted")
        problems.append(f"{table}: row {key} of ingestion run {run} {what} after it was stored")
    return problems


def _rewritten(table: str, run: int, seq: int, want: dict, leaves: int) -> str:
    return (f"{table} of ingestion run {run}: the stored row hashes ({leaves:,}) no longer match the "
            f"Merkle root chained in event {seq} ({want.get('rows'):,} rows): rows and their hashes were rewritten")


def _check_rows_v2(con: duckdb.DuckDBPyConnection, table: str, runs: dict, limit: int) -> list[str]:
    """Formats 2 and 3: recompute each run's root from its rows (one text per row, or per case
    for a GROUPED_BY_CASE table in format 3); name the rows of a run that differs."""
    problems: list[str] = []
    for run, (seq, d) in sorted(runs.items()):
        want = d["merkle"][table]
        cols, where = list(want["columns"]), f"run_id = {int(run)}"
        per_case = table in GROUPED_BY_CASE and d.get("leaf_format") == LEAF_FORMAT
        if per_case:
            sql, count = case_texts_sqls(con, table, cols, where, list(want.get("group", []))), want.get("cases")
        else:
            sql, count = texts_sql(table, cols, where, [c for c in want.get("order", []) if c in cols]), want.get("rows")
        got = bucket_root(con, sql, bucket_rows=int(want.get("bucket_rows", BUCKET_ROWS)))
        if got == (want.get("root"), count):
            continue  # the rows are, byte for byte, the ones committed: fingerprints are not needed
        named = _named_differences(con, table, fingerprints_sql(table, cols, where), [run], limit)
        rows = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchall()[0][0] if per_case else got[1]
        if not named and rows > want.get("rows", 0):  # an exact copy of a committed row: same key, same fingerprint
            named = [f"{table}: ingestion run {run} stored {want.get('rows', 0):,} rows, {rows:,} are there now: "
                     "a copy of a stored row was inserted"]
        if not named:  # the fingerprints were rewritten to match the edited rows: SHA-256 still says no
            leaves = con.execute("SELECT count(*) FROM audit_leaves WHERE tbl = ? AND run_id = ?", [table, run]).fetchall()[0][0]
            named = [_rewritten(table, run, seq, want, leaves)]
        problems += named
    return problems


def _check_rows_v1(con: duckdb.DuckDBPyConnection, table: str, runs: dict, limit: int) -> list[str]:
    """Format 1: each row re-hashed against its stored leaf, then every root from the stored leaves."""
    if not runs:
        return []
    by_cols: dict[tuple, list[int]] = {}
    for run, (_seq, d) in runs.items():
        by_cols.setdefault(tuple(d["merkle"][table]["columns"]), []).append(run)
    now_sql = " UNION ALL ".join(row_hashes_sql(table, list(cols), f"run_id IN ({', '.join(map(str, rs))})")
                                 for cols, rs in by_cols.items())
    problems = _named_differences(con, table, now_sql, list(runs), limit)
    ids = ", ".join(str(int(r)) for r in runs)
    roots = merkle_roots(con, f"SELECT CAST(run_id AS VARCHAR) AS g, idx AS i, leaf AS h FROM audit_leaves "
                              f"WHERE tbl = ? AND run_id IN ({ids})", [table])
    for run, (seq, d) in sorted(runs.items()):
        want = d["merkle"][table]
        root, n = roots.get(str(run), (EMPTY_ROOT, 0))
        if (root, n) != (want.get("root"), want.get("rows")):
            problems.append(_rewritten(table, run, seq, want, n))
    return problems


def _check_runs(con: duckdb.DuckDBPyConnection, commits: list, *, as_of: bool = False) -> list[str]:
    now = _rows_digest(con, "ingestion_runs")
    problems = []
    seen = set()
    for seq, run, detail in commits:
        seen.add(str(run))
        if "run_row" not in detail:
            continue
        if str(run) not in now:
            problems.append(f"ingestion_runs: run {run} deleted (its ingestion event {seq} remains)")
        elif now[str(run)] != detail["run_row"]:
            problems.append(f"ingestion_runs: run {run} changed after it was recorded (event {seq})")
    if not as_of:
        problems += [f"ingestion_runs: run {k} has no ingestion event" for k in sorted(set(now) - seen)]
    return problems


def _check_state(con: duckdb.DuckDBPyConnection) -> list[str]:
    last = _last_state(con)
    if last is None:
        return []
    seq, recorded = last
    problems = []
    for table, rows in recorded.items():
        if table not in STATE_TABLES:
            continue
        now = _rows_digest(con, table)
        for key in sorted(set(rows) | set(now)):
            if rows.get(key) != now.get(key):
                what = "changed" if key in rows and key in now else ("deleted" if key in rows else "inserted")
                problems.append(f"{table}: row {key} {what} since it was committed (event {seq})")
    return problems


def _check_records(con: duckdb.DuckDBPyConnection, limit: int, *, upto: int | None = None) -> tuple[list[str], list[str]]:
    """Every record table against the replay of its commitments (``rows`` in the events).

    As of a checkpoint (``upto``) a key committed again later (a remediation item resolved, an
    incident reported after the report) is not compared: its later state is a legitimate change.
    Returns ``(problems, notes)``."""
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    expected: dict[str, dict[str, tuple[int, list[str], list[str]]]] = {t: {} for t in RECORD_TABLES}
    for seq, text in con.execute("SELECT seq, CAST(json_extract(detail, '$.rows') AS VARCHAR) FROM audit_events "
                                 "WHERE json_extract(detail, '$.rows') IS NOT NULL ORDER BY seq").fetchall():
        try:
            rows = json.loads(text)
            for table, entry in rows.items():
                if table in expected:
                    for key, leaves in entry["leaves"].items():
                        expected[table][str(key)] = (seq, list(entry["columns"]), sorted(leaves))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a malformed detail is the chain's business (its hash no longer matches)
    problems: list[str] = []
    notes: list[str] = []
    for table in RECORD_TABLES:
        if table not in have:
            continue
        want = expected[table]
        present = set(table_columns(con, table))
        now_by_cols: dict[tuple, dict[str, list[str]]] = {}
        for cols in {tuple(c) for _s, c, _l in want.values()}:
            gone = [c for c in cols if c not in present]
            if gone:
                problems.append(f"{table}: column(s) {', '.join(gone)} committed by its events no longer exist")
                continue
            now_by_cols[cols] = _record_leaves(con, table, list(cols))
        found: list[str] = []
        for key, (seq, cols, leaves) in sorted(want.items()):
            if upto is not None and seq > upto or tuple(cols) not in now_by_cols:
                continue
            now = sorted(now_by_cols[tuple(cols)].get(key, []))
            if now == leaves:
                continue
            if not now:
                found.append(f"{table}: row {key} deleted since event {seq} recorded it")
            elif not leaves:
                found.append(f"{table}: row {key} inserted again after event {seq} removed it")
            elif len(now) > len(leaves):
                found.append(f"{table}: row {key} inserted a second time after event {seq} recorded it")
            else:
                found.append(f"{table}: row {key} changed since event {seq} recorded it")
        current = _record_leaves(con, table, table_columns(con, table))
        orphans = sorted(k for k in current if k not in want)
        if orphans:
            kinds = RECORD_KINDS.get(table, ())
            legacy = kinds and con.execute(
                f"SELECT count(*) FROM audit_events WHERE kind IN ({', '.join('?' * len(kinds))}) "
                "AND json_extract(detail, '$.rows') IS NULL", list(kinds)).fetchall()[0][0]
            if legacy:
                notes.append(f"{table}: {len(orphans):,} row(s) were written by an older hitlgov without row "
                             "commitments: only their events' chain covers them")
            else:
                found += [f"{table}: row {k} was inserted without an audit event committing to it" for k in orphans]
        problems += found[:limit]
    return problems, notes


def verify_configuration(con: duckdb.DuckDBPyConnection) -> list[str]:
    """``ingestion_runs``, ``systems`` and ``attribute_roles`` against their commitments (also for
    in-place stores, whose data rows are checked against their files' hashes instead)."""
    return _check_runs(con, _commitments(con)) + _check_state(con) + _check_records(con, 10)[0]


#: the key that must be unique in each table: the case's identity, then the rest of the key
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "cases": (), "reviews": ("reviewer_id",), "case_attributes": ("name",),
}


def _duplicates(con: duckdb.DuckDBPyConnection, limit: int, *, keyed: bool = False) -> list[str]:
    """Rows sharing their key, named by ``system/case_id/...``.

    The tables carry no PRIMARY KEY (bulk loads are several times faster without the index);
    the pipeline guarantees uniqueness, and this check proves nobody broke it afterwards.
    ``keyed``: the caller found that case keys and identities agree one to one
    (:func:`hitlgov.case_keys.key_problems` found nothing). Then ``reviews`` are grouped on
    ``(case_key, reviewer_id)`` and ``case_attributes`` per case on ``case_key``
    (:func:`hitlgov.case_keys.duplicate_attributes`) instead of on the identity strings (8M
    attribute rows at 1M cases were most of the check's time): a row's key is its case's key, a
    key belongs to one case, so the groupings are the same partition. Rows without a key (their
    identity has no case row) are grouped on the strings, and ``cases`` always is (that is what
    makes an identity one case). Strings are grouped in binary collation: a
    connection's ``default_collation`` must not merge ``A`` and ``a``."""
    problems = []
    for table, rest in UNIQUE_KEYS.items():
        ident = ["system", "case_id", *rest]
        keyed_here = keyed and bool(rest) and "case_key" in table_columns(con, table)
        # the key columns, strings pinned to binary collation (the grouping follows the column's type)
        src = (f"(SELECT {', '.join(f'{_q(c)} {_BINARY} AS {_q(c)}' for c in ident)}"
               f"{', case_key' if keyed_here else ''} FROM {table}) t")
        cols = ", ".join(_q(c) for c in ident)
        if keyed_here and table == "case_attributes":
            from hitlgov import case_keys

            dupes = case_keys.duplicate_attributes(con, limit=limit)
        elif not keyed_here:
            dupes = con.execute(f"SELECT concat_ws('/', {cols}), count(*) FROM {src} GROUP BY {cols} "
                                "HAVING count(*) > 1 ORDER BY 1 LIMIT ?", [limit]).fetchall()
        else:
            more = ", ".join(_q(c) for c in rest)
            named = "concat_ws('/', c.system, c.case_id, " + ", ".join(f"d.{_q(c)}" for c in rest) + ")"
            # the duplicated keys (normally none), named by their case (one row per key in cases)
            dupes = con.execute(
                f"""WITH d AS (SELECT case_key, {more}, count(*) AS n FROM {src}
                               WHERE case_key IS NOT NULL GROUP BY case_key, {more} HAVING count(*) > 1)
                    SELECT {named}, d.n FROM d JOIN cases c ON c.case_key = d.case_key
                    UNION ALL
                    SELECT concat_ws('/', {cols}), count(*) FROM {src} WHERE case_key IS NULL
                    GROUP BY {cols} HAVING count(*) > 1
                    ORDER BY 1 LIMIT ?""", [limit]).fetchall()
        problems += [f"duplicate row in {table} ({n} copies): {k}" for k, n in dupes]
    return problems


def verify_store(con: duckdb.DuckDBPyConnection, *, limit: int = 10, since: list | None = None,
                 checkpoints: bool = True, upto: int | None = None, directory_required: bool = True) -> dict:
    """The chain, its checkpoints, then every stored row against the commitments.

    ``upto`` checks the store *as of* event ``upto`` (a report's checkpoint): only the runs
    committed by then are re-hashed, so rows appended later are not a mismatch, and the
    configuration is compared only if no later event committed a new one.
    Returns ``{"ok", "chain", "problems", "notes", "checkpoint"}``; never raises on a tampered
    store (a missing table is a problem, not a traceback)."""
    from hitlgov import checkpoint

    con.execute("SET enable_progress_bar = false")  # DuckDB's bar would garble verify's one-line output
    missing = _missing_tables(con)
    if missing:
        return {"ok": False, "chain": {"ok": False, "events": 0, "head": None, "broken_at": None,
                                       "problem": "tables missing"},
                "problems": [f"table {t} is missing from the store" for t in missing], "notes": [],
                "checkpoint": None}
    chain = verify_chain(con)
    problems: list[str] = []
    notes: list[str] = []
    if not chain["ok"]:
        problems.append(f"audit chain broken at event {chain['broken_at']}: {chain['problem']}")
    anchor = checkpoint.check(con, since=since, directory_required=directory_required) if checkpoints else {"problems": [], "notes": [], "latest": None}
    problems += anchor["problems"]
    notes += anchor["notes"]
    commits = _commitments(con, upto)
    legacy = [run for _s, run, d in commits if "merkle" not in d]
    if legacy:
        notes.append(f"ingestion run(s) {', '.join(map(str, legacy[:10]))} were stored by an older hitlgov without "
                     "row commitments: their rows are covered by the chain's older digests only")
    merkled = [c for c in commits if "merkle" in c[2]]
    problems += _check_rows(con, merkled, limit, as_of=upto is not None)
    problems += _check_runs(con, commits, as_of=upto is not None)
    last = _last_state(con)
    if upto is None or last is None or last[0] <= upto:
        problems += _check_state(con)
    records, record_notes = _check_records(con, limit, upto=upto)
    problems += records
    notes += record_notes
    from hitlgov import case_keys  # derived data (issue 16): keys and wide attributes agree with the record

    keys = case_keys.key_problems(con, limit=limit)
    keyed = not keys and "case_key" in table_columns(con, "cases")  # keys and identities agree one to one
    problems += _duplicates(con, limit, keyed=keyed)
    # (a changed record is the finding; the derived data then differs from it as a consequence)
    if not any(p.startswith(("cases:", "reviews:", "case_attributes:", "review_events:")) for p in problems):
        problems += keys + case_keys.wide_problems(con, limit=limit)
    return {"ok": not problems, "chain": chain, "problems": problems, "notes": notes,
            "checkpoint": anchor["latest"]}


def is_inplace(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store serves in-place Parquet (its ``cases`` is a view over registered files)."""
    rows = con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'cases' "
                       "AND table_schema = 'main'").fetchall()
    return bool(rows) and rows[0][0] == "VIEW"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def inplace_file_problems(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every served Parquet file against the size and SHA-256 recorded at registration: the
    metrics of an in-place store are only as good as its files being the registered ones."""
    problems = []
    for path, size, sha in con.execute("SELECT path, bytes, sha256 FROM inplace_files ORDER BY file_no").fetchall():
        p = Path(path)
        try:
            if not p.is_file():
                problems.append(f"file missing: {path}")
            elif p.stat().st_size != size or _file_sha256(p) != sha:
                problems.append(f"file changed since registration: {path}")
        except OSError as exc:
            problems.append(f"file unreadable: {path} ({exc.strerror or exc})")
    return problems


def verify(con: duckdb.DuckDBPyConnection, *, since: list | None = None, upto: int | None = None,
           directory_required: bool = True) -> dict:
    """``hitlgov verify`` on any store: a copied store's rows against their commitments, an
    in-place store's files against their registered hashes; the chain and checkpoints for both."""
    from hitlgov import checkpoint

    if not is_inplace(con):
        return verify_store(con, since=since, upto=upto, directory_required=directory_required)
    chain = verify_chain(con)
    problems: list[str] = []
    if not chain["ok"]:
        problems.append(f"audit chain broken at event {chain['broken_at']}: {chain['problem']}")
    anchor = checkpoint.check(con, since=since, directory_required=directory_required)
    problems += anchor["problems"] + verify_configuration(con) + inplace_file_problems(con)
    return {"ok": not problems, "chain": chain, "problems": problems, "notes": anchor["notes"],
            "checkpoint": anchor["latest"]}


def quick_check(con: duckdb.DuckDBPyConnection, *, limit: int = 5) -> list[str]:
    """What must hold before any figure is computed, at the cost of one aggregation per table:
    no duplicated keys (the metrics assume them unique) and, in place, the registered files.
    ``hitlgov metrics`` refuses on a problem; reports run the full :func:`verify`."""
    try:
        if is_inplace(con):
            return inplace_file_problems(con)
        return _duplicates(con, limit)
    except duckdb.Error as exc:
        return [f"the store cannot be checked: {str(exc).splitlines()[0]}"]


def record_event(db: str | Path | None, *, kind: str, subject: str | None = None, detail=None,
                 actor: str | None = None) -> str:
    """Append one event with a short write connection (for the read-only app and reports)."""
    from hitlgov import store

    with store.connect(db) as con, store.transaction(con):
        digest = append_event(con, kind=kind, subject=subject, detail=detail, actor=actor)
    return digest


def record_policy_use(db: str | Path | None, *, sha256: str, source: str, name: str,
                      actor: str | None = None) -> bool:
    """Append ``policy_changed`` when the store is evaluated under a policy whose content differs
    from the last one recorded (the first evaluation counts as a change from none).

    Findings are only as meaningful as their thresholds: an auditor must be able to see when the
    thresholds moved and from what to what. Returns whether an event was appended.
    """
    from hitlgov import store

    with store.connect(db) as con, store.transaction(con):
        last = con.execute(
            "SELECT json_extract_string(detail, '$.sha256') FROM audit_events WHERE kind = 'policy_changed' "
            "ORDER BY seq DESC LIMIT 1").fetchall()
        previous = last[0][0] if last else None
        changed = previous != sha256
        if changed:
            append_event(con, kind="policy_changed", subject=source, actor=actor,
                         detail={"name": name, "source": source, "sha256": sha256, "previous_sha256": previous})
    return changed
