"""Configuration of payment integrity: reconciliations, ledgers, wallets, settlements, gateway drills.

::

    payments:
      reconciliations: {NAME: ReconConfig}     # internal records vs a gateway/bank statement
      ledgers:         {NAME: LedgerConfig}    # double entry + hash chain with signed checkpoints
      wallets:         {NAME: WalletsConfig}   # stored balance vs sum of ledger entries
      settlements:     {NAME: SettlementsConfig}
      gateway_drills:  {NAME: GatewayDrillConfig}

Each part runs on demand from the CLI (``flightdeck recon run``, ``flightdeck ledger verify`` ...) and on
a schedule as a check of the matching kind (``kind: reconciliation`` with ``reconciliation: NAME``),
so every run is an evidence record.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Duration, Name, PositiveDuration, RelPath
from flightdeck.secret import Secret

__all__ = [
    "AmountUnit",
    "ColumnMap",
    "GatewayDrillConfig",
    "InternalSourceConfig",
    "LedgerConfig",
    "MatchConfig",
    "PaymentsConfig",
    "ReconConfig",
    "SettlementsConfig",
    "StatementSourceConfig",
    "WalletsConfig",
]


class AmountUnit(enum.StrEnum):
    MAJOR = "major"  # 12.50 EUR
    MINOR = "minor"  # 1250 (cents)


class ColumnMap(ConfigModel):
    """Which column of a statement (or query result) holds each field. Only ``reference`` and
    ``amount`` are required; ``net`` may be derived (amount - fee) and the other way round."""

    reference: str
    amount: str
    fee: str | None = None
    net: str | None = None
    currency: str | None = None
    status: str | None = None
    occurred_at: str | None = None
    group_ref: str | None = Field(default=None, description="Payout/batch id (many-to-one matching)")


class StatementSourceConfig(ConfigModel):
    """Gateway or bank statements: files dropped in an inbox (a folder or ``s3://bucket/prefix``)."""

    inbox: str = Field(description="Folder (relative to the config file) or s3://bucket/prefix")
    pattern: str = Field(default="*", description="Glob of file names to take from the inbox")
    format: str | None = Field(default=None, description="csv, json or xlsx; default: from the extension")
    mapping: str = Field(
        default="custom",
        description="Built-in mapping (stripe_balance, paystack_settlement, flutterwave_settlement, "
        "generic_bank) or custom (give columns)",
    )
    columns: ColumnMap | None = None
    amount_unit: AmountUnit | None = Field(default=None, description="Default: the mapping's")
    date_format: str | None = Field(default=None, description="strptime format; default: ISO 8601")
    timezone: str = Field(default="UTC", description="Zone of dates that carry none")
    default_currency: str | None = Field(default=None, description="Currency when no column gives one")
    status_map: dict[str, list[str]] = Field(
        default_factory=dict, description="Normalized status -> the raw values that mean it"
    )
    delimiter: str | None = Field(default=None, description="CSV delimiter; default: sniffed")
    sheet: str | None = Field(default=None, description="Excel sheet; default: the first")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, ...)")
    s3_region: str | None = None
    s3_access_key_id: Secret | None = None
    s3_secret_access_key: Secret | None = None

    @model_validator(mode="after")
    def _custom_needs_columns(self) -> StatementSourceConfig:
        if self.mapping == "custom" and self.columns is None:
            raise ValueError("mapping: custom needs columns (at least reference and amount)")
        return self


class InternalSourceConfig(ConfigModel):
    """The team's own payments, read with one query from a datasource. The query returns columns
    named reference, amount, currency, status, occurred_at and optionally fee, net, group_ref;
    ``:start`` and ``:end`` are bound to the reconciled day's bounds (UTC)."""

    datasource: Name
    query: str
    amount_unit: AmountUnit = AmountUnit.MINOR
    default_currency: str | None = None
    status_map: dict[str, list[str]] = Field(default_factory=dict)


class Tolerance(ConfigModel):
    absolute: Decimal = Field(default=Decimal(0), ge=0, description="In major units (0.01 = one cent)")
    percent: Decimal = Field(default=Decimal(0), ge=0, le=100)


class MatchConfig(ConfigModel):
    tolerance: Tolerance = Field(default_factory=Tolerance)
    fee_tolerance: Tolerance = Field(default_factory=Tolerance)
    date_window: Duration = Field(default=2 * 86400, description="How far apart the two dates may be")
    compare: str = Field(
        default="gross", description="gross: internal amount vs statement gross; net: vs statement net"
    )
    split: bool = Field(default=True, description="One internal payment settled in several lines")
    batch: bool = Field(default=True, description="Several internal payments paid out in one line")
    expected_fee_percent: Decimal | None = Field(
        default=None, description="Gateway fee rate; a fee off by more than fee_tolerance is fee_variance"
    )
    expected_fee_fixed: Decimal = Field(default=Decimal(0), description="Fixed fee per item, major units")

    @field_validator("compare")
    @classmethod
    def _compare(cls, value: str) -> str:
        if value not in ("gross", "net"):
            raise ValueError("compare must be gross or net")
        return value


class ReconConfig(ConfigModel):
    service: Name = Field(description="Service the evidence belongs to (a key of services)")
    description: str = ""
    internal: InternalSourceConfig
    statement: StatementSourceConfig
    match: MatchConfig = Field(default_factory=MatchConfig)
    rates: dict[str, Decimal] = Field(
        default_factory=dict, description="Currency -> rate into report_currency, for totals"
    )
    report_currency: str | None = None
    reports_dir: RelPath = Field(default=Path("reports/reconciliation"))


