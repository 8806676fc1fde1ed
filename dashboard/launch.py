"""Start the dashboard: ``hitlgov serve [--db FILE] [--engine URL] [--port N] [--headless/--browser]``.

Runs ``streamlit run <installed app.py>`` (Streamlit owns its event loop and signal handling).
Streamlit looks for ``.streamlit/config.toml`` in the *working directory*, which is the user's,
not ours; so the app's settings ship in the package (``streamlit_config.toml``) and are passed as
command-line options, which Streamlit ranks above any config file. Nothing depends on where the
command is started from. The store path reaches the app through ``$HITLGOV_DB`` and as ``--db``
after ``--``; an engine URL (``--engine``, see :mod:`hitlgov.metrics.engines`) through
``$HITLGOV_ENGINE`` and ``--engine``.

Who may connect (``docs/security.md``): the server binds ``127.0.0.1`` unless ``--host`` says
otherwise, and :func:`check_binding` refuses a non-loopback address without sign-in. Sign-in is
local accounts (the store's ``users`` table), OpenID Connect (``--auth FILE``), or, explicitly,
none (``--no-auth``: one person on this machine, loopback only). The app learns the mode from
``$HITLGOV_AUTH_FILE`` / ``$HITLGOV_AUTH`` and refuses to show anything when neither is set.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import tomllib
from importlib import resources
from pathlib import Path

from hitlgov import authconfig, store
from hitlgov.errors import HitlgovError

APP = resources.files("hitlgov.dashboard").joinpath("app.py")
CONFIG = resources.files("hitlgov.dashboard").joinpath("streamlit_config.toml")
#: an empty secrets file (Streamlit accepts only a ``.toml`` file or a folder; /dev/null is neither)
NO_SECRETS = resources.files("hitlgov.dashboard").joinpath("no_secrets.toml")


def config_options() -> list[str]:
    """The packaged Streamlit settings as ``--section.key value`` options."""
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    options: list[str] = []
    for section, values in settings.items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            options += [f"--{section}.{key}", text]
    return options


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError, OSError):
        raise HitlgovError(f"--host {host!r}: not an IP address or a name this machine can resolve") from None
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def local_accounts(db) -> int:
    """Enabled local accounts in the store (0 when there is no store yet)."""
    path = store.resolve_db(db)
    if not path.exists():
        return 0
    with store.connect(path, read_only=True) as con:
        return con.execute("SELECT count(*) FROM users WHERE NOT disabled").fetchall()[0][0]


def auth_mode(db, host: str, auth_file=None, no_auth: bool = False) -> authconfig.AuthConfig | None:
    """The sign-in the server will require (None: single-user mode), or a one-line refusal."""
    if no_auth and auth_file:
        raise HitlgovError("--no-auth and --auth FILE contradict each other: choose one")
    loopback = is_loopback(host)  # first: an unresolvable --host is its own one-line error
    if no_auth:
        if not loopback:
            raise HitlgovError(f"--no-auth serves one person on this machine and binds loopback only; "
                               f"refusing --host {host} without sign-in (use --auth FILE or local accounts)")
        return None
    if auth_file:
        config = authconfig.load(auth_file)
        if config.local and not config.oidc and not local_accounts(db):
            raise HitlgovError(f"{config.source}: local accounts enabled but {store.resolve_db(db)} has none: "
                               "add one with `hitlgov user add NAME --role admin`")
        return config
    if local_accounts(db):
        return authconfig.AuthConfig(source="local accounts in the store", local=True)
    raise HitlgovError("no sign-in configured: add a local account (`hitlgov user add NAME --role admin`), "
                       "pass --auth FILE (OpenID Connect, see docs/security.md), or --no-auth for a single user "
                       "on this machine")


def _secrets_file(config: authconfig.AuthConfig) -> Path:
    """Streamlit's ``[auth]`` secrets in a private file (0600 in a 0700 folder), for st.login."""
    folder = Path(tempfile.mkdtemp(prefix="hitlgov-auth-"))
    path = folder / "secrets.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(authconfig.streamlit_secrets(config, secrets.token_urlsafe(32)))
    return path


def command(db, port: int, headless: bool, engine: str | None = None, host: str = "127.0.0.1",
            secrets_file: Path | None = None) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        *config_options(),
        "--server.address", host,
        # one secrets file, ours: never a .streamlit/secrets.toml lying in the user's working directory
        "--secrets.files", str(secrets_file) if secrets_file else str(NO_SECRETS),
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--server.fileWatcherType", "none",
        "--", "--db", str(db),
    ] + (["--engine", engine] if engine else [])


def start_warm_up(path: Path, env: dict) -> subprocess.Popen | None:
    """Start :mod:`hitlgov.dashboard.warmup` in the background (low priority, its own session, no
    output): it fills the store's result cache with every page's default view and stops when
    the server (this process, which becomes Streamlit) is gone."""
    if not path.exists():
        return None
    try:
        return subprocess.Popen([sys.executable, "-m", "hitlgov.dashboard.warmup", "--db", str(path),
                                 "--parent", str(os.getpid())], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:  # no warm-up: every page is computed on its first visit
        return None


def serve(db=None, port: int = 8501, headless: bool = True, engine: str | None = None, host: str = "127.0.0.1",
          auth_file=None, no_auth: bool = False, warm_up: bool = True) -> int:
    """Run the app until it is stopped (Ctrl-C / SIGTERM).

    ``warm_up`` (not for an engine, which has no store cache) computes every page's default view
    once in the background (:func:`start_warm_up`).

    On POSIX the process *becomes* Streamlit (``exec``), so signals reach it directly and no
    orphan is left behind; elsewhere Streamlit runs as a child and its exit status is returned.
    A missing store is not an error here: the app says so on every page.
    """
    path = store.resolve_db(db).resolve()
    config = auth_mode(path, host, auth_file, no_auth)
    env = dict(os.environ, HITLGOV_DB=str(path))
    env.pop(authconfig.ENV_MODE, None)
    env.pop(authconfig.ENV_FILE, None)
    secrets_file = None
    if config is None:
        env[authconfig.ENV_MODE] = "none"
    elif auth_file:
        env[authconfig.ENV_FILE] = config.source
        secrets_file = _secrets_file(config) if config.oidc else None
    else:
        env[authconfig.ENV_MODE] = "local"
    if engine:
        env["HITLGOV_ENGINE"] = engine
    else:
        env.pop("HITLGOV_ENGINE", None)
    where = f"engine {engine}" if engine else f"store {path}, read-only"
    who = ("single user, no sign-in" if config is None else
           " + ".join(m for m, on in (("OpenID Connect", config.oidc), ("local accounts", config.local)) if on))
    shown = f"[{host}]" if ":" in host else host
    print(f"hitlgov dashboard on http://{shown}:{port}  ({where}; {who}; Ctrl-C to stop)", flush=True)
    cmd = command(path, port, headless, engine, host=host, secrets_file=secrets_file)
    if warm_up and not engine:
        from hitlgov.dashboard import warmup

        if not warmup.disabled():
            start_warm_up(path, env)
    if os.name == "posix":
        os.execve(sys.executable, cmd, env)
    proc = subprocess.Popen(cmd, env=env)  # pragma: no cover - non-POSIX
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
