"""Every command imports only what it uses (issue 16, fixed cost): the heavy libraries load
where they are needed -- Evidently for a drift test, SciPy/statsmodels/scikit-learn for the
statistics, matplotlib/WeasyPrint for a PDF, Streamlit for the dashboard -- and a result served
from the store's cache loads none of them. Each check runs the real CLI in a fresh interpreter
and reads ``sys.modules`` afterwards (timings live in ``bench/``, not here)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path

LOG = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome
c1,2026-01-05T09:00:00,approve,0.9,,,,approve
c2,2026-01-10T09:00:00,decline,0.3,r1,approve,120,approve
c3,2026-02-20T09:00:00,decline,0.4,r1,decline,60,decline
c4,2026-03-03T09:00:00,approve,0.6,r2,decline,30,approve
"""
HEAVY = ("evidently", "sklearn", "scipy", "statsmodels", "krippendorff", "matplotlib", "weasyprint", "streamlit",
         "plotly", "fairlearn")

# Runs each command line in this interpreter (as `hitlgov ...` would) and prints the top-level
# packages of HEAVY (plus ibis and pandas) that are loaded after each one.
SCRIPT = r"""
import json, sys
from hitlgov.cli import app
watch = set(json.loads(sys.argv[1]))
seen = []
for args in json.loads(sys.argv[2]):
    try:
        app(args, standalone_mode=False)
    except SystemExit:
        pass
    seen.append(sorted({m.split(".")[0] for m in sys.modules} & watch))
print(json.dumps(seen))
"""


def loaded_after(*commands: list[str]) -> list[set[str]]:
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([*HEAVY, "ibis", "pandas"]),
                          json.dumps(list(commands))], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return [set(x) for x in json.loads(run.stdout.strip().splitlines()[-1])]


@pytest.fixture
def db(tmp_path):
    (tmp_path / "log.csv").write_text(LOG)
    path = tmp_path / "s.duckdb"
    with store.connect(path) as con:
        ingest_path(con, tmp_path / "log.csv")
    return str(path)


def test_status_and_verify_load_no_statistics_plotting_or_dashboard_library(db, tmp_path):
    status, status_again, verify = loaded_after(["status", "--json", "--db", db], ["status", "--json", "--db", db],
                                                ["verify", "--json", "--db", db])
    assert status <= {"ibis", "pandas"}  # computed: Ibis and pandas, nothing heavier
    assert verify <= {"ibis", "pandas"}
    # served from the cache, in a fresh process: neither Ibis nor pandas
    [hit] = loaded_after(["status", "--json", "--db", db])
    assert hit == set(), hit


def test_metrics_without_drift_never_imports_evidently_and_a_cached_run_imports_no_statistics(db):
    [computed] = loaded_after(["metrics", "--json", "--no-drift", "--db", db])
    assert "evidently" not in computed and not computed & {"matplotlib", "weasyprint", "streamlit", "plotly"}
    assert {"ibis", "pandas"} <= computed  # the control: the metrics really ran in this process
    [cached] = loaded_after(["metrics", "--json", "--no-drift", "--db", db])
    assert not cached & set(HEAVY), cached
