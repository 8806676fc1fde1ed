"""Generate a report: collect the evidence, lay it out, render the PDF, record the act.

Two entry points:

* :func:`render_report` -- on an open :class:`~hitlgov.metrics.source.Source` and a
  :class:`~hitlgov.metrics.source.Filter`: evidence (:mod:`hitlgov.reports.evidence`), pseudonymisation
  (:mod:`hitlgov.reports.pseudonym`), layout (:mod:`hitlgov.reports.content`), charts, PDF
  (:mod:`hitlgov.reports.render`). Pure with respect to the store: reads only.
* :func:`build_report` -- what the CLI and the dashboard call: opens the store (or engine)
  read-only through :func:`hitlgov.metrics.engines.open_source`, calls :func:`render_report`, closes the
  store, then appends a ``report_generated`` event to the store's audit chain (embedded store
  only; a short write connection after the read-only one is closed).

``progress(text, share)`` is called with a description of the current stage and the share of
the work done (0..1, or None when unknown).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hitlgov.metrics import drift, periods
from hitlgov.metrics.policy import Policy, load_policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import choose_period
from hitlgov.reports import content, evidence, pseudonym, render, signature

from hitlgov.errors import HitlgovError

KINDS = tuple(content.KINDS)
Progress = Callable[..., None]


@dataclass
class ReportResult:
    kind: str
    digest: str
    pages: int
    size: int
    path: Path | None = None
    pdf: bytes | None = field(default=None, repr=False)
    evidence: dict = field(default_factory=dict, repr=False)
    empty: bool = False
    seconds: dict = field(default_factory=dict)
    audit_event: str | None = None
    warning: str | None = None


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise HitlgovError(f"--kind {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def check_writable(path: str | Path) -> Path:
    """Fail early, in one line, when the report could not be written to ``path``."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise HitlgovError(f"cannot write the report to {path}: it is a directory")
    if not parent.is_dir():
        raise HitlgovError(f"cannot write the report to {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise HitlgovError(f"cannot write the report to {path}: permission denied")
    return path


def _write(path: Path, data: bytes) -> None:
    """Write atomically: a half-written PDF never takes the place of a good one."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise HitlgovError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def _say(progress: Progress | None, text: str, share: float | None) -> None:
    if progress is not None:
        progress(text, share)


def period_of(source: Source, flt: Filter) -> periods.PeriodChoice:
    """The report's period: the one given, else the last full calendar quarter of the system's log,
    else its whole log (:func:`hitlgov.metrics.summary.choose_period`). A given period that is
    exactly the default one (the dashboard passes its default quarter explicitly) is described as
    the default, so a report from the dashboard and one from the CLI say the same."""
    choice = choose_period(source, flt)
    if choice.how == periods.GIVEN:
        default = choose_period(source, flt.but(start=None, end=None))
        if (default.start, default.end) == (choice.start, choice.end):
            return default
    return choice


def report_html(source: Source, flt: Filter, *, kind: str, policy: Policy, key: bytes | None = None,
                progress: Progress | None = None, store: str | None = None, engine: str | None = None,
                timings: dict | None = None, cache: bool = False,
                chain: dict | None = None) -> tuple[dict, dict, str]:
    """The evidence document, the template context and the report's HTML: everything but the
    PDF, so that a test can lay out every kind over many filters in seconds. ``chain`` is the
    audit-chain check already made (:func:`render_report` refuses a store that fails it)."""
    timings = {} if timings is None else timings
    t = time.perf_counter()
    choice = period_of(source, flt)
    if choice.start is not None:
        flt = flt.but(start=choice.start, end=choice.end)
    resolved, values = evidence.collect(source, flt, policy, progress=progress, cache=cache, on_miss=drift.preload_evidently)
    timings["metrics"] = time.perf_counter() - t
    if key is not None:
        values = pseudonym.pseudonymise(values, key)
    params = evidence.parameters_for(resolved, policy, pseudonym_key_id=pseudonym.key_id(key) if key else None)
    ctx = evidence.context_for(source, resolved, policy, kind=kind, store=store, engine=engine, chain=chain,
                               period_choice=choice.as_dict())
    doc = evidence.document(params, values, ctx)

    _say(progress, "Drawing the charts", 0.7)
    t = time.perf_counter()
    layout = content.build_context(doc, kind=kind, policy=policy)
    template = "empty.html.j2" if layout["empty"] else f"{kind}.html.j2"
    html = render.render_html(template, layout)
    timings["layout"] = time.perf_counter() - t
    return doc, layout, html


def render_report(source: Source, flt: Filter, *, kind: str = "compliance", policy: Policy | None = None,
                  out_path: str | Path | None = None, pseudonymise: bool = False, progress: Progress | None = None,
                  store: str | None = None, engine: str | None = None, cache: bool = False) -> ReportResult:
    """Build one report of ``kind`` for ``flt`` on ``source``; write it to ``out_path`` when given.

    ``cache=True`` reuses the figures cached in the store for unchanged data (see
    :func:`hitlgov.reports.evidence.collect`)."""
    check_kind(kind)
    policy = policy or load_policy()
    key = pseudonym.key_from_env() if pseudonymise else None
    if out_path is not None:
        out_path = check_writable(out_path)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    _say(progress, "Verifying the store against its audit trail", 0.03)
    chain = evidence.audit_chain(source)
    if chain["ok"] is False:
        more = f" (and {len(chain['problems']) - 1} more)" if len(chain["problems"]) > 1 else ""
        raise HitlgovError(f"refusing to report: the store fails `hitlgov verify`: {chain['problem']}{more}; "
                           "a report would vouch for data its audit trail does not")
    doc, layout, html = report_html(source, flt, kind=kind, policy=policy, key=key, progress=progress,
                                    store=store, engine=engine, timings=timings, cache=cache, chain=chain)
    digest = doc["digest"]["value"]

    _say(progress, "Rendering the PDF", 0.8)
    t = time.perf_counter()
    pdf, pages = render.write_pdf(html, evidence_text=evidence.dumps(doc), digest=digest)
    pdf = signature.sign_pdf(pdf)  # PAdES over the whole file, with the site key (unchanged without one)
    timings["pdf"] = time.perf_counter() - t
    if out_path is not None:
        _write(out_path, pdf)
    timings["total"] = time.perf_counter() - t0
    _say(progress, "Done", 1.0)
    return ReportResult(kind=kind, digest=digest, pages=pages, size=len(pdf), path=out_path, pdf=pdf, evidence=doc,
                        empty=layout["empty"], seconds=timings)


def build_report(*, db: str | Path | None = None, start: dt.date | None = None, end: dt.date | None = None,
                 system: str | None = None, kind: str = "compliance", out_file: str | Path,
                 progress: Progress | None = None, pseudonymise: bool = False, policy: str | Path | None = None,
                 model_version: str | None = None, segment: tuple[str, str] | None = None,
                 engine: str | None = None, record: bool = True, cache: bool = True) -> ReportResult:
    """Open the store, write the report to ``out_file``, close the store, record ``report_generated``."""
    from hitlgov.metrics.engines import open_source

    from hitlgov import store as hstore

    check_kind(kind)
    if start and end and start > end:
        raise HitlgovError(f"--from {start} is after --to {end}")
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    if pseudonymise:
        pseudonym.key_from_env()
    out_file = check_writable(out_file)
    flt = Filter(start=start, end=end, system=system, model_version=model_version,
                 segment=tuple(segment) if segment else None)
    _say(progress, "Opening the store", 0.02)
    where = str(hstore.resolve_db(db)) if engine is None else None
    with open_source(db, engine) as source:
        from hitlgov.metrics.scope import ALL, check_filter, systems_in_scope

        if system == ALL and ALL not in source.systems():
            raise HitlgovError("a report covers one system: pass --system NAME (one report per system)")
        names = systems_in_scope(source, system)
        flt = check_filter(source, flt.but(system=names[0] if names else system))
        result = render_report(source, flt, kind=kind, policy=pol, out_path=out_file, pseudonymise=pseudonymise,
                               progress=progress, store=where, engine=engine, cache=cache)
    if record and engine is None:
        params = result.evidence["parameters"]
        detail = {"kind": kind, "period": {"from": params["filter"]["from"], "to": params["filter"]["to"]},
                  "system": params["filter"]["system"], "filter": params["filter"], "digest": result.digest,
                  "pages": result.pages, "pseudonymised": params["pseudonymised"], "generator": params["generator"],
                  "policy_sha256": pol.sha256,
                  # the bytes written, so a PDF handed over later can be matched to this event
                  "pdf_sha256": hashlib.sha256(Path(out_file).read_bytes()).hexdigest()}
        try:
            from hitlgov import audit

            result.audit_event = audit.record_event(db, kind="report_generated", subject=Path(out_file).name,
                                                    detail=detail)
        except (HitlgovError, OSError, RuntimeError) as exc:
            result.warning = f"the report was written, but its report_generated audit event was not recorded: {exc}"
        except Exception as exc:  # noqa: BLE001 - e.g. a read-only store file (duckdb.IOException)
            result.warning = (f"the report was written, but its report_generated audit event was not recorded: "
                              f"{str(exc).splitlines()[0]}")
    return result
