"""The reviewer register (EU AI Act Art. 26(2)): who may review, with what authority and training.

Art. 26(2) asks deployers to assign human oversight to people "who have the necessary
competence, training and authority". The register is a CSV or YAML file kept by the deployer,
one row per **training record** (a reviewer who renewed a course has several rows)::

    reviewer_id,name,role,authority,training,training_completed,training_expires,systems
    r1,Ana,credit analyst,override,HITL oversight 2026,2026-01-10,2027-01-09,consumer-credit

``reviewer_id``, ``role``, ``authority``, ``training_completed`` and ``training_expires``
(dates, ``YYYY-MM-DD``, the expiry day inclusive) are required; ``systems`` (separated by ``;``
or ``,`` inside the cell; YAML: a list) limits the record to those systems, empty = every
system. The YAML form is ``reviewers:`` followed by a list of mappings with the same keys.

Why it is strict where a log is lenient: a log row in error is quarantined and the rest is
still evidence, but a register with a row missing would make its reviewer count as untrained.
A file with any bad row is therefore refused as a whole, with a one-line error naming the file,
row and field (and how many rows are bad), and nothing stored changes. Every load is a new
version of the register (older versions are kept, the metrics read the latest), with its file's
SHA-256 in ``reviewer_register_loads`` and a ``reviewer_register_loaded`` audit event.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from hitlgov import audit, store
from hitlgov.errors import HitlgovError
from hitlgov.oversight import EARLIEST, LATEST

REQUIRED = ("reviewer_id", "role", "authority", "training_completed", "training_expires")
OPTIONAL = ("name", "training", "systems")
COLUMNS = REQUIRED + OPTIONAL
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_FIELD = 1_000


@dataclass(frozen=True)
class LoadResult:
    file: str
    sha256: str
    version: int
    rows_read: int
    reviewers: int
    duplicates: int

    def as_json(self) -> dict:
        return dict(self.__dict__)


def _read_bytes(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError as exc:
        raise HitlgovError(f"{path}: cannot read reviewer register ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise HitlgovError(f"{path}: not a regular file (a reviewer register must be a CSV or YAML file)")
    if info.st_size > MAX_BYTES:
        raise HitlgovError(f"{path}: {info.st_size:,} bytes; a reviewer register may be at most {MAX_BYTES:,}")
    with path.open("rb") as fh:
        return fh.read(MAX_BYTES + 1)


def _records(path: Path, data: bytes) -> list[tuple[int, dict]]:
    """(row number, raw record): CSV data rows from 1 after the header; YAML list items from 1."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HitlgovError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise HitlgovError(f"{path}: binary data, not a CSV or YAML reviewer register")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            # a register has no use for aliases, and an alias bomb expands a small file into gigabytes
            if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
                raise HitlgovError(f"{path}: YAML aliases (*name) are not allowed in a reviewer register")
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise HitlgovError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        items = doc.get("reviewers") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise HitlgovError(f"{path}: expected a top-level 'reviewers:' list")
        out = []
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise HitlgovError(f"{path} row {i}: expected a mapping of {', '.join(REQUIRED)}")
            out.append((i, item))
        return out
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise HitlgovError(f"{path}: the header lacks {', '.join(missing)} (a reviewer register needs "
                               f"{', '.join(REQUIRED)})")
        unknown = [c for c in header if c not in COLUMNS]
        if unknown:
            raise HitlgovError(f"{path}: unknown column {unknown[0]!r} (allowed: {', '.join(COLUMNS)})")
        out = []
        for i, row in enumerate(reader, 1):
            if None in row:
                raise HitlgovError(f"{path} row {i}: more fields than the header has")
            out.append((i, row))
            if len(out) > MAX_ROWS:
                raise HitlgovError(f"{path}: more than {MAX_ROWS:,} rows")
        return out
    except csv.Error as exc:
        raise HitlgovError(f"{path} row {reader.line_num}: the CSV cannot be split ({exc})") from None


def _date(value, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip() if value is not None else ""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST <= day <= LATEST:
        raise ValueError(f"{field}: {day} is not between {EARLIEST.year} and {LATEST.year}")
    return day


def _text(value, field: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"{field}: empty (required)")
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{field}: expected text")
    text = " ".join(str(value).split())
    if len(text) > MAX_FIELD:
        raise ValueError(f"{field}: longer than {MAX_FIELD:,} characters")
    return text


def _row(raw: dict) -> tuple:
    unknown = [k for k in raw if k not in COLUMNS]
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field (allowed: {', '.join(COLUMNS)})")
    reviewer = _text(raw.get("reviewer_id"), "reviewer_id", required=True)
    completed = _date(raw.get("training_completed"), "training_completed")
    expires = _date(raw.get("training_expires"), "training_expires")
    if expires < completed:
        raise ValueError(f"training_expires: {expires} is before training_completed {completed}")
    systems = raw.get("systems")
    if isinstance(systems, list):
        systems = [_text(s, "systems", required=True) for s in systems]
    else:
        text = _text(systems, "systems", required=False)
        systems = [s.strip() for s in text.replace(";", ",").split(",") if s.strip()] if text else []
    return (reviewer, _text(raw.get("name"), "name", required=False), _text(raw.get("role"), "role", required=True),
            _text(raw.get("authority"), "authority", required=True),
            _text(raw.get("training"), "training", required=False), completed, expires, tuple(sorted(set(systems))))


def load_register(db, path: str | Path, *, actor: str | None = None) -> LoadResult:
    """Validate the whole file, then store it as the register's next version (one transaction)."""
    path = Path(path)
    data = _read_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    records = _records(path, data)
    if not records:
        raise HitlgovError(f"{path}: no reviewers in the register")
    rows, errors, seen = [], [], set()
    for number, raw in records:
        try:
            row = _row(raw)
        except ValueError as exc:
            errors.append(f"{path} row {number}, {exc}")
            continue
        if row in seen:
            continue
        seen.add(row)
        rows.append((number, row))
    if errors:
        more = f" ({len(errors)} rows with errors; nothing was loaded)" if len(errors) > 1 else " (nothing was loaded)"
        raise HitlgovError(errors[0] + more)
    reviewers = len({r[0] for _, r in rows})
    with store.connect(db) as con, store.transaction(con):
        version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM reviewer_register_loads").fetchall()[0][0]
        con.executemany("INSERT INTO reviewer_register VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [[version, *r[:7], list(r[7]), n] for n, r in rows])
        con.execute("INSERT INTO reviewer_register_loads VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
                    [version, str(path), sha, len(records), reviewers, actor])
        audit.append_event(con, kind="reviewer_register_loaded", subject=str(path), actor=actor, detail={
            "version": version, "sha256": sha, "rows_read": len(records), "records": len(rows),
            "reviewers": reviewers,
            "rows": audit.record_rows(con, [("reviewer_register", "version = ?", [version]),
                                            ("reviewer_register_loads", "version = ?", [version])])})
    return LoadResult(str(path), sha, version, len(records), reviewers, len(records) - len(rows))
