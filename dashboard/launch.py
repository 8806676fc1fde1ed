"""Start the dashboard: ``hitlgov serve [--db FILE] [--engine URL] [--port N] [--headless/--browser]``.

Runs ``streamlit run <installed app.py>`` (Streamlit owns its event loop and signal handling).
Streamlit looks for ``.streamlit/config.toml`` in the *working directory*, which is the user's,
not ours; so the app's settings ship in the package (``streamlit_config.toml``) and are passed as
command-line options, which Streamlit ranks above any config file. Nothing depends on where the
command is started from. The store path reaches the app through ``$HITLGOV_DB`` and as ``--db``
after ``--``; an engine URL (``--engine``, see :mod:`hitlgov.metrics.engines`) through
``$HITLGOV_ENGINE`` and ``--engine``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import resources

from hitlgov import store

APP = resources.files("hitlgov.dashboard").joinpath("app.py")
CONFIG = resources.files("hitlgov.dashboard").joinpath("streamlit_config.toml")


def config_options() -> list[str]:
    """The packaged Streamlit settings as ``--section.key value`` options."""
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    options: list[str] = []
    for section, values in settings.items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            options += [f"--{section}.{key}", text]
    return options


def command(db, port: int, headless: bool, engine: str | None = None) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        *config_options(),
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--server.fileWatcherType", "none",
        "--", "--db", str(db),
    ] + (["--engine", engine] if engine else [])


def serve(db=None, port: int = 8501, headless: bool = True, engine: str | None = None) -> int:
    """Run the app until it is stopped (Ctrl-C / SIGTERM).

    On POSIX the process *becomes* Streamlit (``exec``), so signals reach it directly and no
    orphan is left behind; elsewhere Streamlit runs as a child and its exit status is returned.
    A missing store is not an error here: the app says so on every page.
    """
    path = store.resolve_db(db).resolve()
    env = dict(os.environ, HITLGOV_DB=str(path))
    if engine:
        env["HITLGOV_ENGINE"] = engine
    else:
        env.pop("HITLGOV_ENGINE", None)
    where = f"engine {engine}" if engine else f"store {path}, read-only"
    print(f"hitlgov dashboard on http://localhost:{port}  ({where}; Ctrl-C to stop)", flush=True)
    cmd = command(path, port, headless, engine)
    if os.name == "posix":
        os.execve(sys.executable, cmd, env)
    proc = subprocess.Popen(cmd, env=env)  # pragma: no cover - non-POSIX
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
