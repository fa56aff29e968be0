"""Backup engines, one per datasource dialect; importing this package registers them all."""

from __future__ import annotations

from flightdeck.backups.engines.base import ENGINES, Dump, DumpInfo, Engine, engine_for, register_engine
from flightdeck.backups.engines.mysql import MysqlEngine
from flightdeck.backups.engines.postgres import PostgresEngine
from flightdeck.backups.engines.sqlite import SqliteEngine

__all__ = [
    "ENGINES",
    "Dump",
    "DumpInfo",
    "Engine",
    "MysqlEngine",
    "PostgresEngine",
    "SqliteEngine",
    "engine_for",
    "register_engine",
]
