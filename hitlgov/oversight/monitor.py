"""``hitlgov monitor``: evaluate the policy on each system's latest window, keep the history.

One run, per system:

1. the **window** is the ``window_days`` calendar days ending at ``as_of`` (default: the day of
   the system's latest decision, so a log ingested with a delay is still evaluated on data);
2. every policy rule is evaluated on the window (:func:`hitlgov.metrics.summary.compute_metrics`);
3. rules on a **rate** with known counts (override rate, escalation rate, high-risk review
   coverage) get their status from the anytime-valid mixture e-value
   (:mod:`hitlgov.metrics.monitoring`) over the outcomes since monitoring of the system began
   (its first monitor window, or ``settings.monitor_since``), so nightly runs do not inflate
   false alarms: the chance of a rate rule ever alarming while the rate sits on its bound is at
   most ``alpha`` (``settings.monitor_alpha``, default 0.05). The window's point status is kept
   beside it (``point_status``);
4. all statuses are appended to ``findings_history`` and one ``monitor_run`` event to the audit
   chain, in one transaction;
5. statuses that differ from the system's previous run (a first-seen finding counts as a change
   when it warns or fails) are sent to the alert channels, after the commit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field

from hitlgov import audit, store
from hitlgov.errors import HitlgovError
from hitlgov.metrics import continuous, monitoring, oversight
from hitlgov.metrics.policy import Policy
from hitlgov.metrics.source import Filter, Source
from hitlgov.metrics.summary import compute_metrics
from hitlgov.oversight import alerts, check_day

DEFAULT_WINDOW_DAYS = 30


def _override(src, flt, settings):
    o = oversight.oversight_summary(src, flt)
    return o["overridden_cases"], o["reviewed_cases"]


def _escalation(src, flt, settings):
    o = oversight.oversight_summary(src, flt)
    return (o["escalated_cases"], o["reviewed_cases"]) if o["escalation_rate"] is not None else (0, 0)


def _coverage(src, flt, settings):
    c = oversight.high_risk_coverage(src, flt, score_band=tuple(settings.get("high_risk_score_band", (0.35, 0.65))))
    return c["reviewed"], c["high_risk_cases"]


#: metric path -> (successes, trials) over a filter: the rules that get an anytime-valid status
RATE_COUNTS = {
    "oversight.override_rate": _override,
    "oversight.escalation_rate": _escalation,
    "oversight.high_risk_review_coverage": _coverage,
}


@dataclass
class SystemResult:
    system: str
    window: dict
    rows: list[dict]
    changes: list[dict]
    deliveries: list = field(default_factory=list)


@dataclass
class MonitorResult:
    run_id: str
    evaluated_at: str
    systems: list[SystemResult]

    def as_json(self) -> dict:
        return {"monitor_run": self.run_id, "evaluated_at": self.evaluated_at, "systems": [
            {"system": s.system, "window": s.window, "findings": s.rows, "changes": s.changes,
             "deliveries": [{"channel": d.channel.kind, "target": d.channel.target, "attempts": d.attempts,
                             "delivered": d.delivered, "error": d.error} for d in s.deliveries]}
            for s in self.systems]}


def _date_setting(policy: Policy, key: str) -> dt.date | None:
    value = policy.setting(key)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise HitlgovError(f"{policy.source}: settings.{key} {value!r}: expected a date as YYYY-MM-DD") from None


def _alpha(policy: Policy) -> float:
    alpha = policy.setting("monitor_alpha", monitoring.DEFAULT_ALPHA)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise HitlgovError(f"{policy.source}: settings.monitor_alpha {alpha!r}: expected a number between 0 and 1")
    return float(alpha)


def previous_statuses(con, system: str) -> dict[str, str]:
    """Each metric's status at the system's latest monitor run."""
    rows = con.execute(
        "SELECT metric, status FROM findings_history WHERE system = ? AND monitor_run = "
        "(SELECT monitor_run FROM findings_history WHERE system = ? ORDER BY evaluated_at DESC LIMIT 1)",
        [system, system]).fetchall()
    return dict(rows)


def _first_window(con, system: str) -> dt.date | None:
    row = con.execute("SELECT min(window_from) FROM findings_history WHERE system = ?", [system]).fetchall()
    return row[0][0]


def evaluate_system(src: Source, system: str, *, policy: Policy, window_days: int, as_of: dt.date | None,
                    anchor: dt.date | None, include_drift: bool, n_boot: int) -> tuple[dict, list[dict]] | None:
    """The window and one history row per rule for one system (None: no decision to evaluate)."""
    flt = Filter(system=system)
    d = src.decisions(flt)
    last = d.aggregate(last=d.ts.max()).to_pandas().iloc[0]["last"]
    if last is None or str(last) in ("NaT", "None"):
        return None
    end = as_of or last.date()
    start = end - dt.timedelta(days=window_days - 1)
    window = flt.but(start=start, end=end)
    result = compute_metrics(src, window, policy=policy, include_drift=include_drift, n_boot=n_boot)
    alpha = _alpha(policy)
    since = anchor if anchor is not None and anchor <= start else start
    rows = []
    for f in result["findings"]:
        row = {"metric": f["metric"], "title": f["title"], "refs": f["refs"], "point_status": f["status"],
               "status": f["status"], "value": f["value"], "threshold": f["threshold"], "method": "point",
               "successes": None, "trials": None, "e_value": None}
        counter = RATE_COUNTS.get(f["metric"])
        if counter is not None:
            k, n = counter(src, window.but(start=since), policy.settings)
            if n > 0:
                seq = monitoring.sequential_status(k, n, {b: f["bounds"][b] for b in f["bounds"]}, alpha=alpha)
                row.update(status=seq["status"], threshold=seq["threshold"], method="mixture_e_value",
                           successes=int(k), trials=int(n), e_value=seq["e_value"],
                           sequential_from=since.isoformat())
        rows.append(row)
    for f in result["findings_not_evaluated"]:
        rows.append({"metric": f["metric"], "title": f.get("title") or f["metric"], "refs": [],
                     "point_status": None, "status": "not_evaluated", "value": None, "threshold": None,
                     "method": "point", "successes": None, "trials": None, "e_value": None})
    return {"from": start.isoformat(), "to": end.isoformat()}, rows


def changes_from(previous: dict[str, str], rows: list[dict]) -> list[dict]:
    """Rows whose status differs from the previous run's; a first-seen warn/fail is a change."""
    out = []
    for r in rows:
        before = previous.get(r["metric"])
        if before == r["status"] or (before is None and r["status"] in ("pass", "not_evaluated")):
            continue
        out.append({"metric": r["metric"], "title": r["title"], "previous": before, "status": r["status"],
                    "value": r["value"], "threshold": r["threshold"], "method": r["method"],
                    "e_value": r["e_value"], "refs": r["refs"]})
    return out


