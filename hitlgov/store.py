"""The DuckDB store: where it lives, how to open it, and its versioned schema.

Why this shape:

* A case's model fields are stored once (``cases``) however many reviews it has
  (``reviews``); free-form case attributes live in a long table (``case_attributes``) so a new
  column in a deployment's log never needs a schema change.
* DuckDB lets one process write *or* several processes read a file. The dashboard and reports
  therefore open short-lived read-only connections, ingestion keeps its write transactions short
  (one per file), and both retry for a while when the other holds the lock, then fail with a
  one-line message instead of a stack trace.
* The schema is created and upgraded by the code: ``schema_version`` records each applied
  migration; :data:`MIGRATIONS` only ever grows (forward-only).
"""
from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from hitlgov.errors import HitlgovError, StoreLockedError

DEFAULT_DB = "hitlgov.duckdb"
ENV_DB = "HITLGOV_DB"

# Each entry upgrades the schema from version i to i+1. Never edit a released entry: append.
# An entry is SQL, or a function of the connection for a step whose SQL depends on the data (the
# wide attribute table of migration 9 has one column per attribute the store already holds).
MIGRATIONS: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    # 1: the canonical store
    """
    CREATE TABLE ingestion_runs (
        run_id        BIGINT PRIMARY KEY,
        file          VARCHAR NOT NULL,
        sha256        VARCHAR,
        format        VARCHAR,
        options       JSON,
        rows_read     BIGINT,
        stored        BIGINT,
        duplicates    BIGINT,
        quarantined   BIGINT,
        started_at    TIMESTAMP NOT NULL,
        finished_at   TIMESTAMP
    );
    CREATE TABLE systems (
        system         VARCHAR PRIMARY KEY,
        positive_label VARCHAR,
        label_order    VARCHAR[]
    );
    CREATE TABLE attribute_roles (
        system VARCHAR NOT NULL,
        name   VARCHAR NOT NULL,
        role   VARCHAR NOT NULL CHECK (role IN ('sensitive', 'feature')),
        PRIMARY KEY (system, name, role)
    );
    CREATE TABLE cases (
        system         VARCHAR NOT NULL,
        case_id        VARCHAR NOT NULL,
        ts             TIMESTAMP NOT NULL,
        model_version  VARCHAR,
        model_decision VARCHAR NOT NULL,
        model_score    DOUBLE,
        final_decision VARCHAR,
        outcome        VARCHAR,
        run_id         BIGINT NOT NULL,
        source_row     BIGINT
    );
    CREATE TABLE reviews (
        system              VARCHAR NOT NULL,
        case_id             VARCHAR NOT NULL,
        reviewer_id         VARCHAR NOT NULL,
        human_decision      VARCHAR NOT NULL,
        review_started_at   TIMESTAMP,
        review_completed_at TIMESTAMP,
        review_seconds      DOUBLE,
        escalated           BOOLEAN,
        rationale           VARCHAR,
        run_id              BIGINT NOT NULL,
        source_row          BIGINT
    );
    CREATE TABLE case_attributes (
        system  VARCHAR NOT NULL,
        case_id VARCHAR NOT NULL,
        name    VARCHAR NOT NULL,
        value   VARCHAR,
        run_id  BIGINT NOT NULL
    );
    CREATE TABLE quarantine (
        run_id     BIGINT NOT NULL,
        file       VARCHAR NOT NULL,
        row_number BIGINT,
        field      VARCHAR,
        reason     VARCHAR NOT NULL,
        raw        VARCHAR
    );
    CREATE TABLE audit_events (
        seq       BIGINT PRIMARY KEY,
        event_at  TIMESTAMP NOT NULL,
        kind      VARCHAR NOT NULL,
        actor     VARCHAR,
        subject   VARCHAR,
        detail    JSON,
        prev_hash VARCHAR,
        hash      VARCHAR
    );
    """,
    # 2 (issue 12): a case from an annotation-only source (a labelling tool export with no
    # prediction) is stored with no model decision instead of being quarantined
    """
    ALTER TABLE cases ALTER COLUMN model_decision DROP NOT NULL;
    """,
    # 3 (issue 12): review-stage events -- a second person accepting or rejecting a stored
    # review (Label Studio Enterprise reviews[]); reviewer_id is the reviewed annotator
    """
    CREATE TABLE review_events (
        system      VARCHAR NOT NULL,
        case_id     VARCHAR NOT NULL,
        reviewer_id VARCHAR NOT NULL,
        reviewed_by VARCHAR,
        accepted    BOOLEAN,
        reviewed_at TIMESTAMP,
        event_id    VARCHAR,
        run_id      BIGINT NOT NULL,
        source_row  BIGINT
    );
    """,
    # 4: continuous oversight (issue 18): the monitor's findings history, alert deliveries,
    # the incident register (Art. 73), remediation of findings, sign-off of reports,
    # the reviewer register (Art. 26(2))
    """
    CREATE TABLE findings_history (
        monitor_run   VARCHAR NOT NULL,
        evaluated_at  TIMESTAMP NOT NULL,
        system        VARCHAR NOT NULL,
        window_from   DATE,
        window_to     DATE,
        metric        VARCHAR NOT NULL,
        status        VARCHAR NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'not_evaluated')),
        point_status  VARCHAR,
        value         DOUBLE,
        threshold     DOUBLE,
        method        VARCHAR NOT NULL,
        successes     BIGINT,
        trials        BIGINT,
        e_value       DOUBLE,
        policy_sha256 VARCHAR
    );
    CREATE TABLE alert_deliveries (
        monitor_run  VARCHAR NOT NULL,
        channel      VARCHAR NOT NULL,
        target       VARCHAR NOT NULL,
        attempts     INTEGER NOT NULL,
        delivered    BOOLEAN NOT NULL,
        error        VARCHAR,
        changes      INTEGER NOT NULL,
        finished_at  TIMESTAMP NOT NULL
    );
    CREATE TABLE incidents (
        incident_id  VARCHAR PRIMARY KEY,
        system       VARCHAR,
        category     VARCHAR NOT NULL,
        aware_at     TIMESTAMP NOT NULL,
        aware_zone   VARCHAR NOT NULL,
        deadline_at  TIMESTAMP NOT NULL,
        title        VARCHAR NOT NULL,
        description  VARCHAR,
        linked_cases VARCHAR[],
        recorded_by  VARCHAR,
        recorded_at  TIMESTAMP NOT NULL,
        reported_at  TIMESTAMP
    );
    CREATE TABLE remediation (
        item_id     VARCHAR PRIMARY KEY,
        system      VARCHAR NOT NULL,
        metric      VARCHAR NOT NULL,
        owner       VARCHAR NOT NULL,
        due         DATE NOT NULL,
        note        VARCHAR,
        state       VARCHAR NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        created_by  VARCHAR,
        created_at  TIMESTAMP NOT NULL,
        updated_at  TIMESTAMP NOT NULL,
        resolution  VARCHAR
    );
    CREATE TABLE reviewer_register (
        version            BIGINT NOT NULL,
        reviewer_id        VARCHAR NOT NULL,
        name               VARCHAR,
        role               VARCHAR NOT NULL,
        authority          VARCHAR NOT NULL,
        training           VARCHAR,
        training_completed DATE NOT NULL,
        training_expires   DATE NOT NULL,
        systems            VARCHAR[],
        source_row         BIGINT
    );
    CREATE TABLE attestations (
        attestation_id  VARCHAR PRIMARY KEY,
        report_file     VARCHAR NOT NULL,
        file_sha256     VARCHAR NOT NULL,
        evidence_digest VARCHAR NOT NULL,
        system          VARCHAR,
        period_from     DATE,
        period_to       DATE,
        name            VARCHAR NOT NULL,
        role            VARCHAR NOT NULL,
        statement       VARCHAR NOT NULL,
        signed_at       TIMESTAMP NOT NULL,
        actor           VARCHAR
    );
    CREATE TABLE reviewer_register_loads (
        version   BIGINT PRIMARY KEY,
        file      VARCHAR NOT NULL,
        sha256    VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        reviewers BIGINT NOT NULL,
        loaded_at TIMESTAMP NOT NULL,
        loaded_by VARCHAR
    );
    """,
    # 5: reliance evidence (issue 17): optional canonical fields, NULL on every stored row
    """
    ALTER TABLE cases ADD COLUMN canary BOOLEAN;
    ALTER TABLE cases ADD COLUMN audit_sample BOOLEAN;
    ALTER TABLE cases ADD COLUMN audit_probability DOUBLE;
    ALTER TABLE reviews ADD COLUMN human_initial_decision VARCHAR;
    """,
    # 6 (issue 13): local accounts for sites without an identity provider (hitlgov.accounts): Argon2id hashes
    # only, never a password; a disabled account is kept (its name stays in the audit trail).
    """
    CREATE TABLE users (
        name          VARCHAR PRIMARY KEY,
        role          VARCHAR NOT NULL CHECK (role IN ('executive', 'compliance', 'auditor', 'data_steward', 'admin')),
        password_hash VARCHAR NOT NULL,
        disabled      BOOLEAN NOT NULL DEFAULT false,
        created_at    TIMESTAMP NOT NULL,
        updated_at    TIMESTAMP NOT NULL
    );
    """,
    # 7 (issue 13): the row hashes (Merkle leaves) each ingestion run committed to (hitlgov.audit)
    """
    CREATE TABLE audit_leaves (
        run_id  BIGINT NOT NULL,
        tbl     VARCHAR NOT NULL,
        idx     BIGINT NOT NULL,
        row_key VARCHAR NOT NULL,
        leaf    VARCHAR NOT NULL
    );
    """,
    # 8 (issue 15): the favourable label, apart from the positive one. The positive label is what
    # selection rate and FPR/FNR are defined on; the favourable label is the outcome that benefits
    # the person decided about, and the four-fifths rule and impact ratios use its rate. They
    # differ in risk scoring (COMPAS: positive `high`, favourable `low`). NULL = the positive
    # label is the favourable one (credit: `approve`), so stores upgraded from 7 keep their numbers.
    """
    ALTER TABLE systems ADD COLUMN favourable_label VARCHAR;
    """,
]


