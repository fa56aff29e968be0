"""Reports: documents people read, rendered from what the domains recorded.

This layer sits between the domains (:mod:`flightdeck.payments`, the store) and the ways out (the
web app, the CLI): it reads records and writes files, and changes nothing.

- :mod:`flightdeck.reports.recon_data`: a reconciliation run gathered for reporting.
- :mod:`flightdeck.reports.recon`: the daily reconciliation report (Markdown, HTML, PDF, CSV).
- :mod:`flightdeck.reports.dr_data`: a disaster-recovery drill gathered for reporting, and past drills
  read back from the evidence store.
- :mod:`flightdeck.reports.dr`: the DR drill report (Markdown, HTML, PDF).
- :mod:`flightdeck.reports.charts`: SVG bar charts and trend lines, shared with the cockpit.
"""

from __future__ import annotations

from flightdeck.reports.dr import write_dr_report
from flightdeck.reports.dr_data import DrillReport, load_drill_history
from flightdeck.reports.recon import ReportFormat, report_path, write_recon_report
from flightdeck.reports.recon_data import ReconReport, load_recon_report

__all__ = [
    "DrillReport",
    "ReconReport",
    "ReportFormat",
    "load_drill_history",
    "load_recon_report",
    "report_path",
    "write_dr_report",
    "write_recon_report",
]
