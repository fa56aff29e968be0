from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.backups.helpers import backup_config


def test_key_as_hex_or_base64_and_its_id(tmp_path: Path) -> None:
    raw = os.urandom(32)
    hex_cfg = backup_config(tmp_path, raw.hex())
    b64_cfg = backup_config(tmp_path, base64.b64encode(raw).decode())
    assert hex_cfg.encryption is not None
    assert b64_cfg.encryption is not None
    assert hex_cfg.encryption.key_bytes == b64_cfg.encryption.key_bytes == raw
    assert hex_cfg.encryption.key_id == hashlib.sha256(raw).hexdigest()[:16]
    assert hex_cfg.compression_level == 3


def test_a_bad_key_is_refused_without_quoting_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        backup_config(tmp_path, "correct horse battery staple")
    assert "32 random bytes" in str(info.value)
    assert "horse" not in str(info.value)


def test_key_from_a_file(tmp_path: Path) -> None:
    raw = os.urandom(32)
    (tmp_path / "k").write_text(raw.hex() + "\n")
    from flightdeck.config.backups import BackupConfig

    cfg = BackupConfig.model_validate(
        {
            "service": "s",
            "datasource": "d",
            "storage": {"path": str(tmp_path)},
            "encryption": {"key_file": str(tmp_path / "k")},
        }
    )
    assert cfg.encryption is not None
    assert cfg.encryption.key_bytes == raw


def test_parallel_jobs_need_directory_format(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="jobs > 1 needs format: directory"):
        backup_config(tmp_path, postgres={"jobs": 4})
    assert backup_config(tmp_path, postgres={"format": "directory", "jobs": 4}).postgres.jobs == 4
