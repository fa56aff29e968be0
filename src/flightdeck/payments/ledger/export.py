"""Exporting signed checkpoints outside the database: a folder and/or S3 (or an S3-compatible store).

Layout (the same under a folder and under ``s3://bucket/prefix``)::

    <ledger>/checkpoint-000000000001234.json   one file per checkpoint, seq zero-padded so the
                                               newest is the last name in lexical order
    <ledger>/public-key-<key_id>.pem           the public half of the signing key, for auditors

Files are written once and never rewritten (an existing name is left alone). Point ``checkpoint_dir``
at storage the database administrators cannot write (another host's mount, a bucket with object lock
or a write-only policy); verification reads the newest checkpoint back from every configured place.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flightdeck.config.payments import LedgerConfig
from flightdeck.payments.errors import LedgerError
from flightdeck.payments.ledger.signing import SignedCheckpoint

__all__ = ["CheckpointExport", "ExportedCheckpoint", "checkpoint_name"]


def checkpoint_name(seq: int) -> str:
    return f"checkpoint-{seq:015d}.json"


def _boto_errors() -> tuple[type[Exception], ...]:
    """boto3's error types, imported only when an S3 call has failed (or is caught)."""
    import botocore.exceptions

    return (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


@dataclass(frozen=True)
class ExportedCheckpoint:
    uri: str
    signed: SignedCheckpoint


def _write_once(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` atomically, never replacing an existing file: the content goes to
    a uniquely named temporary file that is then hard-linked into place (``link`` fails if the name
    exists, so of two concurrent writers the first wins and the second leaves it alone)."""
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class CheckpointExport:
    """The places a ledger's checkpoints are exported to (possibly none)."""

    def __init__(self, ledger: str, cfg: LedgerConfig) -> None:
        self.ledger = ledger
        self.directory = cfg.checkpoint_dir / ledger if cfg.checkpoint_dir is not None else None
        self.bucket: str | None = None
        self.prefix = ""
        self._cfg = cfg
        self._client: Any = None
        if cfg.checkpoint_s3:
            parts = urlsplit(cfg.checkpoint_s3)
            if parts.scheme != "s3" or not parts.netloc:
                raise LedgerError(f"checkpoint_s3 must be s3://bucket/prefix, not {cfg.checkpoint_s3!r}")
            self.bucket = parts.netloc
            prefix = parts.path.strip("/")
            self.prefix = f"{prefix}/{ledger}/" if prefix else f"{ledger}/"

    @property
    def configured(self) -> bool:
        return self.directory is not None or self.bucket is not None

    def _s3(self) -> Any:
        if self._client is None:
            import boto3  # only when checkpoints go to S3: it takes a while to import
            from botocore.config import Config as BotoConfig

            cfg = self._cfg
            self._client = boto3.client(
                "s3",
                endpoint_url=cfg.s3_endpoint_url,
                region_name=cfg.s3_region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                aws_access_key_id=cfg.s3_access_key_id.reveal() if cfg.s3_access_key_id else None,
                aws_secret_access_key=cfg.s3_secret_access_key.reveal() if cfg.s3_secret_access_key else None,
                config=BotoConfig(connect_timeout=10, read_timeout=30, retries={"max_attempts": 3}),
            )
        return self._client

    def write(self, signed: SignedCheckpoint, public_pem: bytes) -> list[str]:
        """Export one checkpoint and the public key; the URIs written."""
        name = checkpoint_name(signed.checkpoint.seq)
        key_name = f"public-key-{signed.checkpoint.key_id}.pem"
        uris: list[str] = []
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                for file_name, data in ((name, signed.to_json()), (key_name, public_pem)):
                    _write_once(self.directory / file_name, data)
            except OSError as exc:
                raise LedgerError(
                    f"exporting a checkpoint to {self.directory}: {exc.strerror or exc}"
                ) from None
            uris.append(str(self.directory / name))
        if self.bucket is not None:
            try:
                for file_name, data in ((name, signed.to_json()), (key_name, public_pem)):
                    self._s3().put_object(Bucket=self.bucket, Key=self.prefix + file_name, Body=data)
            except _boto_errors() as exc:
                raise LedgerError(
                    f"exporting a checkpoint to s3://{self.bucket}/{self.prefix}: {exc}"
                ) from None
            uris.append(f"s3://{self.bucket}/{self.prefix}{name}")
        return uris

    def newest(self) -> list[ExportedCheckpoint]:
        """The newest checkpoint found in each configured place (a place with none is left out)."""
        found: list[ExportedCheckpoint] = []
        if self.directory is not None and self.directory.is_dir():
            names = sorted(p.name for p in self.directory.glob("checkpoint-*.json"))
            if names:
                path = self.directory / names[-1]
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise LedgerError(f"reading {path}: {exc.strerror or exc}") from None
                found.append(ExportedCheckpoint(str(path), SignedCheckpoint.from_json(data, str(path))))
        if self.bucket is not None:
            uri = f"s3://{self.bucket}/{self.prefix}"
            try:
                keys: list[str] = []
                paginator = self._s3().get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + "checkpoint-"):
                    keys.extend(obj["Key"] for obj in page.get("Contents", []))
                if keys:
                    newest = max(keys)
                    body = self._s3().get_object(Bucket=self.bucket, Key=newest)["Body"].read()
                    where = f"s3://{self.bucket}/{newest}"
                    found.append(ExportedCheckpoint(where, SignedCheckpoint.from_json(body, where)))
            except _boto_errors() as exc:
                raise LedgerError(f"reading checkpoints from {uri}: {exc}") from None
        return found
