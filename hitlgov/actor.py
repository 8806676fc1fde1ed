"""Who is acting: the name every audit event records as its ``actor``.

Why a context variable instead of only a parameter: an action reaches the audit trail through
several layers (CLI -> ingestion service -> pipeline -> ``audit.append_events``), and an event
kind added next month must not silently record no one. The entry points set the actor once
(:func:`acting_as`: the CLI with the OS user or ``--actor``; the dashboard with the signed-in
user) and :func:`hitlgov.audit.append_events` falls back to :func:`current` when its caller
passes none. Outside any entry point (a library call) the actor is the process's OS user.

Actor names, by where the action came from:

* ``alice`` -- the CLI, run by OS user ``alice`` (or ``--actor alice``);
* ``local:alice`` -- the dashboard, local account ``alice`` (``hitlgov user add``);
* ``oidc:alice@example.com`` -- the dashboard, signed in through the identity provider;
* ``single-user:alice`` -- the dashboard in ``serve --no-auth`` mode, run by OS user ``alice``.
"""
from __future__ import annotations

import contextvars
import getpass
import os
import re
from contextlib import contextmanager
from typing import Iterator

from hitlgov.errors import HitlgovError

MAX_LENGTH = 200
_ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("hitlgov_actor", default=None)
# printable, no control characters (a newline in an actor would forge a line in a text log)
_VALID = re.compile(r"^[^\x00-\x1f\x7f]+$")


def os_user() -> str:
    """The OS account running this process; ``uid-N`` when it has no name (containers)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no $USER/$LOGNAME
        name = ""
    name = name.strip()
    if name and _VALID.match(name):
        return name[:MAX_LENGTH]
    return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def check(name: str, *, what: str = "--actor") -> str:
    """``name`` stripped, or a one-line error for an empty, huge or control-character name."""
    text = (name or "").strip()
    if not text:
        raise HitlgovError(f"{what}: empty name")
    if len(text) > MAX_LENGTH:
        raise HitlgovError(f"{what}: name longer than {MAX_LENGTH} characters")
    if not _VALID.match(text):
        raise HitlgovError(f"{what} {text[:40]!r}: control characters are not allowed in a name")
    return text


def current() -> str:
    """The actor set by the innermost :func:`acting_as`, else the OS user."""
    return _ACTOR.get() or os_user()


@contextmanager
def acting_as(name: str) -> Iterator[str]:
    """Record ``name`` as the actor of every audit event appended inside the block."""
    token = _ACTOR.set(check(name, what="actor"))
    try:
        yield _ACTOR.get()
    finally:
        _ACTOR.reset(token)
