"""Shared fixtures: build small stores from literal logs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The dashboard refuses to run without a sign-in decision (hitlgov serve sets one). The suite's
# AppTests run in the explicit single-user mode unless a test sets another (tests/dashboard/test_access.py).
os.environ.setdefault("HITLGOV_AUTH", "none")
# `hitlgov serve` warms every page in a background process (hitlgov.dashboard.warmup); in the
# suite it would compete for the 2 cores and write to stores under test. Its own tests turn it on.
os.environ.setdefault("HITLGOV_NO_WARMUP", "1")

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping


def build_store(tmp_path: Path, text: str, *, name: str = "log.csv", mapping: Mapping | None = None) -> Path:
    """Write ``text`` as a log file, ingest it into a fresh store, return the store's path."""
    log = tmp_path / name
    log.write_text(text)
    db = tmp_path / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, log, mapping=mapping)
    return db


@pytest.fixture
def make_store(tmp_path):
    def make(text: str, **kwargs) -> Path:
        return build_store(tmp_path, text, **kwargs)
    return make
