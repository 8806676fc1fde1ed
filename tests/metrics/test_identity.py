"""Lookalike reviewer ids (issue 14): homoglyphs are grouped and become a data-quality finding."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from hitlgov.cli import app
from hitlgov.metrics import confusable_reviewer_ids
from hitlgov.metrics.identity import skeleton


def test_skeleton_maps_homoglyphs_to_latin():
    # U+0430 CYRILLIC SMALL LETTER A, U+043E CYRILLIC SMALL LETTER O, U+0391 GREEK CAPITAL ALPHA
    assert skeleton("\u0430na") == skeleton("ana") == "ana"
    assert skeleton("j\u043ehn") == "john"
    assert skeleton("\u0391nna") == "anna"
    assert skeleton("bob") != skeleton("rob")


def test_groups_only_lookalikes():
    ids = ["ana", "\u0430na", "ANA", "john", "j\u043ehn", "maria", "mario"]
    assert confusable_reviewer_ids(None, ids=ids) == [["ANA", "ana", "\u0430na"], ["john", "j\u043ehn"]]
    assert confusable_reviewer_ids(None, ids=["ana", "bob"]) == []


def test_finding_in_metrics_json(make_store):
    db = make_store("case_id,ts,model_decision,reviewer_id,human_decision\n"
                    "c1,2026-01-01,a,ana,a\nc2,2026-01-02,a,\u0430na,b\nc3,2026-01-03,a,bob,a\n")
    result = CliRunner().invoke(app, ["metrics", "--json", "--no-drift", "--db", str(db)])
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)
    assert m["data_quality"]["confusable_reviewer_ids"] == [["ana", "\u0430na"]]
    [finding] = [f for f in m["findings"] if f["metric"] == "data_quality.confusable_reviewer_groups"]
    assert finding["status"] == "fail" and finding["value"] == 1
