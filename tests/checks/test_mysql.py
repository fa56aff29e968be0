"""The ``mysql`` check against the real local MariaDB: connections, long queries, size, errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import pymysql
import pytest

from flightdeck.evidence import Verdict
from tests.checks.servers import free_port, run_one, values

pytestmark = pytest.mark.services


async def connect(server: str, db: str | None = None, **kw: Any) -> Any:
    host, port = server.rsplit(":", 1)
    return await aiomysql.connect(host=host, port=int(port), user="root", db=db, autocommit=True, **kw)


@pytest.fixture
def server(mysql_url: str) -> str:
    return mysql_url.split("@", 1)[1].split("/", 1)[0]


@pytest.fixture
async def database(server: str) -> AsyncIterator[str]:
    """A uniquely named database, dropped afterwards."""
    name = f"fd_mycheck_{uuid.uuid4().hex[:10]}"
    admin = await connect(server)
    async with admin.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}`")
    yield name
    async with admin.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


async def test_measures_connections_in_use_and_database_size(server: str, database: str) -> None:
    url = f"mysql://root@{server}/{database}"
    empty = await run_one(f"      - {{name: m, kind: mysql, url: '{url}'}}\n")
    assert values(empty)["db_size_bytes"] == 0  # no tables yet

    extra = [await connect(server) for _ in range(4)]
    conn = await connect(server, database)
    try:
        async with conn.cursor() as cur:
            await cur.execute("CREATE TABLE bulk (id INT PRIMARY KEY, pad VARCHAR(600)) ENGINE=InnoDB")
            await cur.execute(
                "INSERT INTO bulk SELECT seq, REPEAT('x', 500) FROM seq_1_to_10000"
            )  # MariaDB's sequence engine
            await cur.execute("ANALYZE TABLE bulk")
            await cur.fetchall()
        ev = await run_one(
            f"      - {{name: m, kind: mysql, url: '{url}', conditions: ['connections_used_pct < 90']}}\n"
        )
        async with conn.cursor() as cur:
            await cur.execute("SELECT @@max_connections")
            (max_connections,) = await cur.fetchone()
    finally:
        for c in extra:
            c.close()
        conn.close()
    got = values(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    assert got["connections_used"] >= 6  # four extra, this test's own and the check's
    assert got["connections_max"] == max_connections
    assert got["connections_used_pct"] == round(100 * got["connections_used"] / got["connections_max"], 2)
    assert got["db_size_bytes"] > 5_000_000  # 10,000 rows of 500 bytes
    assert ev.detail["target"] == f"root@{server}/{database}"
    assert "MariaDB" in str(ev.detail["server_version"])


async def test_long_running_query_is_counted_and_listed(server: str) -> None:
    marker = f"fd_long_{uuid.uuid4().hex[:8]}"
    sleeper = await connect(server)
    thread_id = sleeper.thread_id()
    monitor = await connect(server)

    async def sleep_query() -> None:
        async with sleeper.cursor() as cur:
            await cur.execute(f"SELECT SLEEP(60) /* {marker} {'x' * 400} */")
            await cur.fetchall()

    task = asyncio.create_task(sleep_query())
    try:
        async with monitor.cursor() as cur:
            for _ in range(200):  # until the background query has run for more than 300 ms
                await cur.execute(
                    "SELECT TIME_MS FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)
                )
                row = await cur.fetchone()
                if row and row[0] > 300:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the background query never showed up")
        ev = await run_one(
            f"      - {{name: m, kind: mysql, url: 'mysql://root@{server}/', long_query_seconds: 300ms,"
            " conditions: ['long_queries == 0']}\n"
        )
    finally:
        async with monitor.cursor() as cur:
            await cur.execute(f"KILL QUERY {thread_id}")
        with pytest.raises(pymysql.err.OperationalError, match="interrupted"):
            await task
        sleeper.close()
    assert ev.verdict is Verdict.FAIL
    listed = [q for q in ev.detail["long_queries"] if q["id"] == thread_id]
    assert len(listed) == 1, ev.detail["long_queries"]
    assert marker in listed[0]["query"]
    assert len(listed[0]["query"]) <= 200
    assert listed[0]["seconds"] > 0.3
    assert values(ev)["longest_query_seconds"] >= listed[0]["seconds"]

    ev2 = await run_one(
        f"      - {{name: m, kind: mysql, url: 'mysql://root@{server}/', long_query_seconds: 300ms}}\n"
    )
    monitor.close()
    assert not [q for q in ev2.detail["long_queries"] if q["id"] == thread_id]
    assert "db_size_bytes" not in values(ev2)  # no database in the URL: size is not measured


async def test_closed_port_is_an_error_with_the_reason() -> None:
    port = free_port()
    ev = await run_one(f"      - {{name: m, kind: mysql, url: 'mysql://app:s3cret-pw@127.0.0.1:{port}/x'}}\n")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f"127.0.0.1:{port}: connection refused"


@pytest.fixture
async def user_with_password(server: str) -> AsyncIterator[tuple[str, str]]:
    user, password = f"fd_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    admin = await connect(server)
    async with admin.cursor() as cur:
        await cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        await cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'")
    yield user, password
    async with admin.cursor() as cur:
        await cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        await cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
    admin.close()


async def test_wrong_password_is_an_error_and_the_password_is_nowhere(
    server: str, user_with_password: tuple[str, str]
) -> None:
    user, password = user_with_password
    wrong = f"wrong-{uuid.uuid4().hex[:8]}"
    ev = await run_one(
        "      - {name: m, kind: mysql, datasource: shop}\n",
        datasources=f"  shop: {{url: 'mysql://{user}:{wrong}@{server}/'}}\n",
    )
    assert ev.verdict is Verdict.ERROR
    assert ev.summary.startswith(f"{server}: Access denied for user '{user}'@")
    assert ev.summary.endswith("(using password: YES) (error 1045)")
    assert wrong not in ev.model_dump_json()

    good = await run_one(
        "      - {name: m, kind: mysql, datasource: shop}\n",
        datasources=f"  shop: {{url: 'mysql://{user}:{password}@{server}/'}}\n",
    )
    assert good.verdict is Verdict.PASS, good.summary
    assert good.detail["datasource"] == "shop"
    assert password not in good.model_dump_json()


async def test_unknown_database_is_an_error(server: str) -> None:
    ev = await run_one(f"      - {{name: m, kind: mysql, url: 'mysql://root@{server}/fd_no_such_db'}}\n")
    assert ev.verdict is Verdict.ERROR
    assert "Unknown database 'fd_no_such_db' (error 1049)" in ev.summary
