"""The suite's AppTest harness: installed packages are scanned for Streamlit components once per
test process (tests/conftest.py), not once per ``AppTest`` -- the scan was ~0.3-0.5 s of CPU
per AppTest and a third of a cached page render. If Streamlit moves or renames the scanner,
the patch silently stops applying and the suite slows down again: this test says so."""
from __future__ import annotations

import importlib.metadata

from streamlit.testing.v1 import AppTest


def test_a_new_apptest_does_not_rescan_the_installed_packages(tmp_path, monkeypatch):
    app = tmp_path / "app.py"
    app.write_text("import streamlit as st\nst.write('hello')\n")
    AppTest.from_file(str(app)).run()  # the process's first AppTest may scan (once)
    scans = []
    real = importlib.metadata.distributions

    def counting(*args, **kwargs):
        scans.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(importlib.metadata, "distributions", counting)
    for _ in range(2):
        at = AppTest.from_file(str(app)).run()
        assert [m.value for m in at.markdown] == ["hello"]
    assert scans == [], f"each new AppTest scanned the installed distributions ({len(scans)} scans)"
