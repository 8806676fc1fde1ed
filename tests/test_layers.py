"""The package's shape: one ``hitlgov`` namespace, and layers whose arrows only point down.

Layers (README, "Layout"), bottom to top:

    ground     hitlgov.{errors, store, schema, audit, yamlfile, limits, pseudonym, palette, formats, result_cache, integrity, actor, accounts, authconfig}
    ingest     hitlgov.{ingest, adapters, mapping, export, demo}     (ground)
    metrics    hitlgov.metrics                                      (ground)
    oversight  hitlgov.oversight                                    (ground, ingest, metrics)
    reports    hitlgov.reports                                      (ground, metrics)
    dashboard  hitlgov.dashboard                                    (ground, ingest, metrics, reports, oversight)
    cli        hitlgov.cli                                          (everything)

Imports are read from the source with ``ast`` (function-level imports included), so a lazy
import cannot hide an arrow that runs back up.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"hitlgov": "hitlgov", "metrics": "hitlgov.metrics", "dashboard": "hitlgov.dashboard",
           "reports": "hitlgov.reports"}
GROUND = {"errors", "store", "case_keys", "schema", "audit", "checkpoint", "yamlfile", "limits", "pseudonym", "palette", "formats",
          "hookspecs", "result_cache", "integrity", "__init__", "actor", "accounts", "authconfig"}
INGEST = {"ingest", "adapters", "mapping", "export", "demo"}
ALLOWED = {
    "ground": {"ground"},
    "ingest": {"ground", "ingest"},
    "metrics": {"ground", "metrics"},
    "reports": {"ground", "metrics", "reports"},
    "oversight": {"ground", "ingest", "metrics", "oversight"},
    "dashboard": {"ground", "ingest", "metrics", "reports", "oversight", "dashboard"},
    "cli": {"ground", "ingest", "metrics", "reports", "oversight", "dashboard", "cli"},
}


def modules() -> dict[str, Path]:
    """Every module of the package by its import name."""
    out = {}
    for folder, prefix in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([prefix, *parts])] = path
    return out


MODULES = modules()


def layer(name: str) -> str:
    parts = name.split(".")
    if parts[0] != "hitlgov":
        raise ValueError(name)
    if len(parts) == 1:
        return "ground"
    top = parts[1]
    if top in ("metrics", "reports", "dashboard", "cli", "oversight"):
        return top
    if top in INGEST:
        return "ingest"
    if top in GROUND:
        return "ground"
    raise AssertionError(f"{name}: no layer assigned (add it to tests/test_layers.py and the README)")


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "hitlgov":  # from hitlgov import store -> hitlgov.store (not __version__)
                found += [(node.lineno, f"hitlgov.{a.name}") for a in node.names if f"hitlgov.{a.name}" in MODULES]
    return found


def _python_files():
    for folder in (*FOLDERS, "tests", "bench"):
        yield from (ROOT / folder).rglob("*.py")


@pytest.mark.parametrize("path", sorted(_python_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_bare_import_of_a_design_card_folder(path):
    bad = [f"{path.relative_to(ROOT)}:{line}: import {name}" for line, name in imports(path)
           if name.split(".")[0] in ("metrics", "reports", "dashboard")]
    assert not bad, "import these as hitlgov.metrics / hitlgov.reports / hitlgov.dashboard:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", sorted((ROOT / "tests").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_tests_do_not_import_the_checkout_as_a_package(path):
    """``tests.x`` only imports when the checkout is on sys.path; the suite runs against the install."""
    bad = [f"{path.relative_to(ROOT)}:{line}: import {name}" for line, name in imports(path)
           if name.split(".")[0] in ("tests", "bench")]
    assert not bad, "\n".join(bad)


def test_layers_only_point_down():
    wrong = []
    for name, path in sorted(MODULES.items()):
        mine = layer(name)
        for line, target in imports(path):
            if not target.startswith("hitlgov"):
                continue
            theirs = layer(target)
            if theirs not in ALLOWED[mine]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target} ({theirs})")
    assert not wrong, "arrows running up:\n" + "\n".join(wrong)


def test_the_checker_sees_an_arrow_running_up(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from hitlgov.dashboard import fmt\n")
    assert [(2, "hitlgov.dashboard")] == [i for i in imports(bad) if i[1] == "hitlgov.dashboard"]
    assert layer("hitlgov.dashboard") not in ALLOWED[layer("hitlgov.reports.build")]
    assert layer("hitlgov.cli") not in ALLOWED[layer("hitlgov.metrics.summary")]
