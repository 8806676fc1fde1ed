"""Alerts when a finding changes status: a webhook, a local JSON-lines file, syslog.

Why this shape:

* Alerts are sent *after* the monitor's findings are committed, and every channel is bounded
  (a timeout per attempt, a fixed number of attempts, capped back-off), so a dead webhook can
  neither lose the findings history nor hold the store's write lock nor hang a cron job.
* Every delivery -- delivered or not, with its number of attempts and last error -- is kept in
  ``alert_deliveries`` and the audit chain (``alert_delivery``): "we were told" and "we tried
  to tell and could not" are both evidence.
* A run with no status change sends nothing.

The webhook body (``Content-Type: application/json``, documented in the README)::

    {"source": "hitlgov", "event": "finding_status_changed", "monitor_run": "...",
     "evaluated_at": "2026-12-01T22:00:00Z", "system": "...", "window": {"from": "...", "to": "..."},
     "changes": [{"metric": "...", "title": "...", "previous": "pass", "status": "fail",
                  "value": 0.41, "threshold": 0.35, "method": "mixture_e_value", "e_value": 31.2,
                  "refs": ["EU AI Act Art. 14(4)(b)"]}]}
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hitlgov.errors import HitlgovError

USER_AGENT = "hitlgov-monitor"
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Channel:
    kind: str      # "webhook", "file" or "syslog"
    target: str    # URL, path, or syslog ident


@dataclass(frozen=True)
class Delivery:
    channel: Channel
    attempts: int
    delivered: bool
    error: str | None = None


def channels_from(*, webhooks=(), files=(), syslog: bool = False, configured=None) -> list[Channel]:
    """Channels from the command line plus the policy's ``settings.alerts`` list
    (entries ``{webhook: URL}``, ``{file: PATH}`` or ``{syslog: true}``)."""
    out = [Channel("webhook", u) for u in webhooks] + [Channel("file", str(f)) for f in files]
    if syslog:
        out.append(Channel("syslog", "hitlgov"))
    for i, entry in enumerate(configured or [], 1):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise HitlgovError(f"policy settings.alerts entry {i}: expected one of webhook: URL, file: PATH, syslog: true")
        (kind, target), = entry.items()
        if kind == "webhook" and isinstance(target, str):
            out.append(Channel("webhook", target))
        elif kind == "file" and isinstance(target, str):
            out.append(Channel("file", target))
        elif kind == "syslog" and target is True:
            out.append(Channel("syslog", "hitlgov"))
        else:
            raise HitlgovError(f"policy settings.alerts entry {i}: {kind!r} is not webhook: URL, file: PATH or syslog: true")
    for ch in out:
        if ch.kind == "webhook" and not ch.target.lower().startswith(("http://", "https://")):
            raise HitlgovError(f"webhook {ch.target!r}: expected an http:// or https:// URL")
    return out


def body(*, run_id: str, evaluated_at: str, system: str, window: dict, changes: list[dict]) -> dict:
    return {"source": "hitlgov", "event": "finding_status_changed", "monitor_run": run_id,
            "evaluated_at": evaluated_at, "system": system, "window": window, "changes": changes}


def post_webhook(url: str, payload: dict, *, attempts: int = 4, timeout: float = 5.0,
                 backoff: float = 1.0, max_backoff: float = 30.0, sleep=time.sleep) -> Delivery:
    """POST ``payload`` as JSON; retry on network errors, timeouts, 408/425/429/5xx with
    exponential back-off (``backoff``, 2x, 4x... capped at ``max_backoff``; a ``Retry-After``
    in seconds is honoured up to the cap). Other 4xx answers are not retried."""
    data = json.dumps(payload, allow_nan=False).encode("utf-8")
    channel = Channel("webhook", url)
    error = None
    for attempt in range(1, attempts + 1):
        wait = min(backoff * 2 ** (attempt - 1), max_backoff)
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL is the user's own
                response.read(65536)
            return Delivery(channel, attempt, True)
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} {exc.reason}"
            if exc.code not in RETRY_STATUSES:
                return Delivery(channel, attempt, False, error)
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            if retry_after and retry_after.strip().isdigit():
                wait = min(float(retry_after.strip()), max_backoff)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"{type(exc).__name__}: {reason}"
        if attempt < attempts:
            sleep(wait)
    return Delivery(channel, attempts, False, error)


def line(system: str, change: dict) -> str:
    """The one-line form for files and syslog (no newlines from data)."""
    text = (f"hitlgov finding {change['previous'] or 'new'} -> {change['status']}: system={system} "
            f"metric={change['metric']} value={change['value']} threshold={change['threshold']} "
            f"method={change['method']}")
    return " ".join(text.split())


def append_file(path: str, payload: dict) -> Delivery:
    """One JSON object per line (JSON Lines), appended; a FIFO or a directory is refused."""
    channel = Channel("file", path)
    p = Path(path)
    try:
        if p.exists() and not p.is_file():
            return Delivery(channel, 1, False, f"{path}: not a regular file")
        with p.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(payload, allow_nan=False, sort_keys=True) + "\n")
        return Delivery(channel, 1, True)
    except OSError as exc:
        return Delivery(channel, 1, False, f"{path}: {exc.strerror or exc}")


def send_syslog(system: str, changes: list[dict], *, ident: str = "hitlgov") -> Delivery:
    channel = Channel("syslog", ident)
    try:
        import syslog
    except ImportError:  # pragma: no cover - Windows
        return Delivery(channel, 1, False, "syslog is not available on this platform")
    syslog.openlog(ident, 0, syslog.LOG_USER)
    for change in changes:
        priority = syslog.LOG_ERR if change["status"] == "fail" else syslog.LOG_WARNING if change["status"] == "warn" else syslog.LOG_NOTICE
        syslog.syslog(priority, line(system, change))
    syslog.closelog()
    return Delivery(channel, 1, True)


def deliver(channels: list[Channel], payload: dict, *, webhook_options: dict | None = None) -> list[Delivery]:
    """Send one system's changes to every channel; never raises for a channel's failure."""
    if not payload["changes"]:
        return []
    out = []
    for ch in channels:
        if ch.kind == "webhook":
            out.append(post_webhook(ch.target, payload, **(webhook_options or {})))
        elif ch.kind == "file":
            out.append(append_file(ch.target, payload))
        elif ch.kind == "syslog":
            out.append(send_syslog(payload["system"], payload["changes"], ident=ch.target))
    return out