def _migration_9(con: duckdb.DuckDBPyConnection) -> None:
    """9 (issue 16): integer case keys and attributes served wide (:mod:`hitlgov.case_keys`)."""
    from hitlgov import case_keys

    case_keys.upgrade(con)


MIGRATIONS.append(_migration_9)

SCHEMA_VERSION = len(MIGRATIONS)
_LOCK_PATTERN = re.compile(r"(Could not set lock|Conflicting lock|different configuration)", re.I)


def resolve_db(path: str | os.PathLike | None = None) -> Path:
    """``--db`` beats ``$HITLGOV_DB`` beats ``./hitlgov.duckdb``."""
    return Path(path or os.environ.get(ENV_DB) or DEFAULT_DB)


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    # Naive timestamps in logs are read as UTC; results must not depend on the host's zone.
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB takes up to 80% of RAM by default and spills beyond its limit; on a shared or small
    # machine $HITLGOV_MEMORY_LIMIT (e.g. "4GB") caps it for ingestion, metrics and the dashboard.
    limit = _memory_limit_override()
    if limit:
        try:
            con.execute("SET memory_limit = ?", [limit])
        except duckdb.Error as exc:
            con.close()
            raise HitlgovError(f"HITLGOV_MEMORY_LIMIT={limit!r} is not a memory size DuckDB accepts "
                               f"(e.g. 4GB, 500MB): {str(exc).splitlines()[0]}") from exc
    return con


