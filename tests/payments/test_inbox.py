"""Statement inboxes: a local folder, and an S3 prefix served by moto's S3 server on loopback."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from flightdeck.config.payments import StatementSourceConfig
from flightdeck.payments.errors import ReconError
from flightdeck.payments.statements import file_sha256, list_inbox, read_statement
from flightdeck.payments.statements.inbox import glob_regex, parse_s3_url

STATEMENT = (
    "reference,amount,fees,currency,status,paid_at\n"
    "order-1,3000000,55000,NGN,success,2024-05-02T10:00:27Z\n"
    "order-2,150000,0,NGN,failed,2024-05-02T11:00:00Z\n"
)


def source(**kwargs: Any) -> StatementSourceConfig:
    return StatementSourceConfig.model_validate({"mapping": "paystack_settlement", **kwargs})


def test_file_sha256_streams_large_files(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 20_000  # ~5 MiB: several chunks
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_local_inbox_lists_matching_files_sorted_by_name(tmp_path: Path) -> None:
    inbox = tmp_path / "config" / "statements"
    (inbox / "archive").mkdir(parents=True)
    (inbox / "b-2024-05-03.csv").write_text(STATEMENT)
    (inbox / "a-2024-05-02.csv").write_text(STATEMENT + "order-3,100,0,NGN,success,2024-05-02T12:00:00Z\n")
    (inbox / "notes.txt").write_text("not a statement")
    (inbox / "archive" / "old.csv").write_text(STATEMENT)
    files = list_inbox(source(inbox="statements", pattern="*.csv"), tmp_path / "config")
    assert [f.name for f in files] == ["a-2024-05-02.csv", "b-2024-05-03.csv"]
    first = files[0]
    assert first.size == (inbox / "a-2024-05-02.csv").stat().st_size
    assert first.local_path() == inbox / "a-2024-05-02.csv"
    assert first.sha256() == hashlib.sha256((inbox / "a-2024-05-02.csv").read_bytes()).hexdigest()
    first.close()
    assert first.local_path().exists()  # closing never deletes a local statement
    everything = list_inbox(source(inbox=str(inbox), pattern="**/*.csv"), Path("/nonexistent"))
    assert [f.name for f in everything] == ["a-2024-05-02.csv", "archive/old.csv", "b-2024-05-03.csv"]


def test_missing_local_inbox_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReconError, match="is not a folder"):
        list_inbox(source(inbox="nowhere"), tmp_path)


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.csv", "a.csv", True),
        ("*.csv", "archive/a.csv", False),
        ("**/*.csv", "archive/2024/a.csv", True),
        ("**/*.csv", "a.csv", True),
        ("stripe-??.csv", "stripe-05.csv", True),
        ("stripe-[0-9]*.csv", "stripe-x.csv", False),
        ("stripe-[!x]*.csv", "stripe-1.csv", True),
        ("a+b.csv", "a+b.csv", True),
        ("*", "a/b", False),
    ],
)
def test_s3_names_match_like_a_folder_glob(pattern: str, name: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(name)) is matches


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b/")
    assert parse_s3_url("s3://bucket/a/b") == ("bucket", "a/b/")
    with pytest.raises(ReconError, match="names no bucket"):
        parse_s3_url("s3:///prefix")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"statements-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="paystack/2024-05-03.csv", Body=STATEMENT.encode())
    client.put_object(Bucket=name, Key="paystack/2024-05-02.csv", Body=STATEMENT.encode()[:-1] + b"\n")
    client.put_object(Bucket=name, Key="paystack/readme.md", Body=b"# not a statement")
    client.put_object(Bucket=name, Key="paystack/archive/2024-04-30.csv", Body=STATEMENT.encode())
    client.put_object(Bucket=name, Key="stripe/2024-05-02.csv", Body=b"other gateway")
    return name


def test_s3_inbox_lists_downloads_and_hashes(s3_endpoint: str, bucket: str) -> None:
    src = source(
        inbox=f"s3://{bucket}/paystack",
        pattern="*.csv",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="test-key",
        s3_secret_access_key="test-secret",
    )
    files = list_inbox(src, Path("/unused"))
    assert [f.name for f in files] == ["2024-05-02.csv", "2024-05-03.csv"]
    assert [f.location for f in files] == [
        f"s3://{bucket}/paystack/2024-05-02.csv",
        f"s3://{bucket}/paystack/2024-05-03.csv",
    ]
    assert files[1].size == len(STATEMENT.encode())
    with files[1] as statement:
        local = statement.local_path()
        assert local.read_text() == STATEMENT
        assert statement.sha256() == hashlib.sha256(STATEMENT.encode()).hexdigest()
        table = read_statement(local, src, display_name=statement.location)
        assert table.column("amount_minor").to_pylist() == [3000000, 150000]
        assert set(table.column("source").to_pylist()) == {f"s3://{bucket}/paystack/2024-05-03.csv"}
    assert not local.exists()  # the downloaded copy is removed
    nested = list_inbox(src.model_copy(update={"pattern": "archive/*.csv"}), Path("/unused"))
    assert [f.name for f in nested] == ["archive/2024-04-30.csv"]


def test_s3_inbox_uses_the_environments_credentials(
    s3_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    src = source(
        inbox=f"s3://{bucket}", pattern="paystack/*.csv", s3_endpoint_url=s3_endpoint, s3_region="us-east-1"
    )
    assert [f.name for f in list_inbox(src, tmp_path)] == [
        "paystack/2024-05-02.csv",
        "paystack/2024-05-03.csv",
    ]


def test_unreachable_s3_inbox_is_an_error(s3_endpoint: str) -> None:
    src = source(
        inbox=f"s3://missing-{uuid.uuid4().hex[:8]}/x",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    with pytest.raises(ReconError, match="cannot list statement inbox"):
        list_inbox(src, Path("/unused"))
