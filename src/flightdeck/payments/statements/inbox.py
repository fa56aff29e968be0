"""The statement files waiting in an inbox: a local folder or an S3 (or S3-compatible) prefix.

:func:`list_inbox` lists the files whose name matches the source's ``pattern``, sorted by name, as
:class:`InboxFile` objects. Listing does not read them: :meth:`InboxFile.local_path` gives a path to
read (for S3, the object is downloaded to a private temporary folder the first time, removed by
:meth:`InboxFile.close` or when the ``with`` block ends) and :meth:`InboxFile.sha256` its digest, which
is what tells a statement already processed from a new one.

S3 credentials are the source's ``s3_access_key_id``/``s3_secret_access_key`` when given, otherwise
whatever the environment provides to boto3 (variables, profile, instance role). An inbox that cannot
be listed is a :class:`~flightdeck.payments.errors.ReconError`: the reconciliation cannot run.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from flightdeck.config.payments import StatementSourceConfig
from flightdeck.payments.errors import ReconError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["InboxFile", "file_sha256", "glob_regex", "list_inbox", "parse_s3_url"]

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class InboxFile:
    """One statement file of an inbox: ``name`` relative to the inbox, ``size`` in bytes,
    ``location`` a local path or ``s3://bucket/key``."""

    name: str
    size: int
    location: str
    _download: Callable[[Path], None] | None = field(default=None, repr=False)
    _path: Path | None = field(default=None, repr=False)
    _tmpdir: Path | None = field(default=None, repr=False)
    _sha256: str | None = field(default=None, repr=False)

    def local_path(self) -> Path:
        """A local path holding the file's content (downloaded on first use for S3)."""
        if self._path is None:
            assert self._download is not None
            self._tmpdir = Path(tempfile.mkdtemp(prefix="flightdeck-statement-"))
            target = self._tmpdir / Path(self.name).name
            try:
                self._download(target)
            except Exception:
                self.close()
                raise
            self._path = target
        return self._path

    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.local_path())
        return self._sha256

    def close(self) -> None:
        """Remove a downloaded copy (a local file is left alone)."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._path = None

    def __enter__(self) -> InboxFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")``; the prefix is a folder."""
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ReconError(f"statement inbox {url!r} names no bucket")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A folder glob as a regex over ``/``-separated names: ``*`` and ``?`` stay within one folder,
    ``**/`` spans any number of folders, ``[...]`` is a character class (as ``Path.glob`` does)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _local(source: StatementSourceConfig, base_dir: Path) -> list[InboxFile]:
    folder = Path(source.inbox)
    if not folder.is_absolute():
        folder = base_dir / folder
    if not folder.is_dir():
        raise ReconError(f"statement inbox {str(folder)!r} is not a folder")
    found = sorted((p for p in folder.glob(source.pattern) if p.is_file()), key=lambda p: p.as_posix())
    return [
        InboxFile(name=p.relative_to(folder).as_posix(), size=p.stat().st_size, location=str(p), _path=p)
        for p in found
    ]


def _s3_client(source: StatementSourceConfig) -> S3Client:
    import boto3

    key_id = source.s3_access_key_id.reveal() if source.s3_access_key_id else None
    secret = source.s3_secret_access_key.reveal() if source.s3_secret_access_key else None
    return boto3.client(
        "s3",
        endpoint_url=source.s3_endpoint_url,
        region_name=source.s3_region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def _s3(source: StatementSourceConfig) -> list[InboxFile]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_url(source.inbox)
    matcher = glob_regex(source.pattern)
    client = _s3_client(source)
    files: list[InboxFile] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"]
                name = key[len(prefix) :]
                if not name or key.endswith("/") or not matcher.fullmatch(name):
                    continue

                def download(target: Path, key: str = key) -> None:
                    try:
                        client.download_file(bucket, key, str(target))
                    except (BotoCoreError, ClientError) as exc:
                        raise ReconError(f"cannot download s3://{bucket}/{key}: {exc}") from None

                files.append(
                    InboxFile(
                        name=name,
                        size=int(obj.get("Size", 0)),
                        location=f"s3://{bucket}/{key}",
                        _download=download,
                    )
                )
    except (BotoCoreError, ClientError) as exc:
        raise ReconError(f"cannot list statement inbox {source.inbox!r}: {exc}") from None
    return sorted(files, key=lambda f: f.name)


def list_inbox(source: StatementSourceConfig, base_dir: Path) -> list[InboxFile]:
    """The inbox's files matching ``source.pattern``, sorted by name. A relative folder is taken
    from ``base_dir`` (the configuration file's folder)."""
    if source.inbox.startswith("s3://"):
        return _s3(source)
    return _local(source, base_dir)
