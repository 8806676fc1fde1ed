"""Sane answers to every filter, and findings that mean what they say (issue 15).

* unknown systems / model versions / segments and reversed periods are one-line errors, for
  ``metrics`` and ``report`` alike, and nothing is computed;
* a store with two systems is never summed: plain ``metrics`` names the systems and stops;
  ``--system all`` answers each on its own period (hand-known first/last days); ``--system S``
  keeps SCHEMA §3's single-system object;
* a check with no evidence is NOT EVALUATED, never PASS (automation bias on a log nobody reviewed);
* a finding's title states what was found, with the value; the expectation is its ``check``.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from hitlgov import __version__, store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import Mapping
from hitlgov.metrics.policy import evaluate, headline, load_policy
from hitlgov.metrics.scope import check_filter, systems_in_scope
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import compute_metrics

CREDIT = """case_id,ts,model_version,model_decision,model_score,reviewer_id,human_decision,review_seconds,outcome,grp
c1,2026-01-05T09:00:00,v1,approve,0.9,,,,approve,a
c2,2026-01-10T09:00:00,v1,decline,0.3,r1,approve,120,approve,b
c3,2026-02-20T09:00:00,v2,decline,0.4,r1,decline,60,decline,a
"""
SCREEN = """case_id,ts,model_decision,outcome,grp
s1,2013-02-01T00:00:00,high,high,a
s2,2013-05-30T00:00:00,low,high,b
s3,2013-06-02T00:00:00,low,low,b
"""


@pytest.fixture
def two_systems(tmp_path):
    db = tmp_path / "two.duckdb"
    for name, text, label in (("credit", CREDIT, "approve"), ("screening", SCREEN, "low")):
        log = tmp_path / f"{name}.csv"
        log.write_text(text)
        with store.connect(db) as con:
            ingest_path(con, log, mapping=Mapping(system=name, sensitive=["grp"], positive_label=label))
    return db


def _cli(*args):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# -- filters the store cannot answer ------------------------------------------------------------------

@pytest.mark.parametrize("flt,message", [
    (Filter(system="nope"), "--system 'nope': the store holds no such system (systems: credit, screening)"),
    (Filter(dt.date(2026, 6, 1), dt.date(2026, 1, 1), system="credit"), "--from 2026-06-01 is after --to 2026-01-01"),
    (Filter(system="credit", model_version="v9"), "--model-version 'v9': system 'credit' has no decision by that "
                                                  "model version (versions: v1, v2)"),
    (Filter(system="screening", model_version="v1"), "system 'screening' has no decision by that model version"),
    (Filter(system="credit", segment=("age", "x")), "'age' is not a sensitive attribute (sensitive attributes: grp)"),
    (Filter(system="credit", segment=("grp", "z")), "no case has grp = 'z' (values: a, b)"),
])
def test_check_filter_refuses_what_the_store_cannot_answer(two_systems, flt, message):
    with Source.open(two_systems) as src, pytest.raises(HitlgovError) as exc:
        check_filter(src, flt)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_check_filter_passes_a_good_filter_unchanged(two_systems):
    flt = Filter(dt.date(2026, 1, 1), dt.date(2026, 1, 1), system="credit", model_version="v1", segment=("grp", "b"))
    with Source.open(two_systems) as src:
        assert check_filter(src, flt) is flt
        assert systems_in_scope(src, "credit") == ["credit"]
        assert systems_in_scope(src, "all") == ["credit", "screening"]
        with pytest.raises(HitlgovError, match=r"2 systems \(credit, screening\).*--system all"):
            systems_in_scope(src, None)


@pytest.mark.parametrize("args,message", [
    (["--system", "nope"], "no such system"),
    (["--system", "credit", "--from", "2026-06-01", "--to", "2026-01-01"], "the period is reversed"),
    (["--system", "credit", "--model-version", "v9"], "no decision by that model version"),
    ([], "pass --system NAME, or --system all"),  # two systems: never mixed silently
])
def test_metrics_cli_nonsense_is_one_line_and_non_zero(two_systems, args, message):
    code, out, err = _cli("metrics", "--db", str(two_systems), "--no-drift", "--json", *args)
    assert code == 1 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_report_cli_refuses_the_same_nonsense(two_systems, tmp_path):
    pdf = tmp_path / "r.pdf"
    for args, message in ((["--system", "nope"], "no such system"), ([], "--system all"),
                          (["--system", "credit", "--model-version", "v9"], "no decision by that model version"),
                          (["--system", "all"], "a report covers one system")):
        code, out, err = _cli("report", "--db", str(two_systems), "--out", str(pdf), *args)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, (args, err)
    assert not pdf.exists()


def test_metrics_system_all_answers_each_system_on_its_own_period(two_systems):
    code, out, err = _cli("metrics", "--db", str(two_systems), "--no-drift", "--json", "--system", "all")
    assert code == 0, err
    m = json.loads(out)["systems"]
    assert set(m) == {"credit", "screening"}
    assert m["credit"]["period"] == {"from": "2026-01-05", "to": "2026-02-20"}
    assert m["screening"]["period"] == {"from": "2013-02-01", "to": "2013-06-02"}
    assert m["credit"]["counts"]["cases"] == 3 and m["screening"]["counts"]["cases"] == 3
    code, out, _ = _cli("metrics", "--db", str(two_systems), "--no-drift", "--json", "--system", "screening")
    one = json.loads(out)  # SCHEMA §3: one system, one object
    assert code == 0 and one["period"] == m["screening"]["period"] and one["filter"]["system"] == "screening"


def test_version_flag():
    code, out, _ = _cli("--version")
    assert code == 0 and out.strip() == f"hitlgov {__version__}"


def _commands(command, path=()):
    """(path, command) of every command and group under ``command``, itself first."""
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _commands(sub, (*path, name))


def test_no_command_help_shows_a_type_for_a_boolean_flag():
    """Every command's and group's ``--help`` (issue 15): a boolean flag -- the built-in --help
    included -- is shown as a flag, with no type or metavar column ("<bool>", "BOOLEAN")."""
    import re

    import typer
    from typer._click import Context

    root = typer.main.get_command(app)
    checked = set()
    for path, command in _commands(root):
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "240"})
        assert result.exit_code == 0, (path, result.output)
        out = result.stdout
        assert "<bool>" not in out and "BOOLEAN" not in out, (path, out)
        ctx = Context(command, info_name=path[-1] if path else "hitlgov")
        flags = [p for p in command.get_params(ctx) if getattr(p, "is_flag", False) and not getattr(p, "hidden", False)]
        assert any("--help" in p.opts for p in flags), path
        for flag in flags:
            assert not flag.display_type_rich(ctx), (path, flag.opts, flag.display_type_rich(ctx))
            names = [o for o in (*flag.opts, *flag.secondary_opts) if o.startswith("--")]
            line = next((x for x in out.splitlines() if re.search(rf"(?<![\w-]){re.escape(names[0])}(?![\w-])", x)),
                        None)
            assert line is not None, (path, names, out)
            rest = line.split(names[-1], 1)[1].strip(" │")
            assert not re.match(r"<|\[?[A-Z][A-Z_]+\b|bool", rest), (path, names, line)
            checked.add(names[0])
    assert {"--help", "--json", "--no-drift", "--version", "--headless"} <= checked, checked


# -- findings that mean what they say ---------------------------------------------------------------------

def test_cli_metrics_table_says_not_evaluated_for_automation_bias_without_reviews(two_systems):
    """The metrics table's row says why the check did not run, never "none" (which reads as a pass)."""
    code, out, _ = _cli("metrics", "--system", "screening", "--no-drift", "--db", str(two_systems))
    assert code == 0, out
    line = next(x for x in out.splitlines() if "automation-bias flags" in x)
    assert "not evaluated (no reviews in the selection)" in line and "none" not in line, line


