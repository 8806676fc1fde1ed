"""The regulatory mapping: which evidence in the report serves which obligation.

Each row names an obligation (EU AI Act articles, NIST AI RMF functions, ISO/IEC 42001 clauses
and controls), says in a sentence what it asks, and lists the report's sections that carry the
evidence. The policy's rules cite references too (``refs`` in the policy file); every finding
whose reference falls under a row's obligation is listed on that row with its status, so the
table shows both *where* the evidence is and *what it says*. References the policy cites that no
row covers get a row of their own, so nothing the policy claims is left out of the mapping.

This is a map of evidence, not legal advice: whether the evidence suffices for an obligation is
for the organisation's compliance function and its auditors to judge.
"""
from __future__ import annotations

from dataclasses import dataclass

# Section ids of the compliance report (anchors in the templates).
SECTIONS = {
    "summary": "1 Executive summary",
    "findings": "1.2 Policy checks",
    "oversight": "2 Human oversight",
    "automation-bias": "2.4 Automation bias",
    "agreement": "3 Reviewer agreement",
    "reliance": "3A Reliance evidence",
    "fairness": "4 Fairness",
    "drift": "5 Drift",
    "data-quality": "6 Data quality",
    "retention": "6.4 Retention",
    "methodology": "Appendix A Methodology",
    "evidence": "Appendix B Evidence",
}


@dataclass(frozen=True)
class Obligation:
    framework: str
    ref: str  # as cited, e.g. "EU AI Act Art. 14"
    title: str
    asks: str
    sections: tuple[str, ...]
    prefixes: tuple[str, ...]  # policy references that fall under this obligation


