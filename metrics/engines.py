"""Which engine the metrics run on: the embedded DuckDB store by default, or an Ibis URL.

Every caller that needs a :class:`~metrics.source.Source` (the CLI's ``metrics`` and
``report``, the dashboard, the report generator) opens it through :func:`open_source`, so
``--engine`` is honoured in one place.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from hitlgov.errors import HitlgovError
from metrics.source import Source


@contextmanager
def open_source(db: str | Path | None = None, engine: str | None = None) -> Iterator[Source]:
    """Open the store ``db`` read-only, or the canonical tables on ``engine`` (an Ibis URL)."""
    if engine is None:
        with Source.open(db) as source:
            yield source
        return
    raise HitlgovError(f"--engine {engine}: remote engines are not supported yet")
