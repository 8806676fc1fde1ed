"""Upload jobs: the dashboard's uploads are ingested in a separate process, not in the request.

Why a process and not the request (or a thread of the server): a hostile upload may ask for a lot
of memory or time (limits bound it, but a 2 GB honest file still takes a while), and the page must
stay responsive, show progress, and survive a reload. A subprocess cannot take the server down
with it, and its state lives on disk, where any session (or a reloaded page) finds it.

A job is a folder of records beside the store (``<store folder>/uploads/jobs/``):

* ``<id>.json`` -- the job record: ``state`` (``running``, ``done``, ``failed``), the file's
  name, the stage, the result counts (``ingest --json``'s object) or the one-line error;
  replaced atomically on every change;
* ``<id>.lock`` -- locked (``flock``) by the worker for as long as it lives. The server takes the
  lock *before* starting the worker and hands the locked descriptor down, so there is no moment
  when a starting job looks dead; when the worker ends, however it ends, the kernel releases it.
  A record that says ``running`` with a free lock belongs to a worker that died (server restart,
  ``kill -9``): it reads as failed, and its upload is removed (the store is unchanged: each file is
  one transaction).

One upload at a time per store: :func:`start` refuses a second while one is running (checked under
a lock, so two sessions clicking at once cannot both start). On failure the worker deletes the
uploaded file: ``uploads/`` keeps evidence of ingested files only.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from hitlgov.errors import HitlgovError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

ENV_LOCK_FD = "HITLGOV_JOB_LOCK_FD"


class UploadBusy(HitlgovError):
    """Another upload is being ingested into this store."""


def jobs_dir(db: str | os.PathLike) -> Path:
    return Path(db).resolve().parent / "uploads" / "jobs"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")


def _write(path: Path, record: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _alive(lock: Path) -> bool:
    """Whether the job's worker still holds its lock."""
    if fcntl is None:
        return False
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def read(db: str | os.PathLike, job_id: str) -> dict | None:
    """The job's record, with ``state`` corrected for a worker that died (and its upload removed)."""
    folder = jobs_dir(db)
    if not job_id or not all(c.isalnum() or c == "-" for c in job_id):
        return None
    try:
        record = json.loads((folder / f"{job_id}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("state") == "running" and not _alive(folder / f"{job_id}.lock"):
        committed = _committed_run(record)
        if committed is not None:  # it died after its commit, before recording the result
            record.update(state="done", stage="done", finished_at=_now(), result={
                "file": record.get("path"), "sha256": committed[1], "rows_read": committed[2], "stored": committed[3],
                "duplicates": committed[4], "quarantined": committed[5], "seconds": 0.0})
        else:
            record.update(state="failed", finished_at=_now(),
                          error="the ingestion stopped unexpectedly (the server restarted or its process was ended); "
                                "nothing was stored from this file: upload it again")
            if record.get("path"):
                Path(record["path"]).unlink(missing_ok=True)
        try:
            _write(folder / f"{job_id}.json", record)
        except OSError:
            pass
    return record


def _committed_run(record: dict) -> tuple | None:
    """The store's ingestion run of this job's upload, if its worker committed before it died."""
    from hitlgov import store

    if not record.get("db") or not record.get("path"):
        return None
    try:
        with store.connect(record["db"], read_only=True, wait_seconds=2) as con:
            rows = con.execute("SELECT run_id, sha256, rows_read, stored, duplicates, quarantined FROM ingestion_runs "
                               "WHERE file = ? ORDER BY run_id DESC LIMIT 1", [record["path"]]).fetchall()
    except Exception:  # noqa: BLE001 - cannot tell (store locked or gone): treated as not committed
        return None
    return rows[0] if rows else None


def latest(db: str | os.PathLike) -> dict | None:
    """The most recent upload job of this store (what a reloaded Data page shows), or None."""
    folder = jobs_dir(db)
    try:
        names = sorted((p for p in folder.glob("*.json") if not p.name.startswith(".")), key=lambda p: p.name)
    except OSError:
        return None
    for path in reversed(names):  # ids start with a UTC timestamp: the name order is the time order
        record = read(db, path.stem)
        if record is not None:
            return record
    return None


def running_job(db: str | os.PathLike) -> dict | None:
    folder = jobs_dir(db)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        record = read(db, path.stem)
        if record is not None and record.get("state") == "running":
            return record
    return None


def check_idle(db: str | os.PathLike) -> None:
    """Raise :class:`UploadBusy` (one line, naming the running upload) while one is being ingested."""
    busy = running_job(db)
    if busy is not None:
        raise UploadBusy(f"another upload ({busy.get('name')}, started {str(busy.get('started_at'))[:16].replace('T', ' ')} "
                         "UTC) is being ingested into this store; wait until it has finished, then upload again")


def start(db: str | os.PathLike, upload: Path, *, name: str, mapping_file: Path | None = None,
          overrides: dict | None = None, actor: str | None = None) -> str:
    """Start ingesting ``upload`` (already on disk) into ``db`` in a worker process; return the job id.

    Raises :class:`UploadBusy` (one line) when another upload is being ingested into this store;
    the caller's upload is then not started (and the caller removes it)."""
    if fcntl is None:  # pragma: no cover
        raise HitlgovError("background ingestion needs a POSIX system (fcntl)")
    folder = jobs_dir(db)
    folder.mkdir(parents=True, exist_ok=True)
    gate = os.open(folder / ".start.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)  # one session at a time checks and starts
        check_idle(db)
        job_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f") + "-" + uuid.uuid4().hex[:8]
        lock_fd = os.open(folder / f"{job_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            record = {"id": job_id, "state": "running", "stage": "starting", "name": name, "path": str(upload),
                      "db": str(Path(db).resolve()), "mapping_file": str(mapping_file) if mapping_file else None,
                      "overrides": overrides or {}, "actor": actor, "started_at": _now(), "finished_at": None,
                      "result": None, "error": None}
            _write(folder / f"{job_id}.json", record)
            env = {**os.environ, ENV_LOCK_FD: str(lock_fd)}
            try:
                subprocess.Popen([sys.executable, "-m", "hitlgov.ingest.jobs", str(folder / f"{job_id}.json")],
                                 pass_fds=(lock_fd,), env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            except OSError as exc:
                (folder / f"{job_id}.json").unlink(missing_ok=True)
                raise HitlgovError(f"cannot start the ingestion ({exc.strerror})") from None
        finally:
            os.close(lock_fd)  # the worker holds its own copy of the locked descriptor
        return job_id
    finally:
        os.close(gate)


def run(record_path: Path) -> int:
    """The worker: ingest the job's file through the one entry point and record the outcome."""
    from hitlgov import actor as actors
    from hitlgov.ingest.service import ingest_files
    from hitlgov.mapping import load_mapping

    record = json.loads(record_path.read_text())
    upload = Path(record["path"])

    def update(**changes) -> None:
        record.update(changes)
        _write(record_path, record)

    def step(_path, stage: str) -> None:
        update(stage=stage)

    try:
        o = record.get("overrides") or {}
        mapping = load_mapping(Path(record["mapping_file"]) if record.get("mapping_file") else None).with_overrides(
            system=o.get("system"), sensitive=o.get("sensitive"), features=o.get("features"),
            positive_label=o.get("positive_label"))
        with actors.acting_as(record.get("actor") or actors.os_user()):
            [result] = ingest_files(record["db"], [upload], mapping=mapping, progress=step, job=record["id"])
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, one line, and cleaned up
        upload.unlink(missing_ok=True)
        message = str(exc) if isinstance(exc, HitlgovError) else f"unexpected error: {type(exc).__name__}: {exc}"
        update(state="failed", error=" ".join(message.split()), finished_at=_now())
        return 1
    finally:
        if record.get("mapping_file"):
            Path(record["mapping_file"]).unlink(missing_ok=True)
    update(state="done", stage="done", result=result.as_json(), finished_at=_now())
    return 0


if __name__ == "__main__":  # python -m hitlgov.ingest.jobs RECORD.json (started by start())
    raise SystemExit(run(Path(sys.argv[1])))
