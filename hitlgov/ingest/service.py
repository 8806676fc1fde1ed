"""The one entry point for putting logs into a store: the CLI's ``ingest`` and the dashboard's
upload both call :func:`ingest_files`, so both run the same guards and raise the same errors.

Each file is read and validated into a private staging database first (no lock on the store),
then committed in one short write transaction: readers are blocked only for the commit.

Guards that belong to a *store* rather than to a file live here, not in a caller: a store that
serves in-place Parquet cannot also take copied files (its canonical tables are views), and an
in-place registration takes Parquet only. Each file is still one transaction
(:func:`hitlgov.ingest.pipeline.prepare` then ``commit``); a file that fails is reported through ``on_error``
and the others go on, so one bad file in a batch costs only itself.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from hitlgov import store
from hitlgov.errors import HitlgovError, IngestError
from hitlgov.ingest import inplace, running
from hitlgov.ingest.inplace import InPlaceResult
from hitlgov.ingest.pipeline import IngestResult, commit, prepare
from hitlgov.mapping import Mapping

Progress = Callable[[Path, str], None]


class StoreRefusal(IngestError):
    """The store itself refuses the run (not one file): raised even when ``on_error`` is given."""


def check_can_copy(con, db) -> None:
    """Refuse to copy files into a store that serves in-place Parquet (one line, store untouched)."""
    if inplace.is_inplace(con):
        raise StoreRefusal(f"{store.resolve_db(db)} serves in-place Parquet; copied and in-place data cannot be mixed "
                          "in one store: ingest these files into another store (--db OTHER.duckdb)")


def ingest_files(db: str | os.PathLike | None, paths: Iterable[str | os.PathLike], *, mapping: Mapping | None = None,
                 fmt: str = "auto", progress: Progress | None = None,
                 on_error: Callable[[Path, HitlgovError], None] | None = None,
                 question: str | None = None, default_ts: str | None = None,
                 adapter_options: dict[str, str] | None = None, job: str | None = None) -> list[IngestResult]:
    """Ingest ``paths`` into the store ``db``, one transaction per file, and return their results.

    A file that cannot be ingested raises its one-line :class:`HitlgovError` -- or, when
    ``on_error`` is given, is passed to it and skipped. Store-level refusals always raise.

    ``question``, ``default_ts`` and ``adapter_options`` (``--question``, ``--default-ts``,
    ``--adapter-option``) win over the mapping's ``question:``, ``default_ts:`` and
    ``adapter_options:`` (options merged key by key). ``job`` names the upload job
    (:mod:`hitlgov.ingest.jobs`) in the running-ingestion marker readers see.
    """
    mapping = (mapping or Mapping()).with_overrides(
        question=question, default_ts=default_ts,
        adapter_options={**(mapping.adapter_options if mapping else {}), **adapter_options} if adapter_options else None)
    results: list[IngestResult] = []
    # Create (or migrate) the store and refuse an in-place one before reading anything: a short
    # write open, released before the files are staged.
    with store.connect(db) as con:
        check_can_copy(con, db)
    for raw in paths:
        path = Path(raw)
        try:
            # Read and validate outside the store; take its write lock only to commit, so
            # `status` and the dashboard keep reading while a large file is being staged --
            # and say so: the marker tells them an ingestion is running (hitlgov.ingest.running).
            with running.running(store.resolve_db(db), file=path, job=job) as marker, \
                    tempfile.TemporaryDirectory(prefix="hitlgov-ingest-") as folder:
                def step(stage: str, _p=path) -> None:
                    marker.stage(stage)
                    if progress:
                        progress(_p, stage)

                staged = prepare(path, Path(folder), mapping=mapping, fmt=fmt, progress=step)
                step("committing")
                with store.connect(db) as con:
                    check_can_copy(con, db)
                    results.append(commit(con, staged, mapping=mapping, progress=step))
        except HitlgovError as exc:
            if on_error is None or isinstance(exc, StoreRefusal):
                raise
            on_error(path, exc)
    return results


def register_in_place(db: str | os.PathLike | None, patterns: list[str], *, mapping: Mapping | None = None,
                      fmt: str = "auto") -> InPlaceResult:
    """Serve a Parquet dataset where it lies (``ingest --in-place``)."""
    if fmt not in ("auto", "parquet"):
        raise IngestError(f"--in-place serves Parquet files only (not --format {fmt})")
    with store.connect(db) as con:
        return inplace.register(con, patterns, mapping=mapping or Mapping())
