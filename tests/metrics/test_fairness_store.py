"""The engine path (one GROUP BY in DuckDB) equals plain Fairlearn MetricFrame on the same rows."""
import numpy as np
import pandas as pd
import pytest

from hitlgov.mapping import Mapping
from hitlgov.metrics import fairness, fairness_stats
from hitlgov.metrics.source import Filter, Source
from conftest import build_store


def random_log(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = np.array(["a", "b", "c", "d"])[: rng.integers(2, 5)]
    g = rng.choice(groups, n)
    model = np.where(rng.random(n) < 0.55, "yes", "no")
    reviewed = rng.random(n) < 0.4
    human = np.where(rng.random(n) < 0.25, np.where(model == "yes", "no", "yes"), model)
    outcome = np.where(rng.random(n) < 0.6, "yes", "no").astype(object)
    outcome[rng.random(n) < 0.07] = None
    return pd.DataFrame({
        "case_id": [f"c{i}" for i in range(n)], "ts": "2026-03-01T12:00:00", "model_decision": model,
        "reviewer_id": np.where(reviewed, "r1", None), "human_decision": np.where(reviewed, human, None),
        "outcome": outcome, "grp": g,
    })


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_store_path_equals_metricframe(tmp_path, seed):
    df = random_log(seed)
    csv = df.to_csv(index=False)
    db = build_store(tmp_path, csv, mapping=Mapping(sensitive=["grp"], positive_label="yes"))
    df["final_decision"] = np.where(df.reviewer_id.notna(), df.human_decision, df.model_decision)
    with Source.open(db) as src:
        ours = fairness.fairness_by_attribute(src, Filter(), attributes="grp")
    for decision in ("model_decision", "final_decision"):
        ref = fairness_stats.metricframe_reference(df, group_col="grp", pred_col=decision, true_col="outcome",
                                                  positive_label="yes")
        mine = ours[decision]
        for key in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference"):
            assert mine[key] == pytest.approx(ref[key], abs=1e-12), key
        for group, rates in ref["by_group"].items():
            for metric, value in rates.items():
                if value is None:
                    assert mine["by_group"][group][metric] is None
                else:
                    assert mine["by_group"][group][metric] == pytest.approx(value, abs=1e-12), (group, metric)


def test_intersection_and_missing_attribute(tmp_path):
    text = ("case_id,ts,model_decision,outcome,sex,race\n"
            "1,2026-01-01,yes,yes,F,A\n2,2026-01-01,no,yes,F,B\n3,2026-01-01,yes,no,M,A\n"
            "4,2026-01-01,yes,yes,M,A\n5,2026-01-01,no,no,M,\n")
    db = build_store(tmp_path, text, mapping=Mapping(sensitive=["sex", "race"], positive_label="yes"))
    with Source.open(db) as src:
        by_race = fairness.fairness_by_attribute(src, Filter(), attributes="race")
        both = fairness.fairness_by_attribute(src, Filter(), attributes=("sex", "race"))
    assert by_race["cases_without_group"] == 1
    assert by_race["model_decision"]["by_group"]["A"]["selection_rate"] == 1.0
    assert sorted(both["model_decision"]["by_group"]) == ["F × A", "F × B", "M × A"]
    assert both["model_decision"]["by_group"]["M × A"]["count"] == 2
    assert both["model_decision"]["by_group"]["M × A"]["false_positive_rate"] == 1.0  # case 3


def test_marginal_counts_equal_one_query_per_attribute(tmp_path, monkeypatch):
    """fairness_summary counts every sensitive attribute in one grouped aggregate over their
    combinations; each attribute's counts (missing values included) are those of its own query."""
    df = random_log(4, n=2000)
    rng = np.random.default_rng(4)
    df["band"] = rng.choice(np.array(["x", "y", "z", None], dtype=object), len(df))
    df.loc[rng.random(len(df)) < 0.05, "grp"] = None
    db = build_store(tmp_path, df.to_csv(index=False),
                     mapping=Mapping(sensitive=["grp", "band"], positive_label="yes"))
    with Source.open(db) as src:
        both = fairness.marginal_counts(src, Filter(), attributes=("grp", "band"), positive_label="yes")
        for name in ("grp", "band"):
            own, missing = fairness.group_counts(src, Filter(), attributes=(name,), positive_label="yes")
            assert both[name][1] == missing > 0
            for decision in own:
                pd.testing.assert_frame_equal(both[name][0][decision], own[decision])
        summary = fairness.fairness_summary(src, Filter())
        monkeypatch.setattr(fairness, "MAX_COMBINATIONS", 3)  # too many combinations: one query each
        assert fairness.marginal_counts(src, Filter(), attributes=("grp", "band"), positive_label="yes") is None
    with Source.open(db) as src:
        assert fairness.fairness_summary(src, Filter()) == summary
