"""The same metrics on a real distributed engine: PySpark in local mode against the DuckDB store.

A ~3k-case demo store is exported as Parquet (``hitlgov export-parquet``, month-partitioned) and
read by Spark (``--engine 'pyspark://local[2]?parquet=DIR'``). ``metrics --json`` must be the same
document on both engines: the same keys and list lengths, the same strings in the same order
(reviewer lists included), and every number equal to 1e-9. The sampled paths (drift windows and
the agreement bootstrap, which only ship bounded, seeded samples) must pick the same cases on
both engines. A views file maps differently-named lake tables onto the canonical ones.

Spark needs Java. Without it these tests fail under CI (``$CI`` set: ``.ci/run`` installs
``default-jre-headless``) and are skipped on a developer machine.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hitlgov import demo, store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.export import export_parquet
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import load_mapping
from hitlgov.metrics import agreement, drift, engines, fairness, oversight
from hitlgov.metrics.source import Filter, Source
from dashboard_helpers import APP_FILE

# Spark local (a JVM, ~2.5 min in all): `make test-slow`, which CI runs beside `make test`
pytestmark = [pytest.mark.spark, pytest.mark.long, pytest.mark.xdist_group("spark")]

CASES = 3_000
SYSTEM = "consumer-credit"
SPARK_CONF = "spark.sql.shuffle.partitions=2"


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the Spark tests must run in CI (.ci/run installs default-jre-headless)")
    pytest.skip(f"{reason} (skipped on a developer machine; CI fails instead)")


@pytest.fixture(scope="module")
def spark():
    if _java() is None:
        _unavailable("no Java runtime (java not on PATH, JAVA_HOME unset)")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _unavailable("PySpark is not installed (pip install -e '.[spark]')")
    session = (SparkSession.builder.master("local[2]").appName("hitlgov-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    engines.forget()
    session.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> tuple[Path, Path]:
    """``(store, lake)``: the demo store and its Parquet export."""
    base = tmp_path_factory.mktemp("spark-demo")
    demo.generate(base / "demo", cases=CASES, seed=0)
    db = base / "store.duckdb"
    with store.connect(db) as con:
        ingest_path(con, base / "demo" / "decisions.parquet", mapping=load_mapping(base / "demo" / "mapping.yaml"))
    with store.connect(db, read_only=True) as con:
        export_parquet(con, base / "lake")
    return db, base / "lake"


def spark_url(lake_dir: Path, **extra: str) -> str:
    query = "&".join([f"parquet={lake_dir}", SPARK_CONF] + [f"{k}={v}" for k, v in extra.items()])
    return f"pyspark://local[2]?{query}"


def differences(a, b, path: str = "$", tol: float = 1e-9) -> list[str]:
    """Where two JSON documents differ: structure, strings, or numbers beyond ``tol``."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}: keys {sorted(set(a) ^ set(b))}"] if set(a) != set(b) else []
        return out + [d for k in a if k in b for d in differences(a[k], b[k], f"{path}.{k}", tol)]
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{path}: {len(a)} vs {len(b)} items"] if len(a) != len(b) else []
        return out + [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]", tol)]
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=tol, abs_tol=tol) else [f"{path}: {a!r} vs {b!r}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} vs {b!r}"]


