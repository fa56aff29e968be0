"""Where backups are stored, as configuration: S3-compatible object storage.

``endpoint_url`` points at any S3-compatible server (MinIO, Ceph RGW, Garage, a cloud provider's
S3 endpoint); without it the AWS endpoint for ``region`` is used. Credentials given here are
:class:`~flightdeck.secret.Secret` (or ``*_file`` paths); left out, boto3's usual chain applies
(environment, shared config, instance role). See docs/backups/storage.md for the permissions needed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.secret import Secret

__all__ = ["S3StorageConfig"]


class S3StorageConfig(ConfigModel):
    """An S3 bucket (and a key prefix inside it) holding backups."""

    kind: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3, max_length=63, description="bucket name")
    prefix: str = Field("", description="key prefix inside the bucket, e.g. flightdeck/backups")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint, e.g. https://minio:9000")
    region: str | None = Field(None, description="signing region (us-east-1 unless told)")
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    part_size_mib: int = Field(8, ge=5, le=5120, description="multipart part size; S3 requires ≥ 5 MiB")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return value.strip("/")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _pair(self) -> S3StorageConfig:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither (environment)")
        return self
