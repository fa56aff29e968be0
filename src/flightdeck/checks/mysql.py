"""``mysql``: is the MySQL or MariaDB server reachable, how busy is it, and are queries stuck?

Measurements: ``connect_ms``, ``ping_ms``, ``connections_used``, ``connections_max``,
``connections_used_pct``, ``long_queries``, ``longest_query_seconds`` and, when the URL names a
database, ``db_size_bytes``. The verdict is decided by the user's conditions.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Literal

import pymysql
from pydantic import Field, JsonValue, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.dbconnect import connect_target
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Name, PositiveDuration
from flightdeck.datasources import (
    Dialect,
    connect_mysql,
    is_mariadb,
    validate_target,
)
from flightdeck.errors import CheckError
from flightdeck.secret import Secret

__all__ = ["MysqlCheck", "MysqlSpec"]

QUERY_TEXT_CHARS = 200
LONG_QUERIES_IN_DETAIL = 10


class MysqlSpec(CheckSpec):
    kind: Literal["mysql"]
    url: Secret | None = Field(default=None, description="mysql:// or mariadb:// URL (a secret)")
    datasource: Name | None = Field(default=None, description="Name of a MySQL/MariaDB entry in datasources")
    long_query_seconds: PositiveDuration = Field(
        default=60, description="A query running longer than this is long"
    )

    @model_validator(mode="after")
    def _target(self) -> MysqlSpec:
        validate_target(self.url, self.datasource, {Dialect.MYSQL}, "mysql")
        return self


# TIME is whole seconds on both servers; MariaDB also has TIME_MS.
_PROCESSLIST_SQL = """
SELECT ID, USER, DB, COMMAND, {seconds} AS SECONDS, STATE, LEFT(INFO, %s)
FROM information_schema.PROCESSLIST
WHERE ID <> CONNECTION_ID() AND INFO IS NOT NULL
  AND COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump', 'Binlog Dump GTID')
  AND {seconds} >= %s
ORDER BY SECONDS DESC
"""

_SIZE_SQL = """
SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0)
FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
"""


async def _scalar(cur: Any, sql: str, *args: object) -> Any:
    await cur.execute(sql, args or None)
    row = await cur.fetchone()
    return None if row is None else row[0]


@register
class MysqlCheck(Check[MysqlSpec]):
    spec_type = MysqlSpec

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        url, conn, connect_ms, obs = await connect_target(
            self, spec.url, spec.datasource, Dialect.MYSQL, connect_mysql
        )
        finished = False
        try:
            await conn.autocommit(True)
            async with conn.cursor() as cur:
                t1 = time.perf_counter()
                await _scalar(cur, "SELECT 1")
                ping_ms = (time.perf_counter() - t1) * 1000
                obs.measure("ping_ms", round(ping_ms, 3), "ms")
                await self._connections(cur, obs)
                await self._long_queries(cur, obs, mariadb=is_mariadb(conn))
                if url.database:
                    if not is_mariadb(conn):  # MySQL 8 caches table statistics for a day by default
                        with contextlib.suppress(pymysql.err.MySQLError):
                            await cur.execute("SET SESSION information_schema_stats_expiry = 0")
                    obs.measure("db_size_bytes", int(await _scalar(cur, _SIZE_SQL)), "bytes")
            # MariaDB prefixes its version with 5.5.5- for old clients' sake.
            obs.detail["server_version"] = str(conn.get_server_info()).removeprefix("5.5.5-")
            finished = True
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else "?"
            message = url.clean(str(exc.args[1])) if len(exc.args) >= 2 else type(exc).__name__
            raise CheckError(f"{url.where}: {message} (error {code})") from None
        except OSError as exc:
            raise CheckError(f"{url.where}: connection lost: {exc.strerror or exc}") from None
        finally:
            if finished:
                with contextlib.suppress(Exception):
                    await conn.ensure_closed()
            conn.close()
        values = {m.name: m.value for m in obs.measurements}
        parts = [f"connect {connect_ms:.1f} ms", f"ping {ping_ms:.1f} ms"]
        if "connections_used_pct" in values:
            parts.append(f"connections {values['connections_used_pct']:g}%")
        long = int(values.get("long_queries", 0))
        if long:
            parts.append(f"{long} long quer{'y' if long == 1 else 'ies'}")
        obs.summary = ", ".join(parts)
        return obs

    async def _connections(self, cur: Any, obs: Observation) -> None:
        await cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        row = await cur.fetchone()
        used = int(row[1]) if row else None
        max_conn = int(await _scalar(cur, "SELECT @@GLOBAL.max_connections"))
        obs.measure("connections_used", used)
        obs.measure("connections_max", max_conn)
        if used is not None and max_conn > 0:
            obs.measure("connections_used_pct", round(100.0 * used / max_conn, 2), "%")

    async def _long_queries(self, cur: Any, obs: Observation, *, mariadb: bool) -> None:
        seconds = "TIME_MS / 1000" if mariadb else "TIME"
        await cur.execute(
            _PROCESSLIST_SQL.format(seconds=seconds), (QUERY_TEXT_CHARS, float(self.spec.long_query_seconds))
        )
        rows = await cur.fetchall()
        obs.measure("long_queries", len(rows))
        obs.measure("longest_query_seconds", round(max((float(r[4]) for r in rows), default=0.0), 3), "s")
        listed: list[JsonValue] = [
            {
                "id": int(r[0]),
                "seconds": round(float(r[4]), 3),
                "user": r[1],
                "database": r[2],
                "state": r[5],
                "query": " ".join(str(r[6] or "").split()),
            }
            for r in rows[:LONG_QUERIES_IN_DETAIL]
        ]
        obs.detail["long_queries"] = listed
