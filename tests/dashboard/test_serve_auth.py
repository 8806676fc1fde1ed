"""``hitlgov serve``: who may connect. Binds 127.0.0.1 by default, refuses a non-loopback address
without sign-in, and reads the authentication file with one-line errors.

The binding is checked on a real server: started with the defaults, it answers on 127.0.0.1 and
refuses a connection on the machine's own non-loopback address.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import browser_helpers as bh
from hitlgov import accounts, authconfig, store
from hitlgov.cli import app
from hitlgov.dashboard import launch
from hitlgov.errors import HitlgovError

PASSWORD = "correct horse battery staple"
HITLGOV = Path(sys.executable).parent / "hitlgov"


def serve(*args):
    return CliRunner().invoke(app, ["serve", *args])


def secret(tmp_path: Path, name: str = "client-secret", text: str = "s3cret", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def oidc_file(tmp_path: Path, **over) -> Path:
    secret(tmp_path)
    values = {"server_metadata_url": '"https://idp.example.com/.well-known/openid-configuration"',
              "client_id": '"hitlgov"', "client_secret_file": '"client-secret"',
              "redirect_uri": '"https://hitlgov.example.com/oauth2callback"', "role_claim": '"groups"', **over}
    body = "".join(f"{k} = {v}\n" for k, v in values.items() if v is not None)
    path = tmp_path / "auth.toml"
    path.write_text(f"[oidc]\n{body}[oidc.roles]\n\"hitlgov-auditors\" = \"auditor\"\n\"hg-exec\" = \"executive\"\n")
    return path


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_addresses(host):
    assert launch.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.10"])
def test_non_loopback_addresses(host):
    assert not launch.is_loopback(host)


def test_serve_refuses_to_expose_without_sign_in(tmp_path):
    db = tmp_path / "s.duckdb"
    r = serve("--db", str(db), "--no-auth", "--host", "0.0.0.0")
    assert r.exit_code == 1 and "refusing --host 0.0.0.0 without sign-in" in r.output
    r = serve("--db", str(db), "--host", "0.0.0.0")
    assert r.exit_code == 1 and "no sign-in configured" in r.output
    r = serve("--db", str(db))            # loopback, but not *explicitly* single-user either
    assert r.exit_code == 1 and "--no-auth" in r.output
    r = serve("--db", str(db), "--no-auth", "--auth", str(oidc_file(tmp_path)))
    assert r.exit_code == 1 and "contradict" in r.output
    r = serve("--db", str(db), "--host", "no-such-host.invalid")
    assert r.exit_code == 1 and "no-such-host.invalid" in r.output and "Traceback" not in r.output


def test_auth_modes(tmp_path):
    db = tmp_path / "s.duckdb"
    assert launch.auth_mode(db, "127.0.0.1", no_auth=True) is None
    with pytest.raises(HitlgovError, match="has none"):  # local accounts enabled, but there are none
        (tmp_path / "local.toml").write_text("[local]\nenabled = true\n")
        launch.auth_mode(db, "0.0.0.0", tmp_path / "local.toml")
    accounts.add_user(db, "alice", "admin", PASSWORD)
    mode = launch.auth_mode(db, "0.0.0.0")                # local accounts exist: exposing is allowed
    assert mode.local and mode.oidc is None
    accounts.set_disabled(db, "alice", True)               # ...but a disabled account does not count
    with pytest.raises(HitlgovError, match="no sign-in configured"):
        launch.auth_mode(db, "0.0.0.0")
    mode = launch.auth_mode(db, "0.0.0.0", oidc_file(tmp_path))
    assert mode.oidc.client_secret == "s3cret" and mode.oidc.role_claim == "groups"


def test_launch_command_binds_loopback_and_uses_only_our_secrets(tmp_path):
    cmd = launch.command(tmp_path / "x.duckdb", 8765, True)
    joined = " ".join(cmd)
    assert "--server.address 127.0.0.1" in joined
    # one secrets file, ours: a real, empty TOML file shipped in the package (never /dev/null, which
    # Streamlit refuses with "Failed to load secrets"; never a secrets.toml from the working directory)
    assert f"--secrets.files {launch.NO_SECRETS}" in joined and os.devnull not in joined
    import tomllib

    assert Path(str(launch.NO_SECRETS)).is_file() and tomllib.loads(launch.NO_SECRETS.read_text()) == {}
    config = authconfig.load(oidc_file(tmp_path))
    path = launch._secrets_file(config)
    assert (path.stat().st_mode & 0o777) == 0o600 and (path.parent.stat().st_mode & 0o777) == 0o700
    import tomllib

    section = tomllib.loads(path.read_text())["auth"]
    assert section["client_secret"] == "s3cret" and section["client_id"] == "hitlgov"
    assert section["server_metadata_url"].endswith("/.well-known/openid-configuration")
    assert len(section["cookie_secret"]) >= 32


def test_oidc_role_mapping(tmp_path):
    o = authconfig.load(oidc_file(tmp_path)).oidc
    assert o.roles_of({"groups": ["hitlgov-auditors", "staff"]}) == {"auditor"}
    assert o.roles_of({"groups": "hg-exec"}) == {"executive"}
    assert o.roles_of({"groups": ["staff"]}) == set()
    assert o.roles_of({"roles": ["hitlgov-auditors"]}) == set()   # another claim grants nothing
    assert o.roles_of({"groups": [{"x": 1}, None, 3]}) == set()


def test_yaml_auth_file(tmp_path):
    secret(tmp_path)
    (tmp_path / "auth.yaml").write_text(
        "local: {enabled: true}\noidc:\n  server_metadata_url: http://localhost:9/.well-known/openid-configuration\n"
        "  client_id: hitlgov\n  client_secret_file: client-secret\n"
        "  redirect_uri: http://localhost:8501/oauth2callback\n  roles: {admins: admin}\n")
    config = authconfig.load(tmp_path / "auth.yaml")
    assert config.local and config.oidc.roles == {"admins": "admin"} and config.oidc.role_claim == "roles"


@pytest.mark.parametrize("over, message", [
    ({"client_id": None}, "oidc.client_id is required"),
    ({"redirect_uri": '"http://hitlgov.example.com/oauth2callback"'}, "must be https://"),
    ({"redirect_uri": '"https://hitlgov.example.com/callback"'}, "must end in /oauth2callback"),
    ({"server_metadata_url": '"ftp://idp"'}, "must be https://"),
    ({"client_secret": '"inline"'}, "exactly one of client_secret_file"),
    ({"client_secret_file": '"missing-file"'}, "not found"),
    ({"role_claim": "3"}, "oidc.role_claim"),
    ({"surprise": "1"}, "unknown key(s) surprise"),
])
def test_bad_auth_files_give_one_line(tmp_path, over, message):
    path = oidc_file(tmp_path, **over)
    with pytest.raises(HitlgovError) as exc:
        authconfig.load(path)
    assert message in str(exc.value) and str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_secret_readable_by_everyone_is_refused(tmp_path):
    path = oidc_file(tmp_path)
    secret(tmp_path, mode=0o644)
    with pytest.raises(HitlgovError, match="readable by every user"):
        authconfig.load(path)


@pytest.mark.parametrize("text", ["[oidc\n", "= 1", "[local]\nenabled = 'yes'\n", "[admin]\n", "",
                                  "[oidc]\nroles = {}\n"])
def test_malformed_auth_files(tmp_path, text):
    path = tmp_path / "auth.toml"
    path.write_text(text)
    r = serve("--db", str(tmp_path / "s.duckdb"), "--auth", str(path))
    assert r.exit_code == 1 and str(path) in r.output and "Traceback" not in r.output


def test_auth_file_that_is_a_fifo_or_huge(tmp_path):
    fifo = tmp_path / "auth.toml"
    os.mkfifo(fifo)
    r = serve("--db", str(tmp_path / "s.duckdb"), "--auth", str(fifo))  # must not block on the FIFO
    assert r.exit_code == 1 and "not a regular file" in r.output
    huge = tmp_path / "huge.toml"
    huge.write_text("# x\n" * 300_000)
    r = serve("--db", str(tmp_path / "s.duckdb"), "--auth", str(huge))
    assert r.exit_code == 1 and "larger than" in r.output


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (None on a machine without one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent by connect() on UDP
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


def test_served_dashboard_listens_on_loopback_only(tmp_path):
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    db = tmp_path / "s.duckdb"
    with store.connect(db):
        pass
    port = bh.free_port()
    cmd = [str(HITLGOV) if HITLGOV.exists() else "hitlgov", "serve", "--no-auth", "--db", str(db), "--port", str(port)]
    with bh.served(cmd, port, tmp_path / "serve.log"):
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        with pytest.raises(OSError):
            socket.create_connection((outside, port), timeout=2).close()


def test_served_dashboard_loads_only_its_own_empty_secrets(tmp_path):
    """The serve log has no "Failed to load secrets", and a ``.streamlit/secrets.toml`` in the
    working directory is never read: this one is not even valid TOML, so reading it would log
    Streamlit's "Error parsing secrets file"."""
    db = tmp_path / "s.duckdb"
    with store.connect(db):
        pass
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[auth\nclient_secret = 'from-the-working-directory'\n")
    port = bh.free_port()
    log = tmp_path / "serve.log"
    cmd = [str(HITLGOV) if HITLGOV.exists() else "hitlgov", "serve", "--no-auth", "--db", str(db), "--port", str(port)]
    with bh.served(cmd, port, log, cwd=tmp_path):
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:  # the app page is served
            assert r.status == 200
    text = log.read_text()
    assert "hitlgov dashboard on http://127.0.0.1" in text  # the log is the server's (it did start)
    assert "secrets" not in text.lower(), text[-2000:]
