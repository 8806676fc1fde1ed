"""Heavy imports started on a background thread, and the one rule that makes that safe.

Why a background import at all: importing Evidently costs seconds of pure-Python class building,
while a metrics run spends most of its time inside DuckDB, which releases the GIL; importing it
meanwhile hides the cost. Why :func:`settle`: Evidently and crowd-kit both import nltk and
scikit-learn. Two threads importing overlapping packages can each hold a module lock the other
needs; Python breaks such a deadlock by handing one of them a *partially initialised* module
("partially initialized module 'nltk' has no attribute ..."). So any other heavy import waits
for the background one to finish first (:func:`settle`), and one process starts one at most.
"""
from __future__ import annotations

import importlib
import sys
import threading

_started: dict[str, threading.Thread] = {}
_lock = threading.Lock()


def start(module: str) -> threading.Thread | None:
    """Import ``module`` on a background thread, once per process; ``None`` if it is already
    imported. An import error is left for the real import to raise where it matters."""
    with _lock:
        if module in _started:
            return _started[module]
        if module in sys.modules:
            return None

        def load() -> None:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - the caller's own import raises it
                pass

        thread = _started[module] = threading.Thread(target=load, name=f"hitlgov-preload-{module}", daemon=True)
        thread.start()
        return thread


def settle() -> None:
    """Wait until every background import has finished: call before another heavy import."""
    for thread in list(_started.values()):
        if thread is not threading.current_thread():
            thread.join()