def run_monitor(db, *, policy: Policy, window_days: int = DEFAULT_WINDOW_DAYS, systems: list[str] | None = None,
                as_of: dt.date | None = None, channels: list[alerts.Channel] | None = None,
                actor: str | None = None, include_drift: bool = False, n_boot: int = 200,
                webhook_options: dict | None = None, now: dt.datetime | None = None) -> MonitorResult:
    if not isinstance(window_days, int) or not 1 <= window_days <= 3660:
        raise HitlgovError(f"--window-days {window_days!r}: expected a whole number of days from 1 to 3660")
    if as_of is not None:
        check_day(as_of, "--as-of")
    now = now or dt.datetime.now(dt.timezone.utc)
    evaluated_at = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
    run_id = uuid.uuid4().hex[:16]
    since_setting = _date_setting(policy, "monitor_since")
    channels = list(channels or []) + alerts.channels_from(configured=policy.setting("alerts"))
    with store.connect(db) as con:  # creates/upgrades the schema before the read-only reads
        anchors = {}
        previous = {}
        known = [r[0] for r in con.execute("SELECT DISTINCT system FROM cases ORDER BY 1").fetchall()]
        chosen = systems or known
        unknown = [s for s in chosen if s not in known]
        if unknown:
            raise HitlgovError(f"unknown system {unknown[0]!r}: the store has {', '.join(known) or 'no systems'}")
        for s in chosen:
            anchors[s] = since_setting or _first_window(con, s)
            previous[s] = previous_statuses(con, s)
    results: list[SystemResult] = []
    with Source.open(db) as src:
        for s in chosen:
            evaluated = evaluate_system(src, s, policy=policy, window_days=window_days, as_of=as_of,
                                        anchor=anchors[s], include_drift=include_drift, n_boot=n_boot)
            if evaluated is None:
                continue
            window, rows = evaluated
            results.append(SystemResult(s, window, rows, changes_from(previous[s], rows)))
    with store.connect(db) as con, store.transaction(con):
        for r in results:
            con.executemany(
                "INSERT INTO findings_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[run_id, evaluated_at, r.system, r.window["from"], r.window["to"], row["metric"], row["status"],
                  row["point_status"], row["value"], row["threshold"], row["method"], row["successes"],
                  row["trials"], row["e_value"], policy.sha256] for row in r.rows])
            digest = hashlib.sha256(json.dumps(r.rows, sort_keys=True, default=str).encode()).hexdigest()
            counts = {k: sum(1 for row in r.rows if row["status"] == k) for k in ("pass", "warn", "fail", "not_evaluated")}
            audit.append_event(con, kind="monitor_run", subject=r.system, actor=actor, detail={
                "monitor_run": run_id, "window": r.window, "statuses": counts, "changes": len(r.changes),
                "findings_sha256": digest, "policy_sha256": policy.sha256,
                "rows": audit.record_rows(con, [("findings_history", "monitor_run = ? AND system = ?",
                                                 [run_id, r.system])])})
    stamp = evaluated_at.isoformat(timespec="seconds") + "Z"
    for r in results:
        payload = alerts.body(run_id=run_id, evaluated_at=stamp, system=r.system, window=r.window, changes=r.changes)
        r.deliveries = alerts.deliver(channels, payload, webhook_options=webhook_options)
    _record_deliveries(db, run_id, results, actor)
    return MonitorResult(run_id, stamp, results)