def test_automation_bias_without_reviews_is_not_evaluated_never_pass(two_systems):
    with Source.open(two_systems) as src:
        m = compute_metrics(src, Filter(system="screening"), include_drift=False, n_boot=0)
    assert m["automation_bias"]["flagged_reviewers"] is None
    assert "automation_bias.flagged_reviewers" not in {f["metric"] for f in m["findings"]}
    missing = {x["metric"]: x for x in m["findings_not_evaluated"]}
    assert missing["automation_bias.flagged_reviewers"]["reason"] == "no reviews in the selection"
    assert not any(f["status"] == "pass" and f["metric"].startswith(("automation_bias", "agreement"))
                   for f in m["findings"])


def test_finding_titles_state_what_was_found():
    findings, _ = evaluate(load_policy(), {"automation_bias": {"flagged_reviewers": 1},
                                           "fairness": {"race": {"final_decision": {"favourable_rate_ratio": 0.7}}}})
    bias = next(f for f in findings if f["metric"] == "automation_bias.flagged_reviewers")
    assert bias["status"] == "warn" and bias["title"] == "Reviewers flagged for automation bias: 1"
    assert bias["check"] == "No reviewer shows signs of automation bias"
    ratio = next(f for f in findings if f["metric"].endswith("favourable_rate_ratio"))
    assert ratio["status"] == "fail" and "race" in ratio["title"] and ratio["title"].endswith("0.700")
    # a user's rule without a `found` template, or with a broken one, still says what was found
    assert headline({"title": "Alpha ok"}, "agreement.krippendorff_alpha_nominal", 0.5) == "Alpha ok: found 0.500"
    assert headline({"title": "T", "found": "{nope}"}, "oversight.override_rate", 0.1) == "T: found 10.0%"


