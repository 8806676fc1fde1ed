"""Stores and page list shared by the dashboard tests (AppTest and the browser test).

The stores are built once per test process and reused: a 20,000-case synthetic demo (the same
generator as ``make demo``) plus the real COMPAS log (a system with outcomes but no human
reviews), and an empty, migrated store.
"""
from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout (for data/compas)
APP_FILE = Path(str(resources.files("hitlgov.dashboard").joinpath("app.py")))  # the installed app
DEMO_CASES = 20_000

# (view file, url path, page title, has a chart on the demo store)
PAGES = [
    ("overview.py", "", "Overview", True),
    ("oversight.py", "oversight", "Oversight", True),
    ("reviewers.py", "reviewers", "Reviewers & agreement", True),
    ("reliance.py", "reliance", "Reliance", True),
    ("fairness.py", "fairness", "Fairness", True),
    ("drift.py", "drift", "Drift", True),
    ("monitoring.py", "monitoring", "Monitoring", False),
    ("audit_trail.py", "audit-trail", "Audit trail", False),
    ("data_page.py", "data", "Data", True),
    ("reports.py", "reports", "Reports", False),
    ("users.py", "users", "Users", False),
]

_built: dict[str, Path] = {}


def demo_store(base: Path) -> Path:
    """The demo store under ``base`` (built on first use in this process)."""
    key = f"demo:{base}"
    if key in _built:
        return _built[key]
    from hitlgov import demo, store
    from hitlgov.ingest.pipeline import ingest_path
    from hitlgov.mapping import load_mapping

    folder = base / "dashboard-demo"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "store.duckdb"
    prebuilt = os.environ.get("HITLGOV_TEST_DASHBOARD_STORE")  # debugging: reuse a store built earlier
    if prebuilt and not db.exists():
        shutil.copy(prebuilt, db)
    if not db.exists():
        demo.generate(folder, cases=DEMO_CASES, seed=0)
        with store.connect(db) as con:
            ingest_path(con, folder / "decisions.csv", mapping=load_mapping(folder / "mapping.yaml"))
            ingest_path(con, ROOT / "data" / "compas" / "compas-scores-two-years.csv",
                        mapping=load_mapping(ROOT / "data" / "compas" / "mapping.yaml"))
    _built[key] = db
    return db


def empty_store(base: Path) -> Path:
    from hitlgov import store

    db = base / "dashboard-empty" / "store.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        with store.connect(db):
            pass
    return db


def finished_upload(db: Path, timeout: float = 120) -> dict:
    """Wait for the store's latest upload job to end (the Data page ingests in a worker process)."""
    import time

    from hitlgov.ingest import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.latest(db)
        if job and job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError(f"the upload job did not finish: {jobs.latest(db)}")
