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


def test_four_fifths_rule_compares_the_favourable_low_risk_rate(compas_store):
    """COMPAS's positive label `high` (predicted to reoffend) is not the outcome that benefits
    the person: the mapping declares `favourable_label: low`, so the four-fifths rule compares
    the share scored low risk. Hand count from the CSV (score_text == Low / rows, by race):
    African-American 1522/3696, Asian 24/32, Caucasian 1600/2454, Hispanic 447/637,
    Native American 6/18, Other 298/377. Native American (18 < 30 cases) is insufficient
    evidence and left out of the disparities, so the ratio is (1522/3696) / (298/377) and only
    African-American is below 0.8 x 298/377. (Treating `high` as favourable would call Asian,
    Caucasian, Hispanic and Other disadvantaged - the groups least often scored high risk.)"""
    with Source.open(compas_store) as src:
        assert src.config("compas-recidivism").favourable_label == "low"
        f = fairness.fairness_by_attribute(src, Filter(system="compas-recidivism"), attributes="race")
    final = f["final_decision"]
    assert f["positive_label"] == "high" and f["favourable_label"] == "low"
    assert final["by_group"]["African-American"]["favourable_rate"] == 1522 / 3696
    assert final["by_group"]["African-American"]["selection_rate"] == 2174 / 3696  # still share `high`
    assert final["by_group"]["Native American"]["favourable_rate"] == 6 / 18  # shown, flagged
    assert final["by_group"]["Native American"]["insufficient_evidence"] is True
    assert final["insufficient_evidence_groups"] == ["Native American"] and final["min_group_size"] == 30
    assert final["favourable_rate_ratio"] == pytest.approx((1522 / 3696) / (298 / 377), abs=1e-12)
    rule = final["four_fifths_rule"]
    assert rule["ratio"] == final["favourable_rate_ratio"] and rule["passes"] is False
    assert rule["disadvantaged_groups"] == ["African-American"]
    assert rule["favourable_label"] == "low"
    # Fairlearn's demographic parity ratio stays defined on the positive label (share `high`)
    assert final["demographic_parity_ratio"] == pytest.approx((79 / 377) / (2174 / 3696), abs=1e-12)
    # the interval of the ratio brackets it and excludes 0.8: the failure is not sampling noise
    low, high = final["ci"]["favourable_rate_ratio"]
    assert low < final["favourable_rate_ratio"] < high < 0.8
