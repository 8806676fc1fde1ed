"""Test-only entry point: the real dashboard, with every *computed* (not cached) KPI figure held
back for a few seconds, so a browser test can watch the running state appear and go.

Why a slow-down and not a large store: a store big enough to keep the KPI query busy for seconds
on any machine would cost the suite minutes to build; the spinner logic under test is the same.
It cannot be switched on in production: this file lives in ``tests/`` (not in the installed
package), the product has no setting or environment variable for it, and only a test that runs
``streamlit run`` on this very file gets it. The delay applies to ``hitlgov.metrics.summary.kpis``
on a cache miss only (:func:`hitlgov.dashboard.data.compute` is what the server cache calls then).
"""
from __future__ import annotations

import runpy
import time
from importlib import resources

from hitlgov.dashboard import data

DELAY_SECONDS = 3.0

if not getattr(data, "_test_slowed", False):  # the module persists across reruns: patch once
    _real = data.compute

    def _slow(qualname, *args, **kwargs):
        if qualname == "hitlgov.metrics.summary.kpis":
            time.sleep(DELAY_SECONDS)
        return _real(qualname, *args, **kwargs)

    data.compute = _slow
    data._test_slowed = True

runpy.run_path(str(resources.files("hitlgov.dashboard").joinpath("app.py")), run_name="__main__")
