"""Loading the reviewer register: counts, versions, one-line errors, nothing stored on error."""
from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from hitlgov import store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError
from hitlgov.oversight.register import load_register

HEADER = "reviewer_id,name,role,authority,training,training_completed,training_expires,systems\n"
GOOD = HEADER + ("r1,Ana,verifier,confirm,RBI,2026-01-01,2026-06-30,\n"
                 "r1,Ana,verifier,confirm,RBI renewal,2026-07-01,2027-06-30,s1;s2\n"
                 "r2,Ben,verifier,confirm,RBI,2026-01-01,2026-06-30,s1\n"
                 "r2,Ben,verifier,confirm,RBI,2026-01-01,2026-06-30,s1\n")


@pytest.fixture
def db(make_store):
    return make_store("case_id,ts,model_decision\nc1,2026-01-01T00:00:00,a\n")


def _rows(db):
    with store.connect(db, read_only=True) as con:
        return con.execute("SELECT version, reviewer_id, systems FROM reviewer_register ORDER BY version, source_row").fetchall()


def test_load_counts_versions_and_audit(db, tmp_path):
    f = tmp_path / "reg.csv"
    f.write_text(GOOD)
    r = load_register(db, f, actor="ivy")
    assert (r.rows_read, r.reviewers, r.duplicates, r.version) == (4, 2, 1, 1)
    assert _rows(db) == [(1, "r1", []), (1, "r1", ["s1", "s2"]), (1, "r2", ["s1"])]
    again = load_register(db, f)
    assert again.version == 2 and len(_rows(db)) == 6  # the earlier version is kept
    with store.connect(db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM audit_events WHERE kind = 'reviewer_register_loaded'").fetchall() == [(2,)]
        assert con.execute("SELECT sha256 FROM reviewer_register_loads WHERE version = 1").fetchall()[0][0] == r.sha256


def test_yaml_form(db, tmp_path):
    f = tmp_path / "reg.yaml"
    f.write_text("reviewers:\n  - {reviewer_id: r1, role: verifier, authority: confirm, training_completed: 2026-01-01, "
                 "training_expires: 2026-12-31, systems: [s1]}\n")
    assert load_register(db, f).reviewers == 1
    assert _rows(db) == [(1, "r1", ["s1"])]


@pytest.mark.parametrize("name,text,message", [
    ("a.csv", HEADER + "r1,A,v,c,t,2026-13-01,2027-01-01,\n", "a.csv row 1, training_completed: '2026-13-01' is not a date"),
    ("b.csv", HEADER + "r1,A,v,c,t,2026-01-01,2027-01-01,\n,B,v,c,t,2026-01-01,2027-01-01,\n", "b.csv row 2, reviewer_id: empty"),
    ("c.csv", HEADER + "r1,A,v,c,t,2026-02-01,2026-01-01,\n", "is before training_completed"),
    ("d.csv", HEADER + "r1,A,,c,t,2026-01-01,2027-01-01,\nr2,A,,c,t,x,2027-01-01,\n", "(2 rows with errors; nothing was loaded)"),
    ("e.csv", "reviewer_id,role\nr1,v\n", "the header lacks authority"),
    ("f.csv", HEADER.replace("systems", "salary") + "r1,A,v,c,t,2026-01-01,2027-01-01,1\n", "unknown column 'salary'"),
    ("g.csv", HEADER + "r1,A,v,c,t,2026-01-01,2027-01-01,,extra\n", "row 1: more fields"),
    ("h.csv", HEADER, "no reviewers"),
    ("o.csv", HEADER + "r1,A,v,c,t,2026-01-01,9999-01-01,\n", "training_expires: 9999-01-01 is not between 1970 and 2200"),
    ("i.csv", HEADER + "r1,A,v,c," + "x" * 2000 + ",2026-01-01,2027-01-01,\n", "longer than"),
    ("j.yaml", "reviewers: &a [*a]\n", "aliases"),
    ("k.yaml", "a: [b\n", "not valid YAML"),
    ("l.yaml", "- r1\n", "'reviewers:' list"),
    ("m.csv", "\x00\x01binary", "binary"),
    ("n.csv", HEADER + '"r1,A\n', "cannot be split"),
])
def test_bad_registers_are_one_line_errors_and_store_nothing(db, tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(HitlgovError) as info:
        load_register(db, f)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert _rows(db) == []


def test_fifo_huge_and_missing(db, tmp_path):
    fifo = tmp_path / "reg.csv"
    os.mkfifo(fifo)
    with pytest.raises(HitlgovError, match="not a regular file"):
        load_register(db, fifo)
    big = tmp_path / "big.csv"
    with big.open("wb") as fh:
        fh.truncate(21 * 1024 * 1024)
    with pytest.raises(HitlgovError, match="at most"):
        load_register(db, big)
    with pytest.raises(HitlgovError, match="cannot read"):
        load_register(db, tmp_path / "missing.csv")


def test_cli(db, tmp_path):
    f = tmp_path / "reg.csv"
    f.write_text(GOOD)
    r = CliRunner().invoke(app, ["register", "load", str(f), "--db", str(db)])
    assert r.exit_code == 0 and "2 reviewers" in r.output and "duplicates 1" in r.output
    f.write_text(HEADER + "r1,A,v,c,t,bad,2027-01-01,\n")
    r = CliRunner().invoke(app, ["register", "load", str(f), "--db", str(db)])
    assert r.exit_code == 1 and "row 1, training_completed" in r.output and "Traceback" not in r.output
