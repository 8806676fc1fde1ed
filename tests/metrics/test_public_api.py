"""The metrics package's public names (re-exported lazily by ``metrics/__init__.py``)."""
import subprocess
import sys

from hitlgov import metrics


def test_every_public_name_resolves_to_its_module_function():
    from hitlgov.metrics import oversight, summary

    for name in metrics.__all__:
        assert getattr(metrics, name) is not None, name
    assert metrics.oversight_summary is oversight.oversight_summary
    assert metrics.compute_metrics is summary.compute_metrics


def test_unknown_name_is_an_attribute_error():
    try:
        metrics.no_such_metric  # noqa: B018
    except AttributeError as exc:
        assert "no_such_metric" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_source_does_not_import_fairlearn_or_evidently():
    code = ("import sys, hitlgov.metrics.source, hitlgov.metrics.oversight; "
            "print(sorted(m for m in ('fairlearn', 'evidently') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
