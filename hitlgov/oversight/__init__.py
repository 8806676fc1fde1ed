"""Continuous oversight (issue 18): the writing side of monitoring.

``monitor`` evaluates the policy on each system's latest window and appends every finding's
status to ``findings_history`` and the audit chain; ``alerts`` tells configured channels when a
status changed; ``incidents`` keeps the Art. 73 register and its deadlines; ``remediation``
tracks who fixes a failing finding by when. The statistics live in
:mod:`hitlgov.metrics.monitoring` (this layer sits above metrics and ingestion; only the
dashboard and the CLI import it).
"""
