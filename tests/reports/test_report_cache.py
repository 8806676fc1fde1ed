"""``hitlgov report`` reuses the figures cached in the store; ``report --verify`` never does."""
from __future__ import annotations

import io
import json

from rich.console import Console

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.reports.build import build_report
from hitlgov.reports.cli import run_report

LOG = """case_id,ts,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome
c1,2026-01-05T09:00:00,approve,0.9,,,,approve
c2,2026-01-10T09:00:00,decline,0.3,r1,approve,120,approve
c3,2026-02-20T09:00:00,decline,0.4,r1,decline,60,decline
c4,2026-03-03T09:00:00,approve,0.6,r2,decline,30,approve
"""


def test_second_report_reuses_the_cache_and_verify_recomputes(tmp_path):
    log, db = tmp_path / "log.csv", tmp_path / "s.duckdb"
    log.write_text(LOG)
    with store.connect(db) as con:
        ingest_path(con, log)
    first = build_report(db=db, out_file=tmp_path / "a.pdf")
    assert first.evidence["values"]["metrics"]["counts"]["cases"] == 4
    with store.connect(db) as con:
        [(key, text)] = con.execute("SELECT key, value FROM result_cache WHERE kind = 'report_values'").fetchall()
        cached = json.loads(text)
        assert cached["values"] == first.evidence["values"]
        # a marker in the cached figures shows whether the next report is built from them
        cached["values"]["metrics"]["counts"]["cases"] = 999
        con.execute("UPDATE result_cache SET value = ? WHERE key = ?", [json.dumps(cached), key])
    second = build_report(db=db, out_file=tmp_path / "b.pdf")
    assert second.evidence["values"]["metrics"]["counts"]["cases"] == 999
    # verification recomputes from the tables: the first report matches, the one built from the marker does not
    codes = []
    for pdf in ("a.pdf", "b.pdf"):
        out = io.StringIO()
        codes.append(run_report(db=db, verify=tmp_path / pdf, console=Console(file=out, width=300),
                                err_console=Console(file=io.StringIO())))
    assert codes == [0, 1]
