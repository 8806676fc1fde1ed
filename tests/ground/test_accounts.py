"""Local accounts and attribution: ``hitlgov user ...``, Argon2id hashes, the actor on every event.

The hashes are checked against argon2-cffi itself (a second implementation of the verification:
``PasswordHasher().verify``) and by their encoded parameters (``$argon2id$v=19$m=65536,t=3,p=4``,
RFC 9106's second recommended profile), not by our own code reading back what it wrote.
"""
from __future__ import annotations

import getpass
import json
import os

import duckdb
import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from hitlgov import accounts, actor, store
from hitlgov.cli import app
from hitlgov.errors import HitlgovError

PASSWORD = "correct horse battery staple"


def cli(*args, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def events(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT kind, actor, subject, CAST(detail AS VARCHAR) FROM audit_events ORDER BY seq").fetchall()


def test_user_add_stores_an_argon2id_hash_never_the_password(tmp_path):
    db = tmp_path / "s.duckdb"
    r = cli("user", "add", "alice", "--role", "auditor", "--password-stdin", "--db", str(db), input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    with duckdb.connect(str(db), read_only=True) as con:
        [(name, role, digest, disabled)] = con.execute("SELECT name, role, password_hash, disabled FROM users").fetchall()
        everything = " ".join(str(row) for t in ("users", "audit_events")
                              for row in con.execute(f"SELECT * FROM {t}").fetchall())
    assert (name, role, disabled) == ("alice", "auditor", False)
    assert digest.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PasswordHasher().verify(digest, PASSWORD)          # argon2-cffi's own verification
    assert PASSWORD not in everything and PASSWORD not in r.output
    assert open(db, "rb").read().find(PASSWORD.encode()) == -1  # not in the file's bytes either
    [(kind, who, subject, detail)] = events(db)
    detail = json.loads(detail)
    assert (kind, subject, detail["role"]) == ("user_added", "alice", "auditor")
    assert list(detail["rows"]["users"]["leaves"]) == ["alice"]   # the row is committed (a leaf, not the hash)
    assert digest not in json.dumps(detail)
    assert who == getpass.getuser()                              # the CLI's actor is the OS user


@pytest.mark.parametrize("name", ["", " ", "bob;drop table users", "../etc", "a" * 65, "-leading", "bob\nadmin",
                                  "<script>", "böb", "bob smith", "\x00"])
def test_hostile_user_names_are_refused_with_one_line(tmp_path, name):
    db = tmp_path / "s.duckdb"
    r = cli("user", "add", "--role", "auditor", "--password-stdin", "--db", str(db), "--", name, input=PASSWORD + "\n")
    assert r.exit_code == 1
    assert "user name" in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) <= 3
    assert not db.exists() or not list_names(db)


def list_names(db) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [n for (n,) in con.execute("SELECT name FROM users").fetchall()]


@pytest.mark.parametrize("password, message", [("", "empty password"), ("\n", "empty password"),
                                               ("short", "too short"), ("x" * 2000, "too long")])
def test_bad_passwords_are_refused_and_nothing_is_stored(tmp_path, password, message):
    db = tmp_path / "s.duckdb"
    r = cli("user", "add", "alice", "--role", "auditor", "--password-stdin", "--db", str(db), input=password)
    assert r.exit_code == 1 and message in r.output, r.output
    assert not db.exists() or not list_names(db)


def test_unknown_role_and_duplicate_name(tmp_path):
    db = tmp_path / "s.duckdb"
    r = cli("user", "add", "alice", "--role", "superuser", "--password-stdin", "--db", str(db), input=PASSWORD)
    assert r.exit_code == 1 and "expected one of executive, compliance, auditor, data_steward, admin" in r.output
    assert cli("user", "add", "alice", "--role", "data-steward", "--password-stdin", "--db", str(db),
               input=PASSWORD).exit_code == 0
    r = cli("user", "add", "alice", "--role", "admin", "--password-stdin", "--db", str(db), input=PASSWORD)
    assert r.exit_code == 1 and "already exists" in r.output
    assert accounts.list_users(db)[0]["role"] == "data_steward"   # the first account is untouched


def test_passwd_disable_enable_and_authenticate(tmp_path):
    db = tmp_path / "s.duckdb"
    accounts.add_user(db, "alice", "compliance", PASSWORD)
    with store.connect(db, read_only=True) as con:
        assert accounts.authenticate(con, "alice", PASSWORD).role == "compliance"
        assert accounts.authenticate(con, "alice", PASSWORD + "x") is None
        assert accounts.authenticate(con, "nobody", PASSWORD) is None
        assert accounts.authenticate(con, "alice", "") is None
    r = cli("user", "passwd", "alice", "--password-stdin", "--actor", "it-ops", "--db", str(db),
            input="a brand new long secret\n")
    assert r.exit_code == 0, r.output
    with store.connect(db, read_only=True) as con:
        assert accounts.authenticate(con, "alice", PASSWORD) is None
        assert accounts.authenticate(con, "alice", "a brand new long secret").name == "alice"
    assert cli("user", "disable", "alice", "--db", str(db)).exit_code == 0
    with store.connect(db, read_only=True) as con:   # a disabled user cannot sign in, right password or not
        assert accounts.authenticate(con, "alice", "a brand new long secret") is None
        assert accounts.lookup(con, "alice").disabled
    assert "already disabled" in cli("user", "disable", "alice", "--db", str(db)).output
    assert cli("user", "enable", "alice", "--db", str(db)).exit_code == 0
    r = cli("user", "passwd", "nobody", "--password-stdin", "--db", str(db), input=PASSWORD)
    assert r.exit_code == 1 and "no user 'nobody'" in r.output
    kinds = [(k, a) for k, a, _s, _d in events(db)]
    assert kinds == [("user_added", getpass.getuser()), ("user_password_changed", "it-ops"),
                     ("user_disabled", getpass.getuser()), ("user_enabled", getpass.getuser())]
    listed = json.loads(cli("user", "list", "--json", "--db", str(db)).output)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [("alice", "compliance", False)]
    assert "hash" not in json.dumps(listed) and "argon2" not in json.dumps(listed)


def test_password_is_never_an_argument_and_needs_a_terminal_or_stdin(tmp_path):
    r = cli("user", "add", "alice", "--role", "auditor", "--password", "x", "--db", str(tmp_path / "s.duckdb"))
    assert r.exit_code == 2   # no such option: a password on the command line is readable by `ps`
    r = cli("user", "add", "alice", "--role", "auditor", "--db", str(tmp_path / "s.duckdb"), input="")
    assert r.exit_code == 1 and "--password-stdin" in r.output


@pytest.mark.parametrize("name", ["", "x" * 201, "bob\nforged line"])
def test_hostile_actor_is_refused(tmp_path, name):
    r = cli("user", "add", "alice", "--role", "auditor", "--password-stdin", "--actor", name,
            "--db", str(tmp_path / "s.duckdb"), input=PASSWORD)
    assert r.exit_code == 1 and "--actor" in r.output
    assert not (tmp_path / "s.duckdb").exists() or not list_names(tmp_path / "s.duckdb")


def test_os_user_fallback_without_a_name(monkeypatch):
    def no_name():
        raise KeyError("getpwuid(): uid not found")
    monkeypatch.setattr(getpass, "getuser", no_name)
    assert actor.os_user() == f"uid-{os.getuid()}"
    with actor.acting_as("local:alice"):
        assert actor.current() == "local:alice"
        with actor.acting_as("oidc:bob@example.com"):
            assert actor.current() == "oidc:bob@example.com"
        assert actor.current() == "local:alice"
    with pytest.raises(HitlgovError):
        actor.check("a\x1bb")