def metrics_json(*args: str) -> dict:
    result = CliRunner().invoke(app, ["metrics", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- the whole metrics document ------------------------------------------------------------------

def test_metrics_json_on_spark_equals_duckdb(spark, lake):
    db, lake_dir = lake
    on_duckdb = metrics_json("--db", str(db))
    on_spark = metrics_json("--engine", spark_url(lake_dir))
    assert differences(on_duckdb, on_spark) == []
    # ... and the document is not trivially equal: every family has numbers in it
    o = on_spark["oversight"]
    assert on_spark["counts"]["cases"] == CASES and o["override_rate"] > 0 and o["review_seconds_p90"] > 0
    assert [r["reviewer_id"] for r in o["by_reviewer"]] == [r["reviewer_id"] for r in on_duckdb["oversight"]["by_reviewer"]]
    assert len(o["by_reviewer"]) == 25
    assert on_spark["agreement"]["krippendorff_alpha_nominal"] is not None
    assert on_spark["agreement"]["cases_with_multiple_reviews"] > 0
    assert set(on_spark["fairness"]) == {"age_band", "gender"}
    assert on_spark["drift"]["columns"] and on_spark["drift"]["drift_share"] is not None
    assert on_spark["findings"]


def test_sampled_drift_and_bootstrap_pick_the_same_cases(spark, lake):
    """Windows and multi-review sets larger than the bound are sampled in the engine by a seeded
    MD5 of the case key: the same sample, hence the same statistics, on both engines."""
    db, lake_dir = lake
    period = (dt.date(2025, 11, 1), dt.date(2026, 10, 31))
    flt = Filter(start=period[0], end=period[1], system=SYSTEM)
    reference, current = drift.default_windows(period)

    def run(src):
        return {
            "drift": drift.drift_summary(src, flt, reference=reference, current=current, max_rows=200, seed=7),
            "ratings": agreement.multi_review_ratings(src, flt, max_cases=6, seed=3)[0].to_dict(orient="list"),
            "agreement": agreement.agreement_summary(src, flt, max_cases=8, n_boot=200, seed=5),
        }

    with Source.open(db) as src:
        on_duckdb = run(src)
    with engines.open_source(None, spark_url(lake_dir)) as src:
        on_spark = run(src)
    assert differences(on_duckdb, on_spark) == []
    assert on_spark["drift"]["windows"]["reference"]["cases"] > 200  # the window was sampled
    assert on_spark["drift"]["sample"]["reference_rows_used"] == 200
    assert on_spark["agreement"]["sampled"] and on_spark["agreement"]["cases_used"] == 8
    assert len(set(on_spark["ratings"]["case_id"])) == 6


VIEWS = """\
# The lake names things its own way; these views give the canonical tables.
tables:
  cases: |
    SELECT tenant AS system, decision_id AS case_id, decided_at AS ts, model AS model_version,
           label AS model_decision, CAST(score AS DECIMAL(10, 4)) AS model_score,
           final AS final_decision, truth AS outcome
    FROM lake_decisions
  reviews: lake_reviews
  case_attributes: SELECT tenant AS system, decision_id AS case_id, k AS name, v AS value FROM lake_tags
systems:
  - {system: consumer-credit, positive_label: approve, label_order: null}
attribute_roles:
  - {system: consumer-credit, name: age_band, role: sensitive}
  - {system: consumer-credit, name: income, role: feature}
"""


def test_views_file_maps_lake_tables(spark, lake, tmp_path):
    db, lake_dir = lake
    spark.read.parquet(str(lake_dir / "cases")).selectExpr(
        "system AS tenant", "case_id AS decision_id", "ts AS decided_at", "model_version AS model",
        "model_decision AS label", "model_score AS score", "final_decision AS final", "outcome AS truth",
    ).createOrReplaceTempView("lake_decisions")
    spark.read.parquet(str(lake_dir / "reviews")).createOrReplaceTempView("lake_reviews")
    spark.read.parquet(str(lake_dir / "case_attributes")).selectExpr(
        "system AS tenant", "case_id AS decision_id", "name AS k", "value AS v").createOrReplaceTempView("lake_tags")
    views = tmp_path / "lake.yaml"
    views.write_text(VIEWS)
    flt = Filter(start=dt.date(2026, 2, 1), end=dt.date(2026, 7, 31), system=SYSTEM)

    def run(src):
        return {"config": src.config(SYSTEM).__dict__, "oversight": oversight.oversight_summary(src, flt),
                "fairness": fairness.fairness_summary(src, flt)}

    with Source.open(db) as src:
        on_duckdb = run(src)
    with engines.open_source(None, f"pyspark://local[2]?views={views}&{SPARK_CONF}") as src:
        on_spark = run(src)
    # the views file declares fewer roles than the store: compare what both declare
    # a views file without favourable_label (it predates migration 8): the positive label is the favourable one
    assert on_spark["config"] == {"positive_label": "approve", "label_order": None,
                                  "sensitive": ["age_band"], "features": ["income"], "favourable_label": "approve"}
    assert differences(on_duckdb["oversight"], on_spark["oversight"]) == []
    assert differences(on_duckdb["fairness"]["age_band"], on_spark["fairness"]["age_band"]) == []
    assert set(on_spark["fairness"]) == {"age_band"}


def test_review_events_on_spark_equal_the_store(spark, tmp_path):
    """Review-stage verdicts exported with the lake give Spark the store's rejection rate
    (built as in test_review_events_engines.py: 4 verdicts, 3 rejected)."""
    from test_review_events_engines import EXPECTED, build_lake

    from hitlgov.metrics import review_stage

    db, lake_dir = build_lake(tmp_path)
    with Source.open(db) as src:
        assert review_stage.rejection_rate(src) == EXPECTED
    with engines.open_source(None, spark_url(lake_dir)) as src:
        assert review_stage.rejection_rate(src) == EXPECTED


# -- engine URLs, errors, the CLI and the dashboard (no Spark needed) ---------------------------

def test_duckdb_over_the_same_parquet_equals_the_store(lake):
    db, lake_dir = lake
    a = metrics_json("--db", str(db), "--no-drift")
    b = metrics_json("--engine", f"duckdb://?parquet={lake_dir}", "--no-drift")
    assert differences(a, b) == []


def test_engine_url_parsing():
    s = engines.parse_engine("pyspark://local[2]?parquet=/data/lake&spark.sql.shuffle.partitions=4")
    assert (s.scheme, s.spark_master, s.parquet, s.options) == (
        "pyspark", "local[2]", "/data/lake", {"spark.sql.shuffle.partitions": "4"})
    assert engines.parse_engine("spark://head:7077?views=v.yaml").spark_master == "spark://head:7077"
    t = engines.parse_engine("trino://me@host:8080/hive/hitl?views=lake.yaml&source=hitlgov")
    assert t.views == "lake.yaml" and t.connect_url == "trino://me@host:8080/hive/hitl?source=hitlgov"
    with pytest.raises(HitlgovError, match="expected a URL"):
        engines.parse_engine("not a url")


def test_engine_errors_are_one_line(lake, tmp_path):
    _db, lake_dir = lake
    runner = CliRunner()
    r = runner.invoke(app, ["metrics", "--engine", f"duckdb://?parquet={tmp_path}/nothing"])
    assert r.exit_code == 1 and "cases/ not found" in r.output and "Traceback" not in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: {cases: lake.x}\nwarehouse: y\n")
    r = runner.invoke(app, ["metrics", "--engine", f"duckdb://?parquet={lake_dir}&views={bad}"])
    assert r.exit_code == 1 and "unknown key(s) warehouse" in r.output
    missing = tmp_path / "missing.yaml"
    missing.write_text("tables:\n  cases: SELECT 'a' AS system, 'b' AS case_id\n")
    r = runner.invoke(app, ["metrics", "--engine", f"duckdb://?parquet={lake_dir}&views={missing}"])
    assert r.exit_code == 1 and "lacks column(s) ts, model_version" in r.output
    for command in ("status", "verify"):
        r = runner.invoke(app, [command, "--engine", f"duckdb://?parquet={lake_dir}"])
        assert r.exit_code == 1 and "does not run on --engine" in r.output


def test_store_only_tables_say_so(lake):
    _db, lake_dir = lake
    from hitlgov.metrics import inventory

    with engines.open_source(None, f"duckdb://?parquet={lake_dir}") as src:
        assert inventory.ingestion_runs(src) == []
        with pytest.raises(HitlgovError, match="kept only in the DuckDB store"):
            inventory.quarantine_summary(src)


def test_dashboard_runs_on_an_engine(lake, monkeypatch, tmp_path):
    """``serve --engine`` reaches the app (``--engine`` after ``--`` / $HITLGOV_ENGINE); the
    overview's numbers are the engine's."""
    from streamlit.testing.v1 import AppTest

    from hitlgov import formats as fmt
    from hitlgov.dashboard import launch
    from hitlgov.metrics import roi

    db, lake_dir = lake
    url = f"duckdb://?parquet={lake_dir}"
    assert launch.command(tmp_path / "x.duckdb", 8765, True, url)[-2:] == ["--engine", url]
    monkeypatch.setenv("HITLGOV_DB", str(tmp_path / "no-store-here.duckdb"))  # the engine, not a store
    monkeypatch.setenv("HITLGOV_ENGINE", url)
    with engines.open_source(None, url) as src:
        catalog = [s for s in __import__("hitlgov.metrics.inventory", fromlist=["x"]).system_catalog(src)]
        s = catalog[0]
        flt = Filter(start=dt.date.fromisoformat(s["first"][:10]), end=dt.date.fromisoformat(s["last"][:10]),
                     system=SYSTEM)
        o = oversight.oversight_summary(src, flt)
        r = roi.roi_summary(src, flt)
    at = AppTest.from_file(str(APP_FILE), default_timeout=90)
    # the whole log, whose counts the test knows (the dashboard's default is the last full quarter)
    at.query_params = {"system": SYSTEM, "from": flt.start.isoformat(), "to": flt.end.isoformat()}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error], [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Cases"] == fmt.count(o["cases"]) == fmt.count(CASES)
    assert shown["Override rate"] == fmt.pct(o["override_rate"])
    assert shown["Reviewer hours"] == fmt.hours(r["reviewer_hours"])


def test_views_file_sql_in_another_dialect_is_transpiled(lake, tmp_path):
    """``dialect:`` in a views file: the SQL is written for one engine and SQLGlot rewrites it
    for the engine in the URL (here Spark SQL, with backticks and IF(), run on DuckDB)."""
    db, lake_dir = lake
    views = tmp_path / "spark-sql.yaml"
    views.write_text(
        "dialect: spark\n"
        "tables:\n"
        "  reviews: |\n"
        "    SELECT `system`, case_id, reviewer_id, human_decision, review_started_at, review_completed_at,\n"
        "           IF(review_seconds < 0, NULL, review_seconds) AS review_seconds, escalated, rationale\n"
        f"    FROM read_parquet('{lake_dir}/reviews/*/*.parquet')\n")
    flt = Filter(system=SYSTEM)
    with Source.open(db) as src:
        a = oversight.oversight_summary(src, flt)
    with engines.open_source(None, f"duckdb://?parquet={lake_dir}&views={views}") as src:
        b = oversight.oversight_summary(src, flt)
    assert differences(a, b) == []


@pytest.mark.parametrize("dialect", ["duckdb", "pyspark", "trino", "bigquery", "snowflake", "postgres"])
def test_the_sampling_key_compiles_to_md5_on_every_engine(dialect):
    """The seeded sample order is MD5 of the case key on every engine (Ibis 12 compiles
    ``hexdigest('md5')`` only for DuckDB and Spark; metrics.engines adds the others)."""
    import ibis

    import hitlgov.metrics.engines  # noqa: F401 - installs the compile rules

    t = ibis.table({"system": "string", "case_id": "string"}, name="cases")
    sql = ibis.to_sql(t.select(k=(t.system + "|" + t.case_id).hexdigest("md5")), dialect=dialect)
    assert "MD5(" in sql.upper()
