"""Start the dashboard: ``hitlgov serve [--db FILE] [--engine URL] [--port N] [--headless/--browser]``.

Runs ``streamlit run dashboard/app.py`` in a child process (Streamlit owns its event loop and
signal handling) from the repository root, so the theme in ``.streamlit/config.toml`` applies.
The store path reaches the app through ``$HITLGOV_DB`` and as ``--db`` after ``--``; an engine
URL (``--engine``, see :mod:`metrics.engines`) through ``$HITLGOV_ENGINE`` and ``--engine``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hitlgov import store

APP = Path(__file__).resolve().parent / "app.py"
ROOT = APP.parent.parent


def command(db: Path, port: int, headless: bool, engine: str | None = None) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--client.toolbarMode", "minimal",
        "--theme.base", "light",
        "--theme.primaryColor", "#1D4ED8",
        "--", "--db", str(db),
    ] + (["--engine", engine] if engine else [])


def serve(db=None, port: int = 8501, headless: bool = True, engine: str | None = None) -> int:
    """Run the app until it is stopped (Ctrl-C / SIGTERM).

    On POSIX the process *becomes* Streamlit (``exec``), so signals reach it directly and no
    orphan is left behind; elsewhere Streamlit runs as a child and its exit status is returned.
    A missing store is not an error here: the app says so on every page.
    """
    path = store.resolve_db(db).resolve()
    env = dict(os.environ, HITLGOV_DB=str(path), PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    if engine:
        env["HITLGOV_ENGINE"] = engine
    else:
        env.pop("HITLGOV_ENGINE", None)
    where = f"engine {engine}" if engine else f"store {path}, read-only"
    print(f"hitlgov dashboard on http://localhost:{port}  ({where}; Ctrl-C to stop)", flush=True)
    cmd = command(path, port, headless, engine)
    if os.name == "posix":
        os.chdir(ROOT)
        os.execve(sys.executable, cmd, env)
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env)  # pragma: no cover - non-POSIX
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