def test_every_fail_comes_before_any_warn():
    policy = load_policy()
    findings, _ = evaluate(policy, {"oversight": {"override_rate": 0.3, "escalation_rate": 0.5,
                                                  "review_seconds_p90": 1000},
                                    "automation_bias": {"flagged_reviewers": 3}})
    statuses = [f["status"] for f in findings]
    assert statuses == sorted(statuses, key=["fail", "warn", "pass"].index)
    assert statuses.count("fail") == 2 and statuses.count("warn") == 2


def test_review_effect_names_the_group_whose_error_rate_review_made_worse():
    from hitlgov.metrics.fairness_stats import review_effect
    from hitlgov.reports.narrative import sentence

    model = {"demographic_parity_difference": 0.30, "equalized_odds_difference": 0.2,
             "by_group": {"a": {"false_positive_rate": 0.10, "false_negative_rate": 0.30},
                          "b": {"false_positive_rate": 0.20, "false_negative_rate": 0.20}}}
    final = {"demographic_parity_difference": 0.15, "equalized_odds_difference": 0.25,
             "by_group": {"a": {"false_positive_rate": 0.105, "false_negative_rate": 0.10},
                          "b": {"false_positive_rate": 0.35, "false_negative_rate": 0.20}}}
    effect = review_effect(model, final)
    assert effect["dpd_verdict"] == "reduced"
    assert effect["worsened"] == [{"group": "b", "rate": "false_positive_rate", "model": 0.20, "final": 0.35}]
    finding = {"metric": "fairness.grp.final_decision.demographic_parity_difference", "value": 0.15,
               "threshold": 0.10, "status": "fail"}
    text = sentence(finding, {"counts": {"reviewed_cases": 10}, "fairness": {"grp": {"review_effect": effect}}})
    assert "human review reduced the gap from 0.300" in text
    assert "still fail the policy's limit" in text
    assert "review raised the false positive rate of b from 20.0% to 35.0%" in text


def test_status_fits_80_columns_keeps_paths_whole_and_judges_retention_per_system(tmp_path, monkeypatch):
    deep = tmp_path / ("a-rather-long-folder-name-for-the-decision-logs-" * 2) / "credit.csv"
    deep.parent.mkdir(parents=True)
    deep.write_text(CREDIT)
    db = tmp_path / "s.duckdb"
    with store.connect(db) as con:
        ingest_path(con, deep, mapping=Mapping(system="credit"))
        (tmp_path / "screen.csv").write_text(SCREEN)
        ingest_path(con, tmp_path / "screen.csv", mapping=Mapping(system="screening"))
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = _cli("status", "--db", str(db))
    assert code == 0 and "…" not in out
    assert f"run 1: {deep}" in out  # the whole path, on its own line
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= 80 for line in table)
    # each system's retention on its own log: credit covers 47 days, screening 122 days; both < 6 months
    assert "system credit: 3 cases, 2026-01-05 .. 2026-02-20; retention FAIL" in out
    assert "system screening: 3 cases, 2013-02-01 .. 2013-06-02; retention FAIL" in out


def test_review_effect_says_whether_the_final_decisions_still_fail_the_policy():
    from hitlgov.metrics.summary import review_effect_against_policy

    fair = {"age": {"review_effect": {"verdict": "reduced"}}, "sex": {"review_effect": {"verdict": "unchanged"}},
            "race": {"error": "positive label unknown"}}
    findings = [
        {"metric": "fairness.age.final_decision.favourable_rate_ratio", "status": "fail"},
        {"metric": "fairness.age.final_decision.demographic_parity_difference", "status": "warn"},
        {"metric": "fairness.age_band.final_decision.equalized_odds_difference", "status": "fail"},  # another attribute
        {"metric": "fairness.sex.final_decision.demographic_parity_difference", "status": "pass"},
    ]
    review_effect_against_policy(fair, findings)
    assert fair["age"]["review_effect"] == {"verdict": "reduced", "final_status": "fail",
                                           "final_failing": ["favourable_rate_ratio"]}
    assert fair["sex"]["review_effect"]["final_status"] == "pass" and fair["sex"]["review_effect"]["final_failing"] == []
    assert "review_effect" not in fair["race"]
