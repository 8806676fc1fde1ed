"""CI runs every test: the tests left out of ``make test`` (marker ``long``) are those ``make
test-slow`` selects, and ``.ci/run`` runs both targets (a test moved out of the default suite
must not silently leave CI; if none carried the marker, pytest's exit 5 fails `make test-slow`)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _recipe(target: str) -> str:
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)+)", text, re.M)
    assert m, f"Makefile has no {target} target"
    return m.group(1)


def test_ci_runs_the_default_suite_and_the_long_tests():
    commands = [line.split("#")[0].strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in commands and "make test-slow" in commands
    assert '-m "not long"' in _recipe("test") and "-m long" in _recipe("test-slow")

