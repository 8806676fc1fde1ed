"""HTML (Jinja2) to PDF (WeasyPrint), with the evidence attached and the digest in the metadata.

Templates live in ``reports/templates``: ``compliance.html.j2``, ``executive.html.j2``,
``empty.html.j2`` (a period without data), the shared ``base.html.j2``, ``_macros.html.j2``,
``_evidence.html.j2`` and the print stylesheet ``print.css`` (inlined by ``base.html.j2``).
A folder named by ``$HITLGOV_REPORT_TEMPLATES`` is searched first, so an organisation can
replace any of these files -- e.g. its own ``print.css`` or cover -- without touching the package.

Numbers are formatted by the dashboard's formatters (:mod:`hitlgov.formats`), registered as Jinja
filters, so a figure reads the same on screen and on paper.

The PDF is PDF/A-3b (the archival format that allows embedded files): the evidence JSON is an
embedded file (``hitlgov-evidence.json``, relationship *Data*), and the digest is in the
document's keywords (``hitlgov-digest:sha256:...``) and in a custom ``/HitlgovDigest`` entry.
"""
from __future__ import annotations

import os
from pathlib import Path

import jinja2
from hitlgov.reports.evidence import ATTACHMENT

from hitlgov import formats as fmt

TEMPLATES = Path(__file__).resolve().parent / "templates"
ENV_TEMPLATES = "HITLGOV_REPORT_TEMPLATES"
PDF_VARIANT = "pdf/a-3b"


def _pvalue(x) -> str:
    return fmt.p_value(x)  # the dashboard's format: '< 1e-6' below one in a million


def _signed(x, digits: int = 3) -> str:
    return fmt.NA if x is None else f"{x:+.{digits}f}"


def environment() -> jinja2.Environment:
    folders = [str(TEMPLATES)]
    override = os.environ.get(ENV_TEMPLATES)
    if override:
        folders.insert(0, override)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    filters = {
        "pct": fmt.pct, "ratio": fmt.ratio, "count": fmt.count, "num": fmt.num, "seconds": fmt.seconds,
        "hours": fmt.hours, "money": fmt.money, "money_short": fmt.money_short, "pp": lambda x, d=1: fmt.pp(x, d) or fmt.NA,
        "day": fmt.day, "when": fmt.when, "pvalue": _pvalue, "signed": _signed,
        "interval": lambda ci: fmt.interval(ci, fmt.ratio),
    }
    env.filters.update({name: _tolerant(f) for name, f in filters.items()})
    return env


def _tolerant(f):
    """A missing value (an undefined key in older evidence, say) prints as n/a, never breaks a report."""
    def wrapped(x, *args, **kwargs):
        return fmt.NA if isinstance(x, jinja2.Undefined) else f(x, *args, **kwargs)
    return wrapped


def render_html(template: str, context: dict) -> str:
    return environment().get_template(template).render(**context)


def write_pdf(html: str, *, evidence_text: str, digest: str) -> tuple[bytes, int]:
    """``(pdf bytes, pages)``; the evidence JSON is attached as :data:`ATTACHMENT`."""
    from weasyprint import HTML, Attachment

    document = HTML(string=html, base_url=str(TEMPLATES)).render()
    attachment = Attachment(string=evidence_text, name=ATTACHMENT, relationship="Data",
                            description=f"hitlgov evidence: parameters, metric values, digest sha256:{digest}")
    pdf = document.write_pdf(attachments=[attachment], custom_metadata=True, pdf_variant=PDF_VARIANT)
    return pdf, len(document.pages)
