"""``hitlgov report``: write a report, or ``--verify`` one against the store.

Exit status: 0 written / matches; 1 the report does not match the store (``--verify``), or it
could not be written (unwritable path, missing pseudonym key, unreadable store or policy);
2 a usage error (unknown ``--kind``, no ``--out``, ``--from`` after ``--to``) or a file that
cannot be verified at all (not a PDF, no evidence attached). Errors are one line on stderr.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from hitlgov.reports.build import KINDS
from rich.console import Console
from rich.markup import escape

from hitlgov.errors import HitlgovError

USAGE = 2


def _error(err: Console, message: str, code: int) -> int:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return code


def scope_text(f: dict) -> str:
    """'consumer-credit, model version v2, region = north, 2026-01-01 to 2026-03-31': the whole
    filter a report covers, for every line that names a report."""
    parts = [f.get("system") or "all systems"]
    if f.get("model_version"):
        parts.append(f"model version {f['model_version']}")
    seg = f.get("segment")
    if seg:
        parts.append(f"{seg['attribute']} = {seg['value']}" if isinstance(seg, dict) else f"{seg[0]} = {seg[1]}")
    return ", ".join(parts) + f", {f.get('from')} to {f.get('to')}"


def _progress(err: Console):
    """A transient progress bar on a terminal; nothing when stderr is a file or a pipe."""
    if not err.is_terminal:
        return None, None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err, transient=True)
    task = bar.add_task("Starting", total=1.0)

    def step(text: str, share: float | None = None) -> None:
        bar.update(task, description=text, **({"completed": share} if share is not None else {}))
    return bar, step


def run_report(*, db=None, start: dt.date | None = None, end: dt.date | None = None, system: str | None = None,
               policy=None, kind: str = "compliance", out_file=None, verify=None, pseudonymise: bool = False,
               console: Console | None = None, err_console: Console | None = None, engine: str | None = None,
               model_version: str | None = None, segment: tuple[str, str] | None = None,
               trust: list | None = None) -> int:
    """The ``report`` command; returns the exit status."""
    out = console or Console()
    err = err_console or Console(stderr=True)
    if trust and verify is None:
        return _error(err, "--trust CA.pem checks a report's signer: use it with --verify FILE.pdf", USAGE)
    if verify is not None:
        roots = None
        if trust:
            from hitlgov.reports.signature import load_certificates

            try:
                roots = [c for path in trust for c in load_certificates(path, "trust root file")]
            except HitlgovError as exc:
                return _error(err, str(exc), USAGE)
        return _verify(Path(verify), db=db, engine=engine, out=out, err=err, trust=roots)
    if kind not in KINDS:
        return _error(err, f"--kind {kind!r}: expected one of {', '.join(KINDS)}", USAGE)
    if out_file is None:
        return _error(err, "--out FILE.pdf is required (or --verify FILE.pdf to check a report)", USAGE)
    if start and end and start > end:
        return _error(err, f"--from {start} is after --to {end}", USAGE)
    from hitlgov.reports.build import build_report

    bar, step = _progress(err)
    try:
        if bar is not None:
            bar.start()
        result = build_report(db=db, start=start, end=end, system=system, kind=kind, out_file=Path(out_file),
                              progress=step, pseudonymise=pseudonymise, policy=policy, engine=engine,
                              model_version=model_version, segment=segment)
    except HitlgovError as exc:
        return _error(err, str(exc), 1)
    finally:
        if bar is not None:
            bar.stop()
    p = result.evidence["parameters"]["filter"]
    what = "no data in the period: a short report says so" if result.empty else f"{result.pages} pages"
    out.print(f"wrote {result.path} ({result.kind}, {what}; {scope_text(p)}; "
              f"{result.seconds['total']:.1f} s)", highlight=False, soft_wrap=True, markup=False)
    out.print(f"metric digest sha256:{result.digest}", highlight=False, soft_wrap=True, markup=False)
    chain = result.evidence.get("context", {}).get("audit_chain") or {}
    if chain.get("checkpoint"):
        out.print(f"made from audit checkpoint {chain['checkpoint']['tree_size']:,} "
                  f"({chain.get('key_fingerprint') or 'unsigned'})", highlight=False, soft_wrap=True, markup=False)
    if result.warning:
        err.print(f"[yellow]warning:[/] {escape(result.warning)}", highlight=False, soft_wrap=True)
    return 0


def _verify(pdf: Path, *, db, engine, out: Console, err: Console, trust: list | None = None) -> int:
    from hitlgov.reports.verify import (
        MAX_DIFFERENCES,
        describe,
        read_evidence_or_say_why,
        verify_report,
    )

    try:
        read_evidence_or_say_why(pdf)  # a file that is not a report is a usage problem, not a mismatch
    except HitlgovError as exc:
        return _error(err, str(exc), USAGE)
    bar, step = _progress(err)
    try:
        if bar is not None:
            bar.start()
        result = verify_report(pdf, db=db, engine=engine, progress=step, trust=trust)
    except HitlgovError as exc:
        return _error(err, str(exc), 1)
    finally:
        if bar is not None:
            bar.stop()
    f = result.parameters.get("filter", {})
    scope = scope_text(f)
    sig = result.signature
    if sig:  # integrity and trust, reported apart (a self-signed site certificate is intact, not trusted)
        line = "signature: integrity " + ("OK" if sig.get("integrity") else "FAILED")
        if "trusted" in sig:
            line += (", signer trusted: " if sig["trusted"] else ", signer not trusted: ") + sig["trust"]
        else:
            line += f" (signer {sig.get('signer')}; --trust CA.pem checks it against your roots)"
        out.print(line, highlight=False, soft_wrap=True, markup=False)
    if result.ok:
        out.print(f"matches: {pdf} ({scope}): the values recomputed from the store match the report "
                  f"(digest sha256:{result.digest_recorded})", highlight=False, soft_wrap=True, markup=False)
    else:
        out.print(f"DOES NOT MATCH: {pdf} ({scope})", highlight=False, soft_wrap=True, markup=False)
        for p in result.problems:
            out.print(f"  - {p}", highlight=False, soft_wrap=True, markup=False)
        if result.differences:
            out.print(f"  {len(result.differences)} value(s) differ (report digest {result.digest_recorded[:16]}…, "
                      f"now {(result.digest_now or '')[:16]}…):", highlight=False, soft_wrap=True, markup=False)
            for d in result.differences[:MAX_DIFFERENCES]:
                out.print(f"  - {describe(d)}", highlight=False, soft_wrap=True, markup=False)
            if len(result.differences) > MAX_DIFFERENCES:
                out.print(f"  … and {len(result.differences) - MAX_DIFFERENCES} more", highlight=False, markup=False)
    for n in result.notes:
        out.print(f"  note: {n}", highlight=False, soft_wrap=True, markup=False)
    untrusted = trust is not None and not sig.get("trusted")
    return 0 if result.ok and not untrusted else 1
