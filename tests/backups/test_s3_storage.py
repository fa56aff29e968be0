"""S3Storage against moto's real S3 server on 127.0.0.1: streaming multipart uploads, verification,
cleanup after a failed upload, and credentials that never leak."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from flightdeck.backups.errors import BackupError
from flightdeck.backups.storage.base import STORAGES
from flightdeck.backups.storage.s3 import S3Storage
from flightdeck.config.backup_storage import S3StorageConfig
from flightdeck.secret import Secret

MIB = 1024 * 1024
ACCESS_KEY = "AKIAFLIGHTDECKTEST01"
SECRET_KEY = "s3cr3t-flightdeck-never-printed"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _config(endpoint: str, bucket: str, prefix: str = "") -> S3StorageConfig:
    return S3StorageConfig(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=Secret(ACCESS_KEY),
        secret_access_key=Secret(SECRET_KEY),
        part_size_mib=5,
    )


def _raw(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"fd-{uuid.uuid4().hex[:12]}"
    _raw(endpoint).create_bucket(Bucket=name)
    return name


def _stream(total: int, chunk: int = MIB, seed: int = 7) -> Iterator[bytes]:
    rng = random.Random(seed)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield rng.randbytes(n)
        sent += n


def _expected(total: int, chunk: int = MIB, seed: int = 7) -> bytes:
    return b"".join(_stream(total, chunk, seed))


def test_registered_under_its_scheme() -> None:
    assert STORAGES["s3"] is S3Storage


def test_twelve_mib_round_trip_is_a_verified_multipart_upload(endpoint: str, bucket: str) -> None:
    storage = S3Storage(_config(endpoint, bucket, prefix="backups/"))
    payload = _expected(12 * MIB)
    result = storage.put("db/2026/data.dump", _stream(12 * MIB, chunk=700_000))

    assert result.size_bytes == 12 * MIB
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert b"".join(storage.get("db/2026/data.dump", chunk_size=256 * 1024)) == payload

    head = _raw(endpoint).head_object(Bucket=bucket, Key="backups/db/2026/data.dump")
    assert head["ContentLength"] == 12 * MIB
    assert head["Metadata"]["sha256"] == result.sha256


def test_small_object_is_one_put_with_its_checksum(endpoint: str, bucket: str) -> None:
    storage = S3Storage(_config(endpoint, bucket))
    result = storage.put("m/manifest.json", [b'{"a": ', b"1}"])
    assert result.size_bytes == 8
    assert result.sha256 == hashlib.sha256(b'{"a": 1}').hexdigest()
    head = _raw(endpoint).head_object(Bucket=bucket, Key="m/manifest.json")
    assert head["Metadata"]["sha256"] == result.sha256
    assert "-" not in head["ETag"]  # a single PUT, not a multipart upload
    assert b"".join(storage.get("m/manifest.json")) == b'{"a": 1}'


def test_empty_stream_is_stored_as_an_empty_object(endpoint: str, bucket: str) -> None:
    storage = S3Storage(_config(endpoint, bucket))
    result = storage.put("empty", [])
    assert (result.size_bytes, result.sha256) == (0, hashlib.sha256(b"").hexdigest())
    assert b"".join(storage.get("empty")) == b""


def test_list_and_delete_stay_inside_the_prefix(endpoint: str, bucket: str) -> None:
    _raw(endpoint).put_object(Bucket=bucket, Key="elsewhere/x", Body=b"not ours")
    storage = S3Storage(_config(endpoint, bucket, prefix="fd"))
    for key in ("b/2/data", "a/1/manifest.json", "a/1/data"):
        storage.put(key, [key.encode()])

    assert storage.list() == ["a/1/data", "a/1/manifest.json", "b/2/data"]
    assert storage.list("a/") == ["a/1/data", "a/1/manifest.json"]

    storage.delete("a/1/data")
    assert storage.list() == ["a/1/manifest.json", "b/2/data"]
    with pytest.raises(BackupError, match="does not exist"):
        storage.get("a/1/data")
    keys = [o["Key"] for o in _raw(endpoint).list_objects_v2(Bucket=bucket)["Contents"]]
    assert "elsewhere/x" in keys


def test_a_stream_failing_midway_leaves_no_object_and_no_pending_upload(endpoint: str, bucket: str) -> None:
    def broken() -> Iterator[bytes]:
        yield from _stream(6 * MIB)
        raise RuntimeError("the dump process died")

    storage = S3Storage(_config(endpoint, bucket))
    with pytest.raises(RuntimeError, match="dump process died"):
        storage.put("db/broken.dump", broken())

    raw = _raw(endpoint)
    assert raw.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert raw.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert storage.list() == []


def test_the_secret_never_shows(endpoint: str) -> None:
    storage = S3Storage(_config(endpoint, f"fd-missing-{uuid.uuid4().hex[:8]}"))
    assert SECRET_KEY not in storage.describe()
    assert SECRET_KEY not in repr(storage)
    assert SECRET_KEY not in repr(storage.config)
    assert SECRET_KEY not in storage.config.model_dump_json()
    with pytest.raises(BackupError) as caught:
        storage.put("x", [b"data"])
    assert "NoSuchBucket" in str(caught.value)
    assert SECRET_KEY not in str(caught.value)
    with pytest.raises(BackupError) as caught:
        storage.put("big", _stream(6 * MIB))
    assert SECRET_KEY not in str(caught.value)
    with pytest.raises(BackupError) as caught:
        storage.list()
    assert SECRET_KEY not in str(caught.value)


def test_configuration_is_checked() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 5"):
        S3StorageConfig(bucket="fd-bucket", part_size_mib=4)
    with pytest.raises(ValidationError, match="both access_key_id and secret_access_key"):
        S3StorageConfig(bucket="fd-bucket", access_key_id=Secret("AKIA"))
    with pytest.raises(ValidationError, match="http"):
        S3StorageConfig(bucket="fd-bucket", endpoint_url="minio:9000")
    assert S3StorageConfig(bucket="fd-bucket", prefix="/a/b/").prefix == "a/b"


def test_describe_names_the_place(endpoint: str) -> None:
    storage = S3Storage(_config(endpoint, "fd-bucket", prefix="nightly"))
    assert storage.describe() == f"s3://fd-bucket/nightly/ at {endpoint}"
