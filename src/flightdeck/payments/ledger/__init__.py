"""A tamper-evident ledger: double entry, a hash chain over the rows, signed exported checkpoints.

- :mod:`.canonical`: canonical bytes of a row, row hash, chain step, genesis.
- :mod:`.source`: streaming a ledger table in key order from PostgreSQL, MySQL/MariaDB or SQLite.
- :mod:`.chainstore`: the chain and checkpoints in flightdeck's store (compare-and-set appends).
- :mod:`.signing`, :mod:`.export`, :mod:`.checkpoints`: Ed25519 checkpoints, exported to a folder
  or S3, and their verification.
- :mod:`.anchor`, :mod:`.verify`: the two jobs (``flightdeck ledger anchor`` / ``verify``).
- :mod:`.balance`: double entry per transaction and in total.
- :mod:`.trigger`: an append-only guard for PostgreSQL ledger tables.
- :mod:`.exportfile`, :mod:`.auditexport`: a self-contained export file for auditors and its offline
  verification (``flightdeck ledger export`` / ``verify-file``).
- :mod:`.vectorized`: canonical bytes built in bulk by DuckDB and a chain fold, for ledger exports in files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flightdeck.payments.ledger.anchor import AnchorResult, anchor
from flightdeck.payments.ledger.balance import BalanceResult, UnbalancedTransaction, check_balance
from flightdeck.payments.ledger.canonical import canonical_row, chain_hash, genesis, row_hash
from flightdeck.payments.ledger.checkpoints import CheckpointCheck, CheckpointState
from flightdeck.payments.ledger.signing import generate_keypair, key_id
from flightdeck.payments.ledger.trigger import append_only_trigger_present, install_append_only_trigger
from flightdeck.payments.ledger.verify import Finding, RowFinding, VerifyResult, verify

if TYPE_CHECKING:
    from flightdeck.payments.ledger.auditexport import ExportResult, export_ledger
    from flightdeck.payments.ledger.exportfile import FileVerifyResult, verify_file

# The export file (Arrow, DuckDB) loads on first use, so the command line and the check kinds start
# without it.
_LAZY = {
    "ExportResult": "auditexport",
    "export_ledger": "auditexport",
    "FileVerifyResult": "exportfile",
    "verify_file": "exportfile",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "AnchorResult",
    "BalanceResult",
    "CheckpointCheck",
    "CheckpointState",
    "ExportResult",
    "FileVerifyResult",
    "Finding",
    "RowFinding",
    "UnbalancedTransaction",
    "VerifyResult",
    "anchor",
    "append_only_trigger_present",
    "canonical_row",
    "chain_hash",
    "check_balance",
    "export_ledger",
    "generate_keypair",
    "genesis",
    "install_append_only_trigger",
    "key_id",
    "row_hash",
    "verify",
    "verify_file",
]
