"""The background import (Evidently, while DuckDB computes) and the rule that keeps another heavy
import off it: a partially initialised nltk was seen when crowd-kit was imported beside it."""
from __future__ import annotations

import sys
import textwrap

from hitlgov.metrics import _preload


def test_settle_waits_for_the_background_import_and_it_runs_once(tmp_path, monkeypatch):
    (tmp_path / "hitlgov_slow_import_probe.py").write_text(textwrap.dedent("""
        import time
        time.sleep(0.6)
        LOADED = True
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        first = _preload.start("hitlgov_slow_import_probe")
        assert first is not None and first.is_alive()  # still sleeping in the module body
        assert _preload.start("hitlgov_slow_import_probe") is first  # once per process
        _preload.settle()
        assert not first.is_alive()
        assert sys.modules["hitlgov_slow_import_probe"].LOADED
    finally:
        sys.modules.pop("hitlgov_slow_import_probe", None)
        _preload._started.pop("hitlgov_slow_import_probe", None)


def test_an_imported_module_is_not_imported_again():
    assert _preload.start("json") is None


def test_dawid_skene_waits_for_the_background_import(monkeypatch):
    """reviewer_quality settles the background import before it imports crowd-kit."""
    import pandas as pd
    from hitlgov.metrics import reviewer_quality

    calls = []
    monkeypatch.setattr(_preload, "settle", lambda: calls.append("settled"))
    ratings = pd.DataFrame({"case_id": ["c1", "c1", "c2", "c2"], "reviewer_id": ["a", "b", "a", "b"],
                            "label": ["yes", "yes", "no", "yes"]})
    reviewer_quality.dawid_skene(ratings)
    assert calls == ["settled"]
