"""The evidence store: tables, migrations and queries (SQLite by default, PostgreSQL in production)."""

from flightdeck.store.db import Store, normalize_url
from flightdeck.store.evidence import (
    EvidenceFilter,
    EvidencePage,
    count_evidence,
    get_evidence,
    insert_evidence,
    list_evidence,
)
from flightdeck.store.state import (
    CheckRow,
    CheckStatus,
    get_status,
    list_statuses,
    record_outcome,
    sync_checks,
)

__all__ = [
    "CheckRow",
    "CheckStatus",
    "EvidenceFilter",
    "EvidencePage",
    "Store",
    "count_evidence",
    "get_evidence",
    "get_status",
    "insert_evidence",
    "list_evidence",
    "list_statuses",
    "normalize_url",
    "record_outcome",
    "sync_checks",
]
