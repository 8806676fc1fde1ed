"""Which ingestions are running on a store right now, so readers can say so.

Ingestion stages a file outside the store and takes the write lock only to commit
(:mod:`hitlgov.ingest.service`), so ``status`` and the dashboard keep answering while a large file
is read. They should also *say* that what they show is the data as of the last committed run and
that more is on its way -- otherwise a compliance officer reads yesterday's figures as today's.

How a reader knows, without touching the store: every running ingestion keeps one small JSON
file in ``<store>.ingesting/`` (file, stage, start time, process id) and holds an exclusive
``flock`` on it for as long as it runs. The kernel releases the lock when the process ends, however
it ends (``kill -9`` included), so a reader treats an unlocked marker as stale and removes it: a
crashed ingestion never leaves a dashboard saying "in progress" forever. Stage changes replace the
file atomically (write a locked temporary file, rename it over the old one), so a reader never sees
half a record.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no marker, readers see nothing running
    fcntl = None

SUFFIX = ".ingesting"


def marker_dir(db: str | os.PathLike) -> Path:
    """The folder of a store's running-ingestion markers (beside the store file)."""
    db = Path(db)
    return db.with_name(db.name + SUFFIX)


class Marker:
    """One running ingestion's record; :meth:`stage` updates what it is doing."""

    def __init__(self, folder: Path, record: dict):
        self.folder = folder
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}.json"
        self.record = dict(record)
        self._fd: int | None = None

    def _write(self) -> None:
        """Write the record into a new locked file and rename it into place (atomic for readers)."""
        tmp = self.folder / f".{self.name}.{uuid.uuid4().hex[:6]}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a fresh inode: no one else can hold it
            os.write(fd, json.dumps(self.record).encode())
            os.replace(tmp, self.folder / self.name)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)

    def stage(self, stage: str) -> None:
        if self._fd is None or self.record.get("stage") == stage:
            return
        self.record["stage"] = stage
        try:
            self._write()
        except OSError:  # the marker is a courtesy to readers: never fail an ingestion over it
            pass

    def open(self) -> None:
        try:
            self.folder.mkdir(exist_ok=True)
            _remove_stale(self.folder)
            self._write()
        except OSError:
            self._fd = None

    def close(self) -> None:
        if self._fd is None:
            return
        (self.folder / self.name).unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
        try:
            self.folder.rmdir()  # only when no other ingestion is running
        except OSError:
            pass


@contextmanager
def running(db: str | os.PathLike, *, file: str | os.PathLike, job: str | None = None) -> Iterator[Marker]:
    """Mark an ingestion of ``file`` into ``db`` as running for the duration of the block."""
    record = {"file": str(file), "stage": "starting", "pid": os.getpid(), "job": job,
              "started_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")}
    marker = Marker(marker_dir(db), record)
    if fcntl is not None:
        marker.open()
    try:
        yield marker
    finally:
        marker.close()


def in_progress(db: str | os.PathLike) -> list[dict]:
    """The ingestions running on ``db`` now (oldest first): ``{file, stage, started_at, pid, job}``.

    Markers whose process has ended (their lock is free) are stale: removed, not reported.
    Never raises: a reader that cannot tell reports nothing running.
    """
    folder = marker_dir(db)
    if fcntl is None or not folder.is_dir():
        return []
    live = []
    try:
        names = sorted(p for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))
    except OSError:
        return []
    for path in names:
        record = _read_if_held(path)
        if record is not None:
            live.append(record)
    return sorted(live, key=lambda r: (str(r.get("started_at")), str(r.get("file"))))


def _read_if_held(path: Path) -> dict | None:
    """The marker's record if its owner holds the lock, else None (stale, gone or unreadable)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # finished meanwhile
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: the ingestion is running
            record = json.loads(os.read(fd, 1 << 16) or b"{}")
            return record if isinstance(record, dict) and record.get("file") else None
        return None
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _remove_stale(folder: Path) -> None:
    """Remove markers left by ingestions that ended without closing them (``kill -9``).

    Only a writer does this, and only for a file whose lock it can take and whose name still
    points to the inode it locked (a stage change replaces the file under the same name)."""
    for path in folder.glob("*.json"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                path.unlink()
        except OSError:  # held (live), or gone meanwhile
            pass
        finally:
            os.close(fd)


def describe(records: list[dict]) -> str:
    """One line for people: ``ingestion in progress: FILE (STAGE, started ... UTC)``."""
    if not records:
        return ""
    parts = [f"{Path(r['file']).name} ({r.get('stage') or 'starting'}, started {str(r.get('started_at', ''))[:16].replace('T', ' ')} UTC)"
             for r in records]
    return ("ingestion in progress: " if len(parts) == 1 else f"{len(parts)} ingestions in progress: ") + "; ".join(parts)