class LedgerConfig(ConfigModel):
    service: Name
    datasource: Name
    table: str = Field(description="The ledger entries table")
    key: str = Field(default="id", description="Primary key column; rows are chained in its order")
    columns: list[str] = Field(description="Columns covered by the hash chain (the key included)")
    transaction_column: str | None = Field(default=None, description="For the per-transaction balance")
    amount_column: str | None = Field(default=None, description="Signed amount, for the balance check")
    signing_key: Secret | None = Field(default=None, description="Ed25519 private key (PEM)")
    checkpoint_dir: RelPath | None = Field(default=None, description="Where signed checkpoints are exported")
    checkpoint_s3: str | None = Field(default=None, description="s3://bucket/prefix for checkpoints")
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: Secret | None = None
    s3_secret_access_key: Secret | None = None
    public_key_file: RelPath | None = Field(
        default=None, description="Ed25519 public key (PEM) to verify checkpoints where no signing_key is"
    )
    require_append_only_trigger: bool = Field(
        default=False, description="PostgreSQL: fail verification when the append-only trigger is missing"
    )

    @model_validator(mode="after")
    def _columns(self) -> LedgerConfig:
        if self.key not in self.columns:
            raise ValueError(f"columns must include the key column {self.key!r}")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("columns are listed more than once")
        if (self.transaction_column is None) != (self.amount_column is None):
            raise ValueError("give both transaction_column and amount_column (or neither)")
        return self


class WalletsConfig(ConfigModel):
    service: Name
    datasource: Name
    wallets_table: str = "wallets"
    wallet_id: str = "id"
    balance_column: str = "balance_cents"
    account_column: str = Field(default="account_id", description="Wallet column joining the ledger")
    currency_column: str | None = "currency"
    entries_table: str = "ledger_entries"
    entry_account_column: str = "account_id"
    entry_amount_column: str = "amount_cents"


class SettlementsConfig(ConfigModel):
    service: Name
    datasource: Name
    query: str = Field(
        description="Payments with columns reference, amount, currency, status, created_at and "
        "optionally settled_at, credited (boolean)"
    )
    pending_after: PositiveDuration = Field(default=24 * 3600, description="Pending longer than this")
    terms_days: int = Field(default=1, ge=0, le=30, description="Gateway settlement terms: T+N days")
    reconciliation: Name | None = Field(
        default=None, description="Reconciliation whose statements tell what the gateway settled"
    )
    status_map: dict[str, list[str]] = Field(
        default_factory=dict, description="Normalized status -> the raw values that mean it"
    )


class GatewayDrillConfig(ConfigModel):
    """A fault-injecting proxy between a service and its card gateway, payments driven through the
    service, then the service's payments reconciled with the gateway's charges. Start the service
    with its gateway URL pointing at ``http://proxy_host:proxy_port``. See docs/payments/gateway-drill.md."""

    service: Name
    service_url: str = Field(description="The service under test (its payment API)")
    gateway_url: str = Field(description="The real (or sandbox) gateway the proxy forwards to")
    statement_url: str | None = Field(
        default=None, description="The gateway's charge list; default: gateway_url + /v1/charges"
    )
    proxy_host: str = Field(default="127.0.0.1", description="Where the proxy listens")
    proxy_port: int = Field(default=0, ge=0, le=65535, description="The port the service's gateway URL names")
    topup_path: str = Field(default="/api/topups", description="POST: create a card payment")
    payment_path: str = Field(default="/api/payments/{id}", description="GET: one payment, by id")
    auth_token: Secret | None = Field(default=None, description="Bearer token of the service's test user")
    card_token: str = Field(default="tok_visa", description="Card token the payments use")
    declined_card_token: str = Field(default="tok_declined", description="A card the gateway declines")
    decline_rate: float = Field(default=0.05, ge=0, le=1, description="Share of payments with that card")
    amount_min: int = Field(default=100, ge=1, description="Smallest payment, minor units")
    amount_max: int = Field(default=50_000, ge=1, description="Largest payment, minor units")
    payments: int = Field(default=200, ge=1, le=100000)
    concurrency: int = Field(default=8, ge=1, le=256)
    client_attempts: int = Field(default=5, ge=1, le=50, description="Tries per payment request (same key)")
    error_rate: float = Field(default=0.1, ge=0, le=1)
    reset_rate: float = Field(default=0.05, ge=0, le=1)
    lost_response_rate: float = Field(default=0.1, ge=0, le=1)
    latency: Duration = 0
    settle_timeout: PositiveDuration = Field(default=120, description="Give up waiting for pending payments")
    seed: int | None = None

    @model_validator(mode="after")
    def _amounts(self) -> GatewayDrillConfig:
        if self.amount_min > self.amount_max:
            raise ValueError("amount_min is above amount_max")
        return self


class PaymentsConfig(ConfigModel):
    reconciliations: dict[Name, ReconConfig] = Field(default_factory=dict)
    ledgers: dict[Name, LedgerConfig] = Field(default_factory=dict)
    wallets: dict[Name, WalletsConfig] = Field(default_factory=dict)
    settlements: dict[Name, SettlementsConfig] = Field(default_factory=dict)
    gateway_drills: dict[Name, GatewayDrillConfig] = Field(default_factory=dict)
