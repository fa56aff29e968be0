"""Reconciliation: matching internal payment records against a gateway or bank statement.

- :mod:`~flightdeck.payments.recon.match`: :func:`match`, the rules and their precedence; the SQL
  it runs lives in ``sql/`` so the same matching can run on a distributed SQL engine
  (docs/payments/scale.md).
- :mod:`~flightdeck.payments.recon.result`: :class:`MatchResult`, :class:`MatchItem`,
  :class:`CategorySummary`.
- :mod:`~flightdeck.payments.recon.reasons`: wording of each item's reason.
"""

from __future__ import annotations

from flightdeck.payments.recon.match import STAGES, load_sql, match, options_row
from flightdeck.payments.recon.result import CategorySummary, MatchItem, MatchResult, item_fingerprint

__all__ = [
    "STAGES",
    "CategorySummary",
    "MatchItem",
    "MatchResult",
    "item_fingerprint",
    "load_sql",
    "match",
    "options_row",
]
