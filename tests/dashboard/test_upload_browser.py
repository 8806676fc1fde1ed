"""The background upload in a real headless Chromium (issue 14): choose a file on the Data page,
press Ingest, and the page itself (polling its job record) shows the result -- no reload needed."""
from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

import browser_helpers as bh
from hitlgov import store

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dashboard-browser")]
HITLGOV = Path(sys.executable).with_name("hitlgov")


def test_upload_a_file_and_see_its_result(tmp_path):
    db = tmp_path / "store.duckdb"
    with store.connect(db):
        pass
    log = tmp_path / "decisions.csv"
    log.write_text("case_id,ts,model_decision\nb1,2026-01-01,approve\nb2,2026-01-02,decline\nb3,not-a-date,approve\n")
    port = bh.free_port()
    cmd = [str(HITLGOV) if HITLGOV.exists() else "hitlgov", "serve", "--no-auth", "--db", str(db), "--port", str(port)]
    with bh.served(cmd, port, tmp_path / "serve.log") as url, bh.chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1600})
        page.goto(f"{url}/data", wait_until="domcontentloaded")
        page.wait_for_selector("h1:has-text('Data')", timeout=60_000)
        bh.settle(page)
        page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(log))
        page.wait_for_selector("text=decisions.csv", timeout=30_000)
        page.get_by_role("button", name="Ingest").click()
        page.wait_for_selector("[data-testid=stAlert]:has-text('Ingested decisions.csv')", timeout=120_000)
        bh.settle(page)
        text = page.inner_text("[data-testid=stMain]")
        assert "3 rows read" in text, text[:2000]
        tiles = page.locator("[data-testid=stMetric]").all_inner_texts()
        assert any(t.startswith("Stored") and t.rstrip().endswith("2") for t in tiles), tiles
        assert any(t.startswith("Quarantined") and t.rstrip().endswith("1") for t in tiles), tiles
        bh.assert_no_error(page, "Data")
        page.close()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT case_id FROM cases ORDER BY 1").fetchall() == [("b1",), ("b2",)]
