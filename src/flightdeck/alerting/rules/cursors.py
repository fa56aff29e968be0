"""Positions of the rule engine's readers in ``alerting_cursors``: the evidence watermark
(``evidence``) and each log file's inode and offset (``log:<name>``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from flightdeck.store.tables import alerting_cursors

__all__ = ["load_cursor", "save_cursor"]


def load_cursor(conn: Connection, name: str) -> tuple[int, dict[str, Any]] | None:
    """(position, detail) of a cursor, or None when it was never saved."""
    row = conn.execute(select(alerting_cursors).where(alerting_cursors.c.name == name)).mappings().first()
    if row is None:
        return None
    return int(row["position"]), dict(row["detail"] or {})


def save_cursor(conn: Connection, name: str, position: int, detail: dict[str, Any], now: datetime) -> None:
    """Insert or update a cursor (the engine holding the alerting lease is its only writer)."""
    values = {"position": position, "detail": detail, "updated_at": now}
    result = conn.execute(update(alerting_cursors).where(alerting_cursors.c.name == name).values(**values))
    if result.rowcount == 0:
        conn.execute(insert(alerting_cursors).values(name=name, **values))
