"""Policy: thresholds that turn metric values into pass / warn / fail findings.

A policy is YAML (the shipped default is ``metrics/default_policy.yaml``, documented in the
README). Each rule names a metric by its path in the metrics JSON, with ``*`` standing for
every sensitive attribute, and up to four bounds. A value beyond a ``fail_*`` bound fails,
beyond a ``warn_*`` bound warns, otherwise it passes. A finding names the metric, value, the
bound that decided it (for a pass: the nearest fail bound), and the regulatory references the
evidence serves. Metrics that cannot be computed on the data (None) are listed separately as
not evaluated, never as a pass -- missing evidence is itself worth an auditor's attention --
except for a rule marked ``when_present: true``, a check that applies to some systems only (the
two-person rule of Art. 14(5) for remote biometric identification), which is silent where its
metric is absent.

A finding's ``title`` states what was *found* ("Reviewers flagged for automation bias: 1"), from
the rule's ``found`` template (``{value}`` is the formatted value, ``{scope}`` the sensitive
attribute of a fairness rule); the rule's own ``title`` is the expectation, kept as ``check``
("No reviewer shows signs of automation bias"). A card carrying WARN must not read as a pass.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from hitlgov import formats
from hitlgov.errors import HitlgovError

BOUNDS = ("fail_below", "warn_below", "warn_above", "fail_above")


@dataclass(frozen=True)
class Policy:
    name: str
    rules: list[dict]
    settings: dict = field(default_factory=dict)
    source: str = "default"
    sha256: str = ""

    def setting(self, key: str, default=None):
        return self.settings.get(key, default)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy file, or the shipped default when ``path`` is None."""
    if path is None:
        text = resources.files("hitlgov.metrics").joinpath("default_policy.yaml").read_text(encoding="utf-8")
        where = "default"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise HitlgovError(f"{path}: cannot read policy file ({exc.strerror})") from None
        where = str(path)
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise HitlgovError(f"{where}: policy is not valid YAML: {str(exc).splitlines()[0]}") from None
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        raise HitlgovError(f"{where}: a policy needs a 'rules' list")
    for i, rule in enumerate(rules, 1):
        if not isinstance(rule, dict) or "metric" not in rule:
            raise HitlgovError(f"{where}: rule {i} needs a 'metric'")
        if not any(b in rule for b in BOUNDS):
            raise HitlgovError(f"{where}: rule {i} ({rule['metric']}) sets none of {', '.join(BOUNDS)}")
        for b in BOUNDS:
            if b in rule and not isinstance(rule[b], (int, float)):
                raise HitlgovError(f"{where}: rule {i} ({rule['metric']}): {b} must be a number")
    return Policy(name=str(doc.get("name", where)), rules=rules, settings=doc.get("settings") or {},
                  source=where, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


def _expand(path: str, data: dict) -> list[tuple[str, object]]:
    """All (concrete path, value) pairs a rule's path matches; ``*`` matches any key."""
    parts = path.split(".")
    found = [("", data)]
    for part in parts:
        nxt = []
        for prefix, node in found:
            if not isinstance(node, dict):
                continue
            keys = sorted(node) if part == "*" else [part] if part in node else []
            for k in keys:
                nxt.append((f"{prefix}.{k}" if prefix else k, node[k]))
        found = nxt
    return found


def status_of(value: float, rule: dict) -> tuple[str, float]:
    """(status, the threshold that decided it)."""
    if "fail_below" in rule and value < rule["fail_below"]:
        return "fail", rule["fail_below"]
    if "fail_above" in rule and value > rule["fail_above"]:
        return "fail", rule["fail_above"]
    if "warn_below" in rule and value < rule["warn_below"]:
        return "warn", rule["warn_below"]
    if "warn_above" in rule and value > rule["warn_above"]:
        return "warn", rule["warn_above"]
    bounds = [rule[b] for b in ("fail_below", "fail_above") if b in rule] or \
             [rule[b] for b in ("warn_below", "warn_above") if b in rule]
    return "pass", min(bounds, key=lambda b: abs(value - b))


def _scope(path: str) -> str:
    parts = path.split(".")
    return parts[1] if parts[0] == "fairness" and len(parts) > 2 else ""


def headline(rule: dict, path: str, value: float) -> str:
    """What was found, in a few words with the value: the finding's title."""
    shown = formats.finding_value(path, value)
    template = rule.get("found")
    if template:
        try:
            return str(template).format(value=shown, scope=_scope(path))
        except (KeyError, IndexError, ValueError):  # a malformed template in a user's policy: say it plainly
            pass
    return f"{rule.get('check') or rule.get('title') or path}: found {shown}"


def evaluate(policy: Policy, metrics: dict) -> tuple[list[dict], list[dict]]:
    """Findings (value known) and the rules that could not be evaluated (value None/absent)."""
    findings, not_evaluated = [], []
    for rule in policy.rules:
        matches = _expand(rule["metric"], metrics)
        if not matches and rule.get("when_present"):  # a check for some systems only (Art. 14(5))
            continue
        if not matches:
            not_evaluated.append({"metric": rule["metric"], "title": rule.get("title"), "check": rule.get("title"),
                                  "reason": "not computed for this data", "refs": list(rule.get("refs", []))})
        for path, value in matches:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                not_evaluated.append({"metric": path, "title": rule.get("title"), "check": rule.get("title"),
                                      "reason": _no_evidence(path, metrics), "refs": list(rule.get("refs", []))})
                continue
            status, threshold = status_of(float(value), rule)
            findings.append({
                "metric": path, "value": float(value), "threshold": float(threshold), "status": status,
                "title": headline(rule, path, float(value)), "check": rule.get("title", path),
                "refs": list(rule.get("refs", [])),
                "bounds": {b: rule[b] for b in BOUNDS if b in rule},
            })
    order = {"fail": 0, "warn": 1, "pass": 2}  # every FAIL before any WARN, stable in the rule order
    findings.sort(key=lambda f: order[f["status"]])
    return findings, not_evaluated


def status_for(policy: Policy, metric: str, value: float | None) -> str | None:
    """The status the policy gives ``value`` of ``metric`` (a concrete path), as in the findings:
    a page that shows one number (the flagged reviewers) colours it as the finding is coloured.
    None when no rule covers the metric or the value is undefined (NOT EVALUATED)."""
    if value is None:
        return None
    for rule in policy.rules:
        pattern = rule["metric"].split(".")
        parts = metric.split(".")
        if len(pattern) == len(parts) and all(a in ("*", b) for a, b in zip(pattern, parts)):
            return status_of(float(value), rule)[0]
    return None


def _no_evidence(path: str, metrics: dict) -> str:
    """Why a rule has no value: the reason the metric block gives, else a generic one."""
    node = metrics
    for part in path.split(".")[:-1]:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    reason = node.get("not_evaluated_reason") if isinstance(node, dict) else None
    return str(reason) if reason else "undefined for this data (no evidence)"
