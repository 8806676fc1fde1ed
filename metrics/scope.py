"""Which selections a question may be asked about: a filter the store can answer, per system.

Every entry point that takes a filter from a person (``metrics``, ``report``, a URL parameter)
checks it here first, so that a typo is a one-line error instead of a report of nothing:

* a ``system`` the store does not hold, a ``model_version`` that system never used, a segment
  attribute that is not a sensitive attribute (or a value it never takes), and a period whose
  start is after its end are :class:`~hitlgov.errors.HitlgovError`;
* a store holding several systems is never summed across them silently: COMPAS 2013 and a credit
  system of 2026 share no period, no labels and no reviewers. :func:`systems_in_scope` says which
  systems a question covers -- the one asked for, the only one, or (``"all"``) each of them,
  each with its own period and windows.
"""
from __future__ import annotations

from hitlgov.errors import HitlgovError
from hitlgov.metrics.source import Filter, Source

ALL = "all"


def _choices(values: list[str], limit: int = 8) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "") if values else "none"


def check_filter(source: Source, flt: Filter) -> Filter:
    """``flt`` unchanged when the store can answer it; a one-line :class:`HitlgovError` otherwise."""
    if flt.start is not None and flt.end is not None and flt.start > flt.end:
        raise HitlgovError(f"--from {flt.start} is after --to {flt.end}: the period is reversed")
    systems = source.systems()
    if flt.system is not None and flt.system not in systems:
        raise HitlgovError(f"--system {flt.system!r}: the store holds no such system (systems: {_choices(systems)})")
    if flt.model_version is not None:
        versions = source.model_versions(Filter(system=flt.system))
        if flt.model_version not in versions:
            where = f"system {flt.system!r}" if flt.system else "the store"
            raise HitlgovError(f"--model-version {flt.model_version!r}: {where} has no decision by that model version "
                               f"(versions: {_choices(versions)})")
    if flt.segment is not None:
        name, value = flt.segment
        segments = source.segments(Filter(system=flt.system))
        if name not in segments:
            raise HitlgovError(f"--segment {name}={value}: {name!r} is not a sensitive attribute "
                               f"(sensitive attributes: {_choices(sorted(segments))})")
        if value not in segments[name]:
            raise HitlgovError(f"--segment {name}={value}: no case has {name} = {value!r} "
                               f"(values: {_choices(segments[name])})")
    return flt


def systems_in_scope(source: Source, system: str | None) -> list[str]:
    """The systems a question covers, each to be answered on its own.

    ``None`` on a store with one system is that system; ``None`` on a store with several is an
    error naming them (the caller must choose one, or ``"all"``); ``"all"`` is every system
    (a system literally named ``all`` is chosen by that name)."""
    systems = source.systems()
    if system is not None and (system != ALL or system in systems):
        return [system]
    if system == ALL or len(systems) <= 1:
        return systems
    raise HitlgovError(f"the store holds {len(systems)} systems ({_choices(systems)}); their periods, labels and "
                       f"reviewers differ, so they are not summed: pass --system NAME, or --system all for each "
                       f"system on its own")