OBLIGATIONS: tuple[Obligation, ...] = (
    Obligation("EU AI Act", "Art. 9", "Risk management system",
               "Identify, estimate and evaluate the risks of the high-risk system, including from post-market "
               "monitoring data, and test it against metrics and thresholds defined in advance.",
               ("summary", "findings", "fairness", "drift", "methodology"), ("EU AI Act Art. 9",)),
    Obligation("EU AI Act", "Art. 12", "Record-keeping",
               "Automatically record events (logs) over the system's lifetime so that its functioning can be "
               "traced and monitored.",
               ("data-quality", "evidence"), ("EU AI Act Art. 12",)),
    Obligation("EU AI Act", "Art. 14", "Human oversight",
               "Effective oversight by natural persons who can interpret the output, stay aware of automation "
               "bias, and decide to disregard, override or reverse it or to stop the system.",
               ("oversight", "automation-bias", "agreement", "reliance"), ("EU AI Act Art. 14",)),
    Obligation("EU AI Act", "Art. 19", "Automatically generated logs",
               "Providers keep the automatically generated logs for a period appropriate to the purpose, at "
               "least six months.",
               ("retention", "evidence"), ("EU AI Act Art. 19",)),
    Obligation("EU AI Act", "Art. 26", "Obligations of deployers",
               "Assign oversight to competent people with the necessary authority (26(2)), monitor the operation "
               "of the system on the basis of the instructions for use and inform the provider of risks (26(5)), "
               "and keep its logs for at least six months (26(6)).",
               ("oversight", "agreement", "drift", "retention"), ("EU AI Act Art. 26",)),
    Obligation("EU AI Act", "Art. 27", "Fundamental rights impact assessment",
               "Deployers of credit-scoring and other Annex III 5(b)/(c) systems, and public bodies, assess the "
               "impact on fundamental rights before first use: the groups likely to be affected, the risks of "
               "harm to them, and the human oversight measures. The fairness and oversight evidence here feeds "
               "that assessment and its updates.",
               ("fairness", "oversight"), ("EU AI Act Art. 27",)),
    Obligation("EU AI Act", "Art. 10(2)(f)", "Data governance of training, validation and testing data",
               "Providers examine their training, validation and testing data sets for possible biases. This "
               "report measures decision outcomes in operation, which is not evidence of that examination; a "
               "disparity found here is a reason to ask the provider to re-examine its data.",
               ("fairness",), ("EU AI Act Art. 10",)),
    Obligation("EU AI Act", "Art. 15", "Accuracy, robustness",
               "Achieve an appropriate level of accuracy, consistently across the lifecycle; declare the accuracy "
               "metrics.",
               ("fairness", "oversight"), ("EU AI Act Art. 15",)),
    Obligation("EU AI Act", "Art. 72", "Post-market monitoring",
               "Actively collect and analyse data on the system's performance throughout its lifetime.",
               ("drift", "oversight"), ("EU AI Act Art. 72",)),
    Obligation("EU AI Act", "Art. 73", "Reporting of serious incidents",
               "Serious incidents (e.g. an infringement of fundamental-rights obligations) are reported to the "
               "market surveillance authority without undue delay. A FAIL here is not itself an incident, but the "
               "findings and their evidence are where an incident investigation starts.",
               ("summary", "findings", "evidence"), ("EU AI Act Art. 73",)),
    Obligation("EU AI Act", "Art. 86", "Right to explanation of individual decision-making",
               "A person affected by a decision based on a high-risk system's output may obtain a clear and "
               "meaningful explanation of the system's role and the main elements of the decision. The recorded "
               "reviewer rationale and the per-case log are the material for that explanation.",
               ("data-quality", "oversight"), ("EU AI Act Art. 86",)),
    Obligation("NIST AI RMF 1.0", "GOVERN", "Govern",
               "Policies, accountability and roles for AI risk are in place, including the roles of people "
               "overseeing AI decisions (GOVERN 3.2).",
               ("methodology", "oversight", "evidence"), ("NIST AI RMF GOVERN",)),
    Obligation("NIST AI RMF 1.0", "MAP", "Map",
               "The context and risks are established, including the processes for human oversight, which "
               "are defined, assessed and documented (MAP 3.5: review coverage, planted canaries, override rate).",
               ("oversight", "fairness"), ("NIST AI RMF MAP",)),
    Obligation("NIST AI RMF 1.0", "MEASURE", "Measure",
               "Risks are analysed and tracked with quantitative methods: the system's functionality and behaviour "
               "are monitored in production (2.4: review times, drift), its validity and reliability are shown "
               "(2.5: agreement between reviewers), fairness and bias are evaluated and documented (2.11).",
               ("oversight", "automation-bias", "agreement", "fairness", "drift", "methodology"),
               ("NIST AI RMF MEASURE",)),
    Obligation("NIST AI RMF 1.0", "MANAGE", "Manage",
               "Risks are prioritised and responded to; post-deployment monitoring plans are implemented, "
               "including the mechanisms for appeal and override (4.1: here, reviewers overriding the model, "
               "and drift between windows). Superseding or deactivating the whole system (2.4) is the "
               "deployer's decision on this evidence; this report does not measure it.",
               ("summary", "findings", "oversight", "drift"), ("NIST AI RMF MANAGE",)),
    Obligation("ISO/IEC 42001:2023", "Clause 9.1", "Monitoring, measurement, analysis and evaluation",
               "Determine what is monitored and measured, the methods, and when results are analysed and "
               "evaluated.",
               ("summary", "findings", "methodology"), ()),
    Obligation("ISO/IEC 42001:2023", "Annex A.5", "Assessing impacts of AI systems",
               "Assess the consequences of the AI system for individuals and groups.",
               ("fairness",), ()),
    Obligation("ISO/IEC 42001:2023", "Annex A.6.2.8", "AI system recording of event logs",
               "Determine at which phases event logs are recorded, and record them.",
               ("data-quality", "evidence"), ("ISO/IEC 42001",)),
    Obligation("ISO/IEC 42001:2023", "Clause 7.5", "Documented information",
               "Documented information is controlled: identified, protected from loss of integrity, retained.",
               ("evidence",), ()),
)


def _matches(ref: str, prefixes: tuple[str, ...]) -> bool:
    return any(ref == p or ref.startswith(p + " ") or ref.startswith(p + "(") or ref.startswith(p + ".")
               for p in prefixes)


def mapping(findings: list[dict]) -> list[dict]:
    """The table rows: obligation, what it asks, report sections, and the policy checks citing it."""
    rows, covered = [], set()
    for ob in OBLIGATIONS:
        checks = []
        for f in findings:
            cited = [r for r in f.get("refs", []) if _matches(r, ob.prefixes)]
            if cited:
                covered.update(cited)
                checks.append({"title": f["title"], "metric": f["metric"], "status": f["status"], "refs": cited})
        rows.append({"framework": ob.framework, "ref": ob.ref, "title": ob.title, "asks": ob.asks,
                     "sections": [{"id": s, "name": SECTIONS[s]} for s in ob.sections], "checks": checks})
    extra: dict[str, list[dict]] = {}
    for f in findings:
        for r in f.get("refs", []):
            if r not in covered:
                extra.setdefault(r, []).append({"title": f["title"], "metric": f["metric"], "status": f["status"],
                                                "refs": [r]})
    for ref, checks in sorted(extra.items()):
        rows.append({"framework": "Cited by the policy", "ref": ref, "title": "", "asks":
                     "Cited by a rule of the policy in force; see the policy checks.",
                     "sections": [{"id": "findings", "name": SECTIONS["findings"]}], "checks": checks})
    return rows
