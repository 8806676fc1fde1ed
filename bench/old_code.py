"""Run a command of another checkout of hitlgov in this interpreter (the bench's "before" document).

``python bench/old_code.py TREE -- hitlgov-args...`` imports ``hitlgov`` from ``TREE`` (a
``git archive`` of an earlier commit: ``hitlgov/``, ``metrics/``, ``dashboard/``, ``reports/``,
mapped as setuptools' ``package-dir`` maps them) instead of the installed package, then runs its
CLI. The libraries (DuckDB, Ibis, ...) are this environment's, so the comparison isolates the
change in hitlgov's own code.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path


class _Tree(importlib.abc.MetaPathFinder):
    def __init__(self, root: Path):
        self.map = {"hitlgov": root / "hitlgov", "hitlgov.metrics": root / "metrics",
                    "hitlgov.dashboard": root / "dashboard", "hitlgov.reports": root / "reports"}

    def find_spec(self, name, path=None, target=None):
        if name in self.map:
            init = self.map[name] / "__init__.py"
            return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(self.map[name])])
        return None


def use(root: str | Path) -> None:
    for name in [m for m in sys.modules if m == "hitlgov" or m.startswith("hitlgov.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _Tree(Path(root).resolve()))


if __name__ == "__main__":
    tree, _sep, *args = sys.argv[1:]
    use(tree)
    from hitlgov.cli import app

    sys.argv = ["hitlgov", *args]
    app()