def _record_deliveries(db, run_id: str, results: list[SystemResult], actor: str | None) -> None:
    """Keep every delivery attempt's outcome (a failure is evidence too)."""
    done = [(r, d) for r in results for d in r.deliveries]
    if not done:
        return
    finished = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with store.connect(db) as con, store.transaction(con):
        for r, d in done:
            con.execute("INSERT INTO alert_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, d.channel.kind, d.channel.target, d.attempts, d.delivered, d.error,
                         len(r.changes), finished])
        events = [("alert_delivery", r.system, {
            "monitor_run": run_id, "channel": d.channel.kind, "target": d.channel.target, "attempts": d.attempts,
            "delivered": d.delivered, "error": d.error, "changes": len(r.changes)}) for r, d in done]
        # the first event commits to every delivery row of the run (two systems alerting the same
        # target share a key: the commitment holds both rows under it)
        events[0][2]["rows"] = audit.record_rows(con, [("alert_deliveries", "monitor_run = ?", [run_id])])
        audit.append_events(con, events, actor=actor)


def history(db, *, system: str | None = None, metric: str | None = None) -> list[dict]:
    """The findings history, oldest first, with when each failing spell started and how long it lasted."""
    sql = ("SELECT monitor_run, evaluated_at, system, window_from, window_to, metric, status, point_status, value, "
           "threshold, method, e_value FROM findings_history WHERE (? IS NULL OR system = ?) AND (? IS NULL OR metric = ?) "
           "ORDER BY system, metric, evaluated_at")
    with store.connect(db, read_only=True) as con:
        cols = ["monitor_run", "evaluated_at", "system", "window_from", "window_to", "metric", "status",
                "point_status", "value", "threshold", "method", "e_value"]
        return [dict(zip(cols, r)) for r in con.execute(sql, [system, system, metric, metric]).fetchall()]


def spells(rows: list[dict]) -> list[dict]:
    """Consecutive runs with the same status per (system, metric): since when, until when, how many runs."""
    return continuous.spells(rows)
