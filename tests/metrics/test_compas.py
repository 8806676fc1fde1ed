"""The fairness metrics reproduce ProPublica's published COMPAS error rates.

ProPublica, "Machine Bias" (2016), compas-analysis repository: ``truth_tables.py`` prints the
false positive / false negative rates on the whole two-year population (the 7,214 rows of
``compas-scores-two-years.csv``), with Medium/High as "predicted to reoffend":
African-American FPR 44.85%, FNR 27.99%; Caucasian FPR 23.45%, FNR 47.72%.
The data goes through the real path: CSV -> mapping file -> store -> Ibis counts -> rates.
"""
from pathlib import Path

import pytest

from hitlgov import store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import load_mapping
from hitlgov.metrics import fairness
from hitlgov.metrics.source import Filter, Source

COMPAS = Path(__file__).resolve().parents[2] / "data" / "compas"


@pytest.fixture(scope="module")
def compas_store(tmp_path_factory):
    db = tmp_path_factory.mktemp("compas") / "s.duckdb"
    with store.connect(db) as con:
        result = ingest_path(con, COMPAS / "compas-scores-two-years.csv",
                             mapping=load_mapping(COMPAS / "mapping.yaml"))
    assert (result.rows_read, result.stored, result.duplicates, result.quarantined) == (7214, 7214, 0, 0)
    return db


def test_propublica_error_rates(compas_store):
    with Source.open(compas_store) as src:
        f = fairness.fairness_by_attribute(src, Filter(system="compas-recidivism"), attributes="race")
    groups = f["model_decision"]["by_group"]
    assert groups["African-American"]["count"] == 3696 and groups["Caucasian"]["count"] == 2454
    assert round(groups["African-American"]["false_positive_rate"] * 100, 2) == 44.85
    assert round(groups["African-American"]["false_negative_rate"] * 100, 2) == 27.99
    assert round(groups["Caucasian"]["false_positive_rate"] * 100, 2) == 23.45
    assert round(groups["Caucasian"]["false_negative_rate"] * 100, 2) == 47.72
    # No human review in COMPAS: the final decision is the model's, so review changes nothing.
    assert f["final_decision"] == f["model_decision"]
    assert f["review_effect"]["verdict"] == "unchanged"


def test_mapping_applied(compas_store):
    with Source.open(compas_store) as src:
        cfg = src.config("compas-recidivism")
        labels = set(src.cases().select("model_decision").distinct().to_pandas()["model_decision"])
    assert cfg.positive_label == "high" and cfg.sensitive == ["age_cat", "race", "sex"]
    assert labels == {"high", "low"}