#: DuckDB's memory cap while ingesting, when $HITLGOV_MEMORY_LIMIT is not set. DuckDB's own
#: default (80% of RAM) let a 10M-row ingestion grow to 20 GB: every step of ingestion is a join,
#: aggregate or sort that DuckDB spills to disk beyond its limit, so a cap costs some speed and
#: no failure (bench/RESULTS.md, "Ingestion memory"). Metrics and the dashboard keep DuckDB's
#: default: their working sets are small aggregates.
INGEST_MEMORY_LIMIT = "1GB"


def _memory_limit_override() -> str:
    """$HITLGOV_MEMORY_LIMIT, the operator's cap for every connection ('' when unset): when set,
    it replaces ingestion's own cap too."""
    return os.environ.get("HITLGOV_MEMORY_LIMIT", "").strip()


def open_scratch(path: Path) -> duckdb.DuckDBPyConnection:
    """A private working database (ingestion's staging area): the store's settings (UTC, memory
    limit -- ingestion's cap unless $HITLGOV_MEMORY_LIMIT says otherwise), none of its schema,
    and no lock on the store."""
    con = _open(Path(path), read_only=False)
    if not _memory_limit_override():
        con.execute("SET memory_limit = ?", [INGEST_MEMORY_LIMIT])
    return con


