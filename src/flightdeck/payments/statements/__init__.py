"""Gateway and bank statements: reading files from an inbox into normalized statement records.

- :mod:`.readers`: CSV, JSON and Excel files into columns of raw cells, with display lines.
- :mod:`.mappings`: which columns hold which field, per gateway (``MAPPINGS``), plus user overrides.
- :mod:`.normalize`: :func:`read_statement`, raw cells into a ``RECORD_SCHEMA`` Arrow table.
- :mod:`.inbox`: the statement files waiting in a folder or an S3 prefix, and their SHA-256.

See ``docs/payments/statements.md``.
"""

from __future__ import annotations

from flightdeck.payments.statements.inbox import InboxFile, file_sha256, list_inbox
from flightdeck.payments.statements.mappings import (
    MAPPINGS,
    EffectiveMapping,
    Mapping,
    StatementField,
    effective_mapping,
)
from flightdeck.payments.statements.normalize import read_statement
from flightdeck.payments.statements.readers import RawTable, StatementFormat, detect_format

__all__ = [
    "MAPPINGS",
    "EffectiveMapping",
    "InboxFile",
    "Mapping",
    "RawTable",
    "StatementField",
    "StatementFormat",
    "detect_format",
    "effective_mapping",
    "file_sha256",
    "list_inbox",
    "read_statement",
]
