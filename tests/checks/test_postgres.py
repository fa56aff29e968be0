"""The ``postgres`` check against the real local PostgreSQL: long queries, indexes, migrations, errors."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from flightdeck.checks.postgres import (
    DEFAULT_MIGRATION_PATTERN,
    MigrationsSpec,
    parse_index_requirement,
    scan_migrations,
    version_key,
)
from flightdeck.config import load_config_text
from flightdeck.errors import ConfigError
from flightdeck.evidence import Verdict
from tests.checks.servers import free_port, run_one, values
from tests.conftest import REQUIRE_SERVICES

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def pg_db(pg_admin_url: str) -> Iterator[str]:
    """A uniquely named database for this module, dropped afterwards."""
    name = f"fd_pgcheck_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def conn(pg_db: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(pg_db)
    yield c
    await c.close()


def check(pg_db: str, extra: str = "") -> str:
    return f"      - {{name: pg, kind: postgres, url: '{pg_db}'{', ' + extra if extra else ''}}}\n"


# --- health: connect, ping, connections, size --------------------------------------------------------


async def test_measures_connections_in_use_and_database_size(pg_db: str, conn: asyncpg.Connection) -> None:
    before = values(await run_one(check(pg_db)))
    extra = [await asyncpg.connect(pg_db) for _ in range(5)]
    table = f"bulk_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(
            f"CREATE TABLE {table} AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g"
        )
        ev = await run_one(check(pg_db, "conditions: ['connections_used_pct < 90', 'ping_ms < 5000']"))
    finally:
        for c in extra:
            await c.close()
        await conn.execute(f"DROP TABLE {table}")
    after = values(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    # Five extra connections, this test's own and the check's: at least seven client backends.
    assert after["connections_used"] >= 7
    assert after["connections_max"] == int(await conn.fetchval("SHOW max_connections"))
    assert after["connections_used_pct"] == round(
        100 * after["connections_used"] / after["connections_max"], 2
    )
    # 20,000 rows of 500 bytes: the database grew by well over 5 MB.
    assert after["db_size_bytes"] - before["db_size_bytes"] > 5_000_000
    assert after["connect_ms"] > 0
    assert after["ping_ms"] > 0
    assert ev.detail["target"] == pg_db.split("://", 1)[1]


# --- long queries ------------------------------------------------------------------------------------


async def test_long_running_query_is_counted_and_listed(pg_db: str, conn: asyncpg.Connection) -> None:
    marker = f"fd_long_{uuid.uuid4().hex[:8]}"
    sleeper = await asyncpg.connect(pg_db)
    pid = sleeper.get_server_pid()
    padding = "x" * 400  # the query text in evidence is truncated
    task = asyncio.create_task(sleeper.execute(f"SELECT pg_sleep(60) /* {marker} {padding} */"))
    try:
        for _ in range(200):  # until the background query has been running for more than 300 ms
            running = await conn.fetchval(
                "SELECT EXTRACT(EPOCH FROM clock_timestamp() - query_start) FROM pg_stat_activity "
                "WHERE pid = $1 AND state = 'active'",
                pid,
            )
            if running is not None and running > 0.3:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the background query never showed up as active")
        ev = await run_one(check(pg_db, "long_query_seconds: 300ms, conditions: ['long_queries == 0']"))
    finally:
        await conn.execute("SELECT pg_cancel_backend($1)", pid)
        with pytest.raises(asyncpg.QueryCanceledError):
            await task
        await sleeper.close()
    assert ev.verdict is Verdict.FAIL
    assert "condition failed: long_queries == 0" in ev.summary
    listed = [q for q in ev.detail["long_queries"] if q["pid"] == pid]
    assert len(listed) == 1, ev.detail["long_queries"]
    entry = listed[0]
    assert marker in entry["query"]
    assert len(entry["query"]) <= 200
    assert entry["seconds"] > 0.3
    assert values(ev)["longest_query_seconds"] >= entry["seconds"]

    # Cancelled: the same check no longer lists it.
    ev2 = await run_one(check(pg_db, "long_query_seconds: 300ms"))
    assert not [q for q in ev2.detail["long_queries"] if q["pid"] == pid]


# --- required indexes --------------------------------------------------------------------------------


@pytest.fixture
async def indexed_table(conn: asyncpg.Connection) -> AsyncIterator[str]:
    t = f"payments_{uuid.uuid4().hex[:8]}"
    await conn.execute(
        f"CREATE TABLE {t} (id serial PRIMARY KEY, wallet_id int, created_at timestamptz, status text, ref int)"
    )
    await conn.execute(f"CREATE INDEX {t}_wallet_created ON {t} (wallet_id, created_at)")
    await conn.execute(f"CREATE INDEX {t}_pending ON {t} (status) WHERE status = 'pending'")
    await conn.execute(f"INSERT INTO {t} (ref) VALUES (1), (1)")
    # A unique index built concurrently over duplicates fails and stays behind INVALID.
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {t}_ref ON {t} (ref)")
    yield t
    await conn.execute(f"DROP TABLE {t}")


async def test_missing_indexes_fail_and_are_named(pg_db: str, indexed_table: str) -> None:
    t = indexed_table
    reqs = [
        f"{t}_wallet_created",  # exists by name
        f"public.{t}_pkey",  # exists, schema-qualified
        f"{t}(wallet_id)",  # covered: leading column of (wallet_id, created_at)
        f"{t}(wallet_id, created_at)",  # covered exactly
        f"{t}(created_at)",  # missing: not a leading column
        f"{t}(status)",  # missing: only a partial index
        f"{t}_ref",  # exists but INVALID
        f"{t}_nosuch",  # missing by name
    ]
    ev = await run_one(check(pg_db, f"required_indexes: {json.dumps(reqs)}"))
    assert ev.verdict is Verdict.FAIL
    assert values(ev)["missing_indexes"] == 4
    assert ev.detail["missing_indexes"] == [f"{t}(created_at)", f"{t}(status)", f"{t}_ref", f"{t}_nosuch"]
    failures = ev.detail["failures"]
    assert f"missing index {t}(created_at)" in failures
    assert any(f.startswith(f"index {t}_ref exists but is INVALID") for f in failures)

    ok = await run_one(check(pg_db, f"required_indexes: {json.dumps(reqs[:4])}"))
    assert ok.verdict is Verdict.PASS, ok.summary
    assert values(ok)["missing_indexes"] == 0


def test_index_requirements_parse_and_reject_nonsense() -> None:
    r = parse_index_requirement('Billing."Ledger"(Wallet_ID, "CreatedAt")')
    assert (r.schema, r.table, r.columns) == ("billing", "Ledger", ("wallet_id", "CreatedAt"))
    assert parse_index_requirement("ix_a").name == "ix_a"
    with pytest.raises(ConfigError) as err:
        load_config_text(
            "services:\n  s:\n    checks:\n      - name: p\n        kind: postgres\n"
            "        url: postgresql://h/db\n        required_indexes: ['t(a b)']\n",
            "t.yaml",
            env={},
        )
    assert "t.yaml:7: services.s.checks[0].required_indexes" in str(err.value)


# --- pending migrations ------------------------------------------------------------------------------


def make_entries(directory: Path, names: list[str]) -> None:
    for name in names:
        if name.endswith("/"):
            (directory / name.rstrip("/")).mkdir()
            (directory / name.rstrip("/") / "up.sql").write_text("SELECT 1;\n")
        else:
            (directory / name).write_text("SELECT 1;\n")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # golang-migrate: up and down files are one migration
        (
            ["0001_init.up.sql", "0001_init.down.sql", "0002_users.up.sql", "0002_users.down.sql"],
            ["0001", "0002"],
        ),
        # diesel: one folder per migration, timestamp with dashes
        (
            ["2024-01-01-000000_create_users/", "2024-02-10-123000_add_email/", ".keep"],
            ["2024-01-01-000000", "2024-02-10-123000"],
        ),
        # Flyway: versioned V1__, V1_1__, V2__; repeatable R__ and undo U1__ are not versions
        (
            ["V1__init.sql", "V1_1__fix.sql", "V2__more.sql", "R__views.sql", "U1__undo.sql"],
            ["1", "1_1", "2"],
        ),
        # Alembic with numbered revisions: __init__.py and __pycache__ are ignored
        (
            ["0001_evidence_store.py", "0002_rollups.py", "__init__.py", "__pycache__/", "env.py"],
            ["0001", "0002"],
        ),
        # Rails / sqlx / dbmate timestamps
        (
            ["20240101120000_create_users.rb", "20240301090000_add_index.rb"],
            ["20240101120000", "20240301090000"],
        ),
    ],
    ids=["golang-migrate", "diesel", "flyway", "alembic", "timestamps"],
)
def test_default_pattern_reads_common_tools_layouts(
    tmp_path: Path, names: list[str], expected: list[str]
) -> None:
    make_entries(tmp_path, names)
    assert [f.version for f in scan_migrations(tmp_path, DEFAULT_MIGRATION_PATTERN)] == expected


def test_versions_compare_across_formats() -> None:
    assert version_key("0001") == version_key("1") == (1,)
    assert version_key("2024-01-01-000000") == version_key("20240101000000")
    assert version_key("1_1") == version_key("1.1") == (1, 1)
    assert version_key("1.0") == version_key("1")
    assert version_key("AE1027a6acf") == "ae1027a6acf"


@pytest.fixture
async def migrations_table(conn: asyncpg.Connection) -> AsyncIterator[str]:
    t = f"migs_{uuid.uuid4().hex[:8]}"
    yield t
    await conn.execute(f"DROP TABLE IF EXISTS {t}")


async def test_pending_migrations_rows_diesel(
    pg_db: str, conn: asyncpg.Connection, migrations_table: str, tmp_path: Path
) -> None:
    make_entries(
        tmp_path,
        ["2024-01-01-000000_create_users/", "2024-02-10-123000_add_email/", "2024-03-05-080000_wallets/"],
    )
    await conn.execute(f"CREATE TABLE {migrations_table} (version varchar(50) PRIMARY KEY, run_on timestamp)")
    await conn.execute(
        f"INSERT INTO {migrations_table} (version) VALUES ('20240101000000'), ('20240305080000')"
    )
    mig = f"migrations: {{table: {migrations_table}, directory: '{tmp_path}'}}"
    ev = await run_one(check(pg_db, mig))
    assert ev.verdict is Verdict.FAIL
    assert values(ev)["pending_migrations"] == 1
    assert ev.detail["migrations"]["pending"] == [
        {"name": "2024-02-10-123000_add_email", "version": "2024-02-10-123000"}
    ]
    assert "1 pending migration: 2024-02-10-123000_add_email" in ev.summary

    await conn.execute(f"INSERT INTO {migrations_table} (version) VALUES ('20240210123000')")
    ev = await run_one(check(pg_db, mig))
    assert ev.verdict is Verdict.PASS, ev.summary
    assert values(ev)["pending_migrations"] == 0


async def test_pending_migrations_latest_golang_migrate(
    pg_db: str, conn: asyncpg.Connection, migrations_table: str, tmp_path: Path
) -> None:
    make_entries(tmp_path, [f"000{i}_step.{d}.sql" for i in (1, 2, 3, 4) for d in ("up", "down")])
    await conn.execute(f"CREATE TABLE {migrations_table} (version bigint NOT NULL, dirty boolean NOT NULL)")
    await conn.execute(f"INSERT INTO {migrations_table} VALUES (2, false)")
    ev = await run_one(
        check(pg_db, f"migrations: {{table: {migrations_table}, directory: '{tmp_path}', tracking: latest}}")
    )
    assert values(ev)["pending_migrations"] == 2
    assert [p["name"] for p in ev.detail["migrations"]["pending"]] == ["0003_step.up.sql", "0004_step.up.sql"]


async def test_pending_migrations_flyway_with_own_table_and_column(
    pg_db: str, conn: asyncpg.Connection, migrations_table: str, tmp_path: Path
) -> None:
    make_entries(tmp_path, ["V1__init.sql", "V1_1__fix.sql", "V2__more.sql", "R__views.sql"])
    await conn.execute(
        f'CREATE TABLE {migrations_table} (installed_rank int, "version" varchar(50), script text)'
    )
    await conn.execute(
        f"INSERT INTO {migrations_table} VALUES (1, '1', 'V1__init.sql'), (2, '1.1', 'V1_1__fix.sql'), (3, NULL, 'R__views.sql')"
    )
    ev = await run_one(
        check(
            pg_db,
            f"migrations: {{table: public.{migrations_table}, column: version, directory: '{tmp_path}'}}",
        )
    )
    assert values(ev)["pending_migrations"] == 1
    assert "V2__more.sql" in ev.summary


async def test_missing_migrations_table_means_everything_is_pending(pg_db: str, tmp_path: Path) -> None:
    make_entries(tmp_path, ["0001_a.py", "0002_b.py"])
    ev = await run_one(
        check(
            pg_db,
            f"migrations: {{table: alembic_nosuch_{uuid.uuid4().hex[:6]}, column: version_num, directory: '{tmp_path}'}}",
        )
    )
    assert ev.verdict is Verdict.FAIL
    assert values(ev)["pending_migrations"] == 2
    assert "does not exist" in ev.summary
    assert ev.detail["migrations"]["table_exists"] is False


async def test_migrations_directory_that_does_not_exist_is_an_error(pg_db: str, tmp_path: Path) -> None:
    ev = await run_one(check(pg_db, f"migrations: {{directory: '{tmp_path / 'nope'}'}}"))
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f"migrations directory {tmp_path / 'nope'} does not exist"


def test_migrations_spec_rejects_unsafe_names_and_patterns_without_group() -> None:
    with pytest.raises(ValueError, match="not a table name"):
        MigrationsSpec(directory=Path("."), table="x; DROP TABLE y")
    with pytest.raises(ValueError, match="capturing group"):
        MigrationsSpec(directory=Path("."), pattern=r"^\d+_")


# --- errors ------------------------------------------------------------------------------------------


async def test_closed_port_is_an_error_with_the_reason() -> None:
    port = free_port()
    ev = await run_one(
        f"      - {{name: pg, kind: postgres, url: 'postgresql://app:s3cret-pw@127.0.0.1:{port}/x'}}\n"
    )
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f"127.0.0.1:{port}: connection refused"


async def test_unknown_database_names_it(pg_admin_url: str) -> None:
    url = pg_admin_url.rsplit("/", 1)[0] + "/fd_no_such_db"
    ev = await run_one(check(url))
    assert ev.verdict is Verdict.ERROR
    assert 'database "fd_no_such_db" does not exist' in ev.summary


async def test_server_that_never_answers_times_out() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    try:
        ev = await run_one(
            f"      - {{name: pg, kind: postgres, url: 'postgresql://u@127.0.0.1:{port}/x', timeout: 500ms}}\n"
        )
    finally:
        silent.close()
    assert ev.verdict is Verdict.ERROR
    assert "timed out" in ev.summary


async def test_datasource_of_another_dialect_is_refused_with_a_reason() -> None:
    ev = await run_one(
        "      - {name: pg, kind: postgres, datasource: shop}\n",
        datasources="  shop: {url: 'mysql://root@127.0.0.1:3306/test'}\n",
    )
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == "datasource 'shop' is a mysql database; a postgres check cannot use it"


def test_url_and_datasource_are_exclusive_and_url_must_be_postgres() -> None:
    with pytest.raises(ConfigError, match="give either url"):
        load_config_text(
            "services:\n  s:\n    checks:\n      - {name: p, kind: postgres}\n", "t.yaml", env={}
        )
    with pytest.raises(ConfigError, match="needs a postgresql:// URL, not mysql"):
        load_config_text(
            "services:\n  s:\n    checks:\n      - {name: p, kind: postgres, url: 'mysql://h/d'}\n",
            "t.yaml",
            env={},
        )


# A private PostgreSQL cluster that checks passwords (the shared one trusts loopback).


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@pytest.fixture(scope="module")
def pg_with_password() -> Iterator[tuple[int, str]]:
    bindir = _pg_bindir()
    if bindir is None:
        message = "initdb is not installed; cannot start a password-checking PostgreSQL"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    password = f"pw-{uuid.uuid4().hex}"
    root = Path(tempfile.mkdtemp(prefix="fd-pgpw-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if as_user:
        shutil.chown(pwfile, "postgres")
    data = root / "data"
    port = free_port()
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "owner",
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
        ],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield port, password
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow  # starts a PostgreSQL cluster of its own
async def test_wrong_password_is_an_error_and_the_password_is_nowhere(
    pg_with_password: tuple[int, str],
) -> None:
    port, password = pg_with_password
    wrong = "not-the-password-" + uuid.uuid4().hex[:6]
    ev = await run_one(
        f"      - {{name: pg, kind: postgres, url: 'postgresql://owner:{wrong}@127.0.0.1:{port}/postgres'}}\n"
    )
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f'127.0.0.1:{port}: password authentication failed for user "owner"'
    dumped = ev.model_dump_json()
    assert wrong not in dumped
    assert password not in dumped

    good = await run_one(
        f"      - {{name: pg, kind: postgres, url: 'postgresql://owner:{password}@127.0.0.1:{port}/postgres'}}\n"
    )
    assert good.verdict is Verdict.PASS, good.summary
    assert good.detail["target"] == f"owner@127.0.0.1:{port}/postgres"
    assert password not in good.model_dump_json()
