"""Shared test helpers: configurations, keys, and content hashes of tables."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flightdeck.config.backups import BackupConfig
from flightdeck.config.models import DatasourceConfig


def new_key() -> str:
    return os.urandom(32).hex()


def backup_config(root: Path, key: str | None = None, **extra: Any) -> BackupConfig:
    data: dict[str, Any] = {
        "service": "shop",
        "datasource": "db",
        "storage": {"kind": "local", "path": str(root)},
        **extra,
    }
    if key is not None:
        data["encryption"] = {"key": key}
    return BackupConfig.model_validate(data)


def datasource(url: str) -> DatasourceConfig:
    return DatasourceConfig.model_validate({"url": url})


def rows_hash(rows: Iterable[tuple[Any, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(str(v) for v in row)).encode())
    return h.hexdigest()
