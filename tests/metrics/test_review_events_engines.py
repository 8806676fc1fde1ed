"""Review-stage verdicts (``review_events``) travel with the lake form: ``hitlgov export-parquet``
writes them, an engine reads them (Parquet folders, a views file, Spark local), and the rejection
rate there equals the store's.

The store is built from label-studio-converter's verbatim Label Studio Enterprise export
(``tests/adapters/fixtures/labelstudio/real_test_export_csv_csv_test.json``: annotations 7 and 6
by hakan@heartex.com, each rejected by review@heartex.com) plus a copy whose tasks are renumbered
(101, 102) and whose first verdict is an acceptance: 4 verdicts, 3 rejected -> 0.75; hakan 3/4.

The same lake on Spark local is ``test_spark.py::test_review_events_on_spark_equal_the_store``
(it reuses that module's Spark session).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.export import export_parquet
from hitlgov.ingest import service
from hitlgov.metrics import engines, review_stage
from hitlgov.metrics.source import Source

ENTERPRISE = Path(__file__).parent.parent / "adapters" / "fixtures" / "labelstudio" / "real_test_export_csv_csv_test.json"
EXPECTED = {"verdicts": 4, "accepted": 1, "rejected": 3, "rejection_rate": 0.75,
            "by_annotator": [{"reviewer_id": "hakan@heartex.com", "verdicts": 4, "rejected": 3, "rejection_rate": 0.75}]}


def build_lake(base: Path) -> tuple[Path, Path]:
    """``(store, lake)``: the two exports ingested, and the store exported as Parquet."""
    tasks = json.loads(ENTERPRISE.read_text())
    for task in tasks:
        task["id"] += 100
        for a in task["annotations"]:
            a["task"] = task["id"]
            for r in a["reviews"]:
                r["id"] += 100
    tasks[0]["annotations"][0]["reviews"][0]["accepted"] = True
    second = base / "second.json"
    second.write_text(json.dumps(tasks))
    db = base / "s.duckdb"
    service.ingest_files(db, [ENTERPRISE, second])
    with store.connect(db, read_only=True) as con:
        written = export_parquet(con, base / "lake")
    assert written["tables"]["review_events"] == 4
    return db, base / "lake"


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> tuple[Path, Path]:
    return build_lake(tmp_path_factory.mktemp("review-events"))


def test_store_rejection_rate_is_the_hand_computed_one(lake):
    db, _ = lake
    with Source.open(db) as src:
        assert review_stage.rejection_rate(src) == EXPECTED


def test_parquet_export_carries_review_events_partitioned_by_month(lake):
    _, lake_dir = lake
    files = sorted(p.relative_to(lake_dir).as_posix() for p in (lake_dir / "review_events").rglob("*.parquet"))
    assert files == ["review_events/month=2022-10/data_0.parquet"]  # the tasks' predictions: October 2022
    import duckdb

    cols = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{lake_dir}/review_events/**/*.parquet')").fetchall()
    assert [c[0] for c in cols] == ["system", "case_id", "reviewer_id", "reviewed_by", "accepted", "reviewed_at",
                                    "event_id", "case_key", "month"]  # the integer key (issue 16) travels with it


def test_duckdb_engine_over_the_export_equals_the_store(lake):
    db, lake_dir = lake
    with engines.open_source(None, f"duckdb://?parquet={lake_dir}") as src:
        assert review_stage.rejection_rate(src) == EXPECTED
    result = CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--engine", f"duckdb://?parquet={lake_dir}"])
    assert result.exit_code == 0, result.output
    on_store = CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--db", str(db)])
    assert json.loads(result.stdout)["oversight"]["review_stage"] == json.loads(on_store.stdout)["oversight"]["review_stage"]
    assert json.loads(result.stdout)["oversight"]["review_stage"]["rejection_rate"] == 0.75


def test_an_older_export_without_review_events_has_no_review_stage(lake, tmp_path):
    _, lake_dir = lake
    old = tmp_path / "old-lake"
    shutil.copytree(lake_dir, old)
    shutil.rmtree(old / "review_events")  # as written before review_events was exported
    url = f"duckdb://?parquet={old}"
    try:
        with engines.open_source(None, url) as src:
            assert review_stage.rejection_rate(src) == {"verdicts": 0, "accepted": 0, "rejected": 0,
                                                        "rejection_rate": None, "by_annotator": []}
    finally:
        engines.forget(url)


def test_views_file_maps_a_lake_table_of_verdicts(lake, tmp_path):
    _, lake_dir = lake
    views = tmp_path / "lake.yaml"
    views.write_text(
        "tables:\n"
        f"  review_events: SELECT system, case_id, reviewer_id, reviewed_by, accepted, reviewed_at, event_id "
        f"FROM read_parquet('{lake_dir}/review_events/**/*.parquet') WHERE event_id <> '127'\n")
    url = f"duckdb://?parquet={lake_dir}&views={views}"
    try:
        with engines.open_source(None, url) as src:
            got = review_stage.rejection_rate(src)
    finally:
        engines.forget(url)
    # the views file drops verdict 127 (a rejection of the renumbered copy): 3 verdicts, 2 rejected
    assert (got["verdicts"], got["rejected"]) == (3, 2)