@contextmanager
def ingestion_memory(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Ingestion's memory cap on the store's connection for the duration of a commit (see
    :data:`INGEST_MEMORY_LIMIT`); DuckDB's default again afterwards."""
    if _memory_limit_override():
        yield
        return
    con.execute("SET memory_limit = ?", [INGEST_MEMORY_LIMIT])
    try:
        yield
    finally:
        con.execute("RESET memory_limit")


@contextmanager
def connect(
    path: str | os.PathLike | None = None, *, read_only: bool = False, wait_seconds: float = 10.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store, creating/upgrading the schema on a read-write open.

    Retries while another process holds the file's lock (ingestion writing, or a reader
    open while we want to write) and raises :class:`StoreLockedError` after ``wait_seconds``.
    """
    db = resolve_db(path)
    if read_only and not db.exists():
        raise HitlgovError(f"{db}: no store here yet (run `hitlgov ingest` or `make demo` first)")
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            con = _open(db, read_only)
            break
        except duckdb.Error as exc:  # lock held elsewhere, or file is not a DuckDB database
            msg = str(exc)
            if not _LOCK_PATTERN.search(msg):
                raise HitlgovError(f"{db}: cannot open the store: {msg.splitlines()[0]}") from exc
            if time.monotonic() >= deadline:
                holder = re.search(r"PID (\d+)", msg)
                who = f" by process {holder.group(1)}" if holder else ""
                raise StoreLockedError(
                    f"{db}: the store is locked{who} (an ingestion or another writer is running); "
                    f"retry when it finishes"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        if not read_only:
            migrate(con)
        else:
            _check_version(con, db)
        yield con
        if not read_only:  # events appended outside a transaction (autocommit) get their checkpoint too
            from hitlgov import audit

            audit.checkpoint_if_pending(con)
    finally:
        if not read_only:
            from hitlgov import audit

            audit.discard_pending(con)
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One all-or-nothing unit of work: committed when the block ends, rolled back on any exception
    (KeyboardInterrupt included), so a store is left as it was or with the whole change."""
    from hitlgov import audit

    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        audit.discard_pending(con)
        raise
    con.execute("COMMIT")
    # the audit head is signed and written outside the store only once it is committed
    audit.checkpoint_if_pending(con)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def migrate(con: duckdb.DuckDBPyConnection, *, to: int | None = None) -> int:
    """Apply the migrations this store has not seen yet, each in its own transaction.

    ``to`` stops at that version: a store as an older release left it (the upgrade tests build
    the demo store at version 7 this way, then open it with this release)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise HitlgovError(
            f"store schema version {version} is newer than this hitlgov ({SCHEMA_VERSION}): upgrade hitlgov"
        )
    last = SCHEMA_VERSION if to is None else min(int(to), SCHEMA_VERSION)
    for number in range(version + 1, last + 1):
        with transaction(con):
            recommit = number in STATE_COLUMNS_ADDED and _state_matches_its_commitment(con)
            step = MIGRATIONS[number - 1]
            if callable(step):
                step(con)
            else:
                con.execute(step)
            con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [number])
            if recommit:
                from hitlgov import audit

                audit.commit_state(con, reason=f"schema migration {number}", actor="hitlgov migrate")
    return max(version, last)


#: migrations that add a column to a configuration table the audit trail commits to as a whole
#: (``systems``): every row's leaf hash then includes the new, empty column, so the state is
#: committed again -- but only when it matched its last commitment before the migration, so a
#: migration never launders a change made behind the audit trail's back.
STATE_COLUMNS_ADDED = {8}


def _state_matches_its_commitment(con: duckdb.DuckDBPyConnection) -> bool:
    from hitlgov import audit

    has_events = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'audit_events'"
                             ).fetchall()[0][0]
    if not has_events:
        return False
    last = audit._last_state(con)
    return last is not None and last[1] == audit.state_commitment(con)


def _check_version(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    version = current_version(con)
    if version == 0:
        raise HitlgovError(f"{db}: not a hitlgov store (no schema_version table)")
    if version != SCHEMA_VERSION:
        raise HitlgovError(
            f"{db}: store schema version {version}, this hitlgov expects {SCHEMA_VERSION}: "
            f"run `hitlgov migrate`"
        )
