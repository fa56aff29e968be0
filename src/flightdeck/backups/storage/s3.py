"""Backups in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Garage...), through boto3.

``put`` streams: the chunks are cut into parts of ``part_size_mib`` (S3's minimum is 5 MiB) and sent
as a multipart upload while SHA-256, MD5 and size are computed on the way. The object only appears
under its key when the upload is completed, so readers never see a partial object; on *any* error —
the server's or the stream's own — the multipart upload is aborted, leaving neither an object nor
pending parts (which S3 would otherwise keep, and bill, until a lifecycle rule removes them).

What is verified before ``put`` returns (docs/backups/storage.md):

* every part: sent with ``Content-MD5`` (the server refuses a part that arrived altered) and the
  part's returned ETag equals its MD5;
* the completed object: its ETag equals the multipart ETag computed locally (MD5 of the parts' MD5s,
  ``-N``), i.e. the server assembled exactly the parts sent, in order;
* the SHA-256 of the whole stream is stored as object metadata ``sha256`` (objects below one part
  are sent with ``put_object`` carrying it; larger ones get it by a server-side copy onto themselves,
  possible up to 5 GiB — beyond that the manifest alone records the SHA-256);
* a final HEAD: the stored size equals the bytes streamed, and the ``sha256`` metadata (when
  present) equals the digest computed.

boto3 is imported inside the functions that need it, so importing this module (and the CLI) stays
cheap. Credentials are :class:`~flightdeck.secret.Secret`; they never appear in ``describe()``,
``repr()`` or error messages.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flightdeck.backups.errors import BackupError, IntegrityError
from flightdeck.backups.storage.base import PutResult, Storage, register_storage
from flightdeck.config.backup_storage import S3StorageConfig
from flightdeck.secret import MASK

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["COPY_LIMIT_BYTES", "S3Storage"]

COPY_LIMIT_BYTES = 5 * 1024**3  # the largest object CopyObject accepts
_MIB = 1024 * 1024


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3Storage(Storage):
    """A bucket (and a prefix inside it) as a :class:`Storage`."""

    scheme = "s3"

    def __init__(self, config: S3StorageConfig) -> None:
        self.config = config
        self.part_size = config.part_size_mib * _MIB
        self._client: S3Client | None = None

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def client(self) -> S3Client:
        if self._client is None:
            import boto3  # lazily: the CLI must not pay boto3's import time
            from botocore.config import Config as BotoConfig

            cfg = self.config
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=cfg.endpoint_url,
                region_name=cfg.region or "us-east-1",
                aws_access_key_id=cfg.access_key_id.reveal() if cfg.access_key_id else None,
                aws_secret_access_key=cfg.secret_access_key.reveal() if cfg.secret_access_key else None,
                config=BotoConfig(
                    s3={"addressing_style": "path" if cfg.endpoint_url else "auto"},
                    retries={"max_attempts": 5, "mode": "standard"},
                ),
            )
        return self._client

    def _full(self, key: str) -> str:
        key = key.lstrip("/")
        if not key or ".." in key.split("/"):
            raise BackupError(f"invalid storage key {key!r}")
        return f"{self.config.prefix}/{key}" if self.config.prefix else key

    def _where(self, key: str) -> str:
        return f"s3://{self.config.bucket}/{self._full(key)}"

    def _redact(self, text: str) -> str:
        for secret in (self.config.access_key_id, self.config.secret_access_key):
            if secret:
                text = text.replace(secret.reveal(), MASK)
        return text

    def _error(self, action: str, key: str, exc: Exception) -> BackupError:
        response: Any = getattr(exc, "response", None)
        if isinstance(response, dict) and "Error" in response:
            err = response["Error"]
            detail = f"{err.get('Code', '?')}: {err.get('Message', '')}".strip()
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return BackupError(self._redact(f"S3 {action} {self._where(key)} failed: {detail}"))

    def __repr__(self) -> str:
        return f"S3Storage({self.describe()!r})"

    def describe(self) -> str:
        cfg = self.config
        where = f"s3://{cfg.bucket}/{cfg.prefix + '/' if cfg.prefix else ''}"
        at = cfg.endpoint_url or f"AWS {cfg.region or 'us-east-1'}"
        return f"{where} at {at}"

    # -- Storage ------------------------------------------------------------------------------

    def put(self, key: str, chunks: Iterable[bytes]) -> PutResult:
        from botocore.exceptions import BotoCoreError, ClientError

        full = self._full(key)
        sha, whole_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        size = 0
        buffer = bytearray()
        stream = iter(chunks)
        exhausted = False
        # Fill the first part; a stream smaller than one part is a single PUT.
        while len(buffer) < self.part_size:
            chunk = next(stream, None)
            if chunk is None:
                exhausted = True
                break
            buffer += chunk
        try:
            if exhausted:
                data = bytes(buffer)
                sha.update(data)
                md5 = hashlib.md5(data, usedforsecurity=False)
                resp = self.client.put_object(
                    Bucket=self.config.bucket,
                    Key=full,
                    Body=data,
                    ContentMD5=_b64(md5.digest()),
                    Metadata={"sha256": sha.hexdigest()},
                )
                if resp["ETag"].strip('"') != md5.hexdigest():
                    raise IntegrityError(f"{self._where(key)}: ETag {resp['ETag']} is not the MD5 sent")
                return self._verify(key, len(data), sha.hexdigest(), metadata_expected=True)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("put", key, exc) from exc

        try:
            upload_id = self.client.create_multipart_upload(Bucket=self.config.bucket, Key=full)["UploadId"]
        except (BotoCoreError, ClientError) as exc:
            raise self._error("put", key, exc) from exc
        try:
            parts: list[dict[str, Any]] = []
            part_md5s: list[bytes] = []

            def send(data: bytes) -> None:
                md5 = hashlib.md5(data, usedforsecurity=False)
                number = len(parts) + 1
                resp = self.client.upload_part(
                    Bucket=self.config.bucket,
                    Key=full,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ContentMD5=_b64(md5.digest()),
                )
                if resp["ETag"].strip('"') != md5.hexdigest():
                    raise IntegrityError(f"{self._where(key)}: part {number} ETag is not the MD5 sent")
                parts.append({"ETag": resp["ETag"], "PartNumber": number})
                part_md5s.append(md5.digest())

            while True:
                while len(buffer) >= self.part_size:
                    data = bytes(buffer[: self.part_size])
                    del buffer[: self.part_size]
                    sha.update(data)
                    whole_md5.update(data)
                    size += len(data)
                    send(data)
                chunk = next(stream, None)
                if chunk is None:
                    break
                buffer += chunk
            if buffer:
                data = bytes(buffer)
                sha.update(data)
                whole_md5.update(data)
                size += len(data)
                send(data)
            done = self.client.complete_multipart_upload(
                Bucket=self.config.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        except BaseException as exc:
            self._abort(full, upload_id)
            if isinstance(exc, BotoCoreError | ClientError):
                raise self._error("put", key, exc) from exc
            raise
        expected = f"{hashlib.md5(b''.join(part_md5s), usedforsecurity=False).hexdigest()}-{len(part_md5s)}"
        try:
            if done.get("ETag", "").strip('"') != expected:
                self.client.delete_object(Bucket=self.config.bucket, Key=full)
                raise IntegrityError(
                    f"{self._where(key)}: multipart ETag {done.get('ETag')} differs from the parts sent "
                    f"({expected}); the object was removed"
                )
            digest = sha.hexdigest()
            tagged = size <= COPY_LIMIT_BYTES
            if tagged:
                self.client.copy_object(
                    Bucket=self.config.bucket,
                    Key=full,
                    CopySource={"Bucket": self.config.bucket, "Key": full},
                    Metadata={"sha256": digest},
                    MetadataDirective="REPLACE",
                )
            return self._verify(key, size, digest, metadata_expected=tagged)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("put", key, exc) from exc

    def _abort(self, full: str, upload_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # The original error matters more; a lifecycle rule cleans whatever an abort could not.
        with contextlib.suppress(BotoCoreError, ClientError):
            self.client.abort_multipart_upload(Bucket=self.config.bucket, Key=full, UploadId=upload_id)

    def _verify(self, key: str, size: int, digest: str, *, metadata_expected: bool) -> PutResult:
        head = self.client.head_object(Bucket=self.config.bucket, Key=self._full(key))
        if head["ContentLength"] != size:
            raise IntegrityError(f"{self._where(key)}: stored {head['ContentLength']} bytes, sent {size}")
        stored = head.get("Metadata", {}).get("sha256")
        if metadata_expected and stored != digest:
            raise IntegrityError(f"{self._where(key)}: stored sha256 {stored} differs from {digest}")
        return PutResult(key=key, size_bytes=size, sha256=digest)

    def get(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.config.bucket, Key=self._full(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BackupError(f"{self._where(key)} does not exist") from exc
            raise self._error("get", key, exc) from exc
        except BotoCoreError as exc:
            raise self._error("get", key, exc) from exc
        return self._stream(key, body, chunk_size)

    def _stream(self, key: str, body: Any, chunk_size: int) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield from body.iter_chunks(chunk_size)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("get", key, exc) from exc
        finally:
            body.close()

    def list(self, prefix: str = "") -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        base = f"{self.config.prefix}/" if self.config.prefix else ""
        keys: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=base + prefix.lstrip("/")
            )
            for page in pages:
                keys.extend(obj["Key"][len(base) :] for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise self._error("list", prefix or ".", exc) from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=self._full(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._error("delete", key, exc) from exc


register_storage(S3Storage)
