"""The configuration file's models: one YAML file declares services, their checks, and the rest."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, field_validator, model_validator

from flightdeck.config.alerting import AlertingConfig
from flightdeck.config.backups import BackupConfig
from flightdeck.config.base import ConfigModel, collect_secrets
from flightdeck.config.channels import ChannelConfig
from flightdeck.config.check_spec import CatchUp, CheckSpec
from flightdeck.config.drills import DrillConfig
from flightdeck.config.experiments import ExperimentConfig
from flightdeck.config.oncall import OncallConfig
from flightdeck.config.payments import PaymentsConfig
from flightdeck.config.types import Duration, Name, RelPath
from flightdeck.secret import Secret

__all__ = [
    "CheckDefaults",
    "Config",
    "DatasourceConfig",
    "RetentionConfig",
    "SchedulerConfig",
    "ServerConfig",
    "ServiceConfig",
    "StoreConfig",
]

DATABASE_URL_ENV = "FLIGHTDECK_DATABASE_URL"


class ServerConfig(ConfigModel):
    bind: str = Field(
        default="127.0.0.1", description="Address to listen on; 127.0.0.1 unless told otherwise"
    )
    port: int = Field(default=8450, ge=1, le=65535)
    public_url: str | None = Field(default=None, description="URL users reach the cockpit at (for links)")
    session_ttl: Duration = Field(default=12 * 3600, description="How long a cockpit login lasts")
    secure_cookies: bool | None = Field(
        default=None, description="Mark cookies Secure; default: when public_url is https"
    )
    metrics_public: bool = Field(default=False, description="Serve /metrics without a token")
    refresh_seconds: int = Field(default=15, ge=2, le=3600, description="Cockpit auto-refresh period")


class RetentionConfig(ConfigModel):
    """How long each resolution of evidence is kept. Rollups are computed before raw rows go."""

    raw: Duration = Field(default=7 * 86400, description="Raw evidence records")
    minute: Duration = Field(default=3 * 86400, description="Per-minute rollups")
    hour: Duration = Field(default=90 * 86400, description="Per-hour rollups")
    day: Duration = Field(default=3650 * 86400, description="Per-day rollups")

    @model_validator(mode="after")
    def _raw_long_enough(self) -> RetentionConfig:
        if self.raw < 3600:
            raise ValueError("raw must be at least 1h, so rollups can be computed before records are pruned")
        return self


class StoreConfig(ConfigModel):
    url: Secret | None = Field(
        default=None,
        description=f"SQLAlchemy URL of the store (${DATABASE_URL_ENV} overrides); default: SQLite",
    )
    state_dir: RelPath = Field(
        default=Path(".flightdeck"), description="Folder for the SQLite store and artifacts"
    )
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    def database_url(self) -> str:
        env = os.environ.get(DATABASE_URL_ENV)
        if env:
            return env
        if self.url is not None:
            return self.url.reveal()
        return f"sqlite:///{(self.state_dir / 'flightdeck.db').resolve()}"


class SchedulerConfig(ConfigModel):
    max_concurrency: int = Field(default=500, ge=1, le=20000, description="Checks running at once, at most")
    drain_timeout: Duration = Field(default=15, description="On SIGTERM, wait this long for running checks")
    lease_grace: Duration = Field(default=30, description="Lease slack beyond a check's timeout")
    node_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")


class CheckDefaults(ConfigModel):
    interval: Duration = 60
    timeout: Duration = 10
    jitter: Duration = 0
    catch_up: CatchUp = CatchUp.RUN_ONCE


class DatasourceConfig(ConfigModel):
    """A database flightdeck may read from (``sql`` checks, later reconciliation and drills)."""

    url: Secret = Field(description="SQLAlchemy-style URL: postgresql://, mysql:// (MariaDB) or sqlite:///")
    connect_timeout: Duration = 5
    description: str = ""

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: Secret) -> Secret:
        scheme = urlsplit(value.reveal()).scheme.split("+")[0]
        if scheme not in {"postgresql", "postgres", "mysql", "mariadb", "sqlite"}:
            raise ValueError(f"unsupported database URL scheme {scheme!r} (use postgresql, mysql or sqlite)")
        return value

    @property
    def dialect(self) -> Literal["postgresql", "mysql", "sqlite"]:
        scheme = urlsplit(self.url.reveal()).scheme.split("+")[0]
        if scheme in ("postgresql", "postgres"):
            return "postgresql"
        if scheme in ("mysql", "mariadb"):
            return "mysql"
        return "sqlite"


class ServiceConfig(ConfigModel):
    description: str = ""
    url: str | None = Field(default=None, description="Where the service lives, for links")
    owner: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    checks: list[CheckSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_checks(self) -> ServiceConfig:
        seen: set[str] = set()
        for check in self.checks:
            if check.name in seen:
                raise ValueError(f"two checks are named {check.name!r}")
            seen.add(check.name)
        return self


class Config(ConfigModel):
    """The whole configuration file."""

    version: Literal[1] = 1
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    defaults: CheckDefaults = Field(default_factory=CheckDefaults)
    datasources: dict[Name, DatasourceConfig] = Field(default_factory=dict)
    services: dict[Name, ServiceConfig] = Field(default_factory=dict)
    payments: PaymentsConfig = Field(default_factory=PaymentsConfig)
    backups: dict[Name, BackupConfig] = Field(default_factory=dict)
    experiments: dict[Name, ExperimentConfig] = Field(default_factory=dict)
    drills: dict[Name, DrillConfig] = Field(default_factory=dict)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    channels: dict[Name, ChannelConfig] = Field(default_factory=dict)
    oncall: OncallConfig = Field(default_factory=OncallConfig)

    _source: Path | None = PrivateAttr(default=None)
    _extra_secrets: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def source(self) -> Path | None:
        """The file this configuration was read from."""
        return self._source

    def iter_checks(self) -> list[tuple[str, CheckSpec]]:
        return [(svc, check) for svc, service in self.services.items() for check in service.checks]

    def secret_values(self) -> frozenset[str]:
        """Every secret in the configuration, including values interpolated from secret-looking
        environment variables; evidence and logs are scrubbed of these."""
        found: list[str] = []
        collect_secrets(self, found)
        return frozenset(found) | self._extra_secrets
