"""Payment integrity: reconciliation against gateway statements, wallets vs ledger, a tamper-evident
ledger, settlements, and a gateway fault drill that proves retry logic charges exactly once.

- :mod:`.records`: the normalized record schema, statuses and result categories; :mod:`.errors`.
- :mod:`.money`: exact, currency-aware amounts (integer minor units, ISO 4217 exponents).
- :mod:`.statements`: gateway and bank statements (CSV, JSON, Excel; built-in mappings; inbox).
- :mod:`.internal`: the team's own payments, read with one read-only query.
- :mod:`.recon`: the matching engine (SQL on DuckDB); :mod:`.synth`: seeded test data.
- :mod:`.reconcile`, :mod:`.recon_store`: a reconciliation run, its exceptions and audit trail.
- :mod:`.ledger`: double entry, the hash chain and signed checkpoints; :mod:`.wallets`;
  :mod:`.settlements`.
- :mod:`.drill`: the gateway fault drill (fault-injecting proxy, driver, charge reconciliation).
- :mod:`.kinds`: the check kinds that schedule these jobs; :mod:`.jobs`: on-demand runs as evidence.
"""

from __future__ import annotations

from flightdeck.payments.errors import (
    CurrencyError,
    DrillError,
    LedgerError,
    LedgerTamperedError,
    PaymentsError,
    ReconError,
    StatementError,
)
from flightdeck.payments.records import Category, PaymentStatus, Side

__all__ = [
    "Category",
    "CurrencyError",
    "DrillError",
    "LedgerError",
    "LedgerTamperedError",
    "PaymentStatus",
    "PaymentsError",
    "ReconError",
    "Side",
    "StatementError",
]
