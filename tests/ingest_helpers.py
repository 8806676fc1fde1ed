"""A real ingestion held in the middle of a stage, in a subprocess (tests of what readers see
while an ingestion runs: ``status``, the dashboard's banner, the upload job)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HOLD = r"""
import pathlib, sys, time
from hitlgov.ingest.service import ingest_files
db, log, here, go, stage = sys.argv[1:6]
def progress(_path, now):
    if now == stage:
        pathlib.Path(here).write_text(now)
        while not pathlib.Path(go).exists():
            time.sleep(0.02)
ingest_files(db, [log], progress=progress)
"""


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Held:
    """A real ``ingest_files`` of ``log`` into ``db`` in a subprocess, stopped at ``stage``."""

    def __init__(self, db: Path, log: Path, folder: Path, stage: str = "validating"):
        self.here, self.go = folder / "here", folder / "go"
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(log), str(self.here), str(self.go), stage],
                                     stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.here.exists() or self.proc.poll() is not None, "the ingestion to reach its stage")
        assert self.proc.poll() is None, self.proc.stderr.read()

    def release(self) -> None:
        self.go.write_text("go")
        assert self.proc.wait(60) == 0, self.proc.stderr.read()
