"""The installed product, not the checkout: build the wheel, install it into a fresh virtual
environment, and use it from an unrelated folder as a new user would.

The fresh environment gets the wheel and nothing of the checkout: its own ``site-packages``
holds the wheel's files, and the third-party dependencies come from the test environment's
``site-packages`` through a folder of links that leaves out everything of hitlgov (its
editable-install finder and metadata) -- a full dependency download would make the suite
minutes slower and prove nothing more about *our* files. Every command runs with the working
directory in a temporary folder, ``PYTHONPATH`` unset and ``-I``-clean paths, so an import that
only works from the checkout, a file missing from the wheel or a ``chdir`` into site-packages
fails here.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import browser_helpers as bh
import dashboard_helpers as helpers
import pytest

# `long`: run by `make test-slow` (CI runs it after `make test`), not by the default suite
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.long, pytest.mark.xdist_group("wheel")]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    # Build from a copy: setuptools keeps a build/ folder in the source tree, whose stale files
    # (a module since deleted) would end up in the wheel and hide a missing one.
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "demo", "*.duckdb*",
                                                             "artifacts", "__pycache__", ".pytest_cache", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(src)],
                   check=True, capture_output=True, text=True, cwd=work)
    [wheel] = dist.glob("hitlgov-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = Path(subprocess.check_output([str(venv / "bin" / "python"), "-c",
                                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    deps = work / "deps"
    deps.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            name = entry.name.lower()
            if name.startswith(("hitlgov", "__editable__", "_hitlgov")) or entry.suffix == ".pth":
                continue
            if not (deps / entry.name).exists():
                (deps / entry.name).symlink_to(entry)
    (target / "hitlgov-test-deps.pth").write_text(str(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, capture_output=True, text=True)
    return {"wheel": wheel, "venv": venv, "bin": venv / "bin", "site": target, "cwd": work / "user"}


def run(installed, *args, check=True):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HITLGOV_DB", "HITLGOV_ENGINE")}
    installed["cwd"].mkdir(exist_ok=True)
    done = subprocess.run([str(installed["bin"] / "hitlgov"), *args], cwd=installed["cwd"], env=env,
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"hitlgov {' '.join(args)} exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}")
    return done


def test_wheel_holds_one_namespace_and_every_runtime_file(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    [top_level] = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert zipfile.ZipFile(installed["wheel"]).read(top_level).decode().split() == ["hitlgov"]
    assert {n.split("/")[0] for n in names if not n.startswith("hitlgov-")} == {"hitlgov"}
    for needed in ("hitlgov/dashboard/assets/logo.svg", "hitlgov/dashboard/assets/icon.svg",
                   "hitlgov/dashboard/streamlit_config.toml", "hitlgov/dashboard/no_secrets.toml", "hitlgov/dashboard/app.py",
                   "hitlgov/dashboard/views/overview.py", "hitlgov/metrics/default_policy.yaml",
                   "hitlgov/reports/templates/print.css", "hitlgov/reports/templates/compliance.html.j2"):
        assert needed in names, needed


def test_installed_package_is_imported_from_the_venv_not_the_checkout(installed):
    code = ("import hitlgov, hitlgov.metrics, hitlgov.dashboard, hitlgov.reports, sys; "
            "print(hitlgov.__file__, hitlgov.metrics.__file__, hitlgov.dashboard.__file__, hitlgov.reports.__file__); "
            "import importlib.util as u; print([m for m in ('metrics', 'reports', 'dashboard') if u.find_spec(m)])")
    out = subprocess.run([str(installed["bin"] / "python"), "-c", code], cwd=installed["cwd"].parent,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    for path in out[0].split():
        assert path.startswith(str(installed["site"])), out
    assert out[1] == "[]", "top-level metrics/reports/dashboard importable: " + out[1]


def test_the_installed_product_end_to_end(installed):
    run(installed, "demo-data", "--out", "demo", "--cases", "3000", "--seed", "1")
    ingested = run(installed, "ingest", "demo/decisions.csv", "--mapping", "demo/mapping.yaml", "--json")
    assert json.loads(ingested.stdout.splitlines()[0])["stored"] > 2900
    metrics = json.loads(run(installed, "metrics", "--json", "--no-drift").stdout)
    assert metrics["counts"]["cases"] == 3000
    period = metrics["period"]
    run(installed, "report", "--from", period["from"], "--to", period["to"], "--system", "consumer-credit",
        "--out", "report.pdf")
    assert (installed["cwd"] / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert run(installed, "report", "--verify", "report.pdf").returncode == 0
    assert run(installed, "verify").returncode == 0

    port = bh.free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HITLGOV_DB", "HITLGOV_ENGINE")}
    cmd = [str(installed["bin"] / "hitlgov"), "serve", "--no-auth", "--port", str(port)]
    with bh.served(cmd, port, installed["cwd"] / "serve.log", cwd=installed["cwd"], env=env) as url, \
            bh.chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1800})
        for _view, url_path, title, has_chart in helpers.PAGES:
            bh.open_page(page, f"{url}/{url_path}", title, has_chart=has_chart)
            bh.assert_no_error(page, title)
        assert page.locator("[data-testid=stSidebarHeader] img, [data-testid=stLogo]").count() >= 1
        page.close()
