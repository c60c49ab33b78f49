"""``triage report``: what each route costs and saves, from the decision store (``docs/report.md``).

Modules: ``build`` (the figures: ``build_report`` → ``Report``) · ``sql`` (the portable queries) · ``drift`` (PSI
against a bundle's ``drift_reference.json``; ``reference_from_scores`` for training code) · ``drift_reference``
(writes the shipped bundle's) · ``text`` / ``html`` / ``svg`` (the outputs) · ``fixtures`` (synthetic stores) ·
``cli`` (the command).
"""

from triage.report.build import Report, build_report
from triage.report.drift import DriftReference, load_reference, reference_from_scores
from triage.report.fixtures import write_week

__all__ = ["DriftReference", "Report", "build_report", "load_reference", "reference_from_scores", "write_week"]
