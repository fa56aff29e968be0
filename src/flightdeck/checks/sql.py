"""``sql``: a business signal as a check: one read-only query, one number, the user's conditions.

The query runs in a transaction the database itself keeps read-only, on a fresh connection, and is
always rolled back (see :func:`flightdeck.datasources.read_only_query`). Its single value becomes the
measurement named by ``measurement`` (default ``value``); ``connect_ms`` and ``query_ms`` are recorded
too. NULL or no row leaves the measurement out, so conditions on it are ``unknown``. A query that
tries to write, a non-numeric value, more than one row or column: verdict ``error``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from typing import Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Name
from flightdeck.datasources import (
    DatasourceError,
    Dialect,
    QueryResult,
    read_only_query,
    resolve_target,
    validate_target,
)
from flightdeck.errors import CheckError
from flightdeck.secret import Secret

__all__ = ["SqlCheck", "SqlSpec", "to_number"]

_MEASUREMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]*$")
_RESERVED = ("connect_ms", "query_ms")
_ALL_DIALECTS = frozenset(Dialect)
# Server-side limit beyond the check's timeout: the client cancels first, the server is the backstop.
_SERVER_MARGIN_S = 1.0


class SqlSpec(CheckSpec):
    kind: Literal["sql"]
    datasource: Name | None = Field(default=None, description="Name of an entry in datasources")
    url: Secret | None = Field(default=None, description="postgresql://, mysql:// or sqlite:/// URL instead")
    query: str = Field(description="One read-only statement returning one value")
    measurement: str = Field(default="value", description="Name of the measurement the value becomes")
    unit: str = Field(default="", description="Unit of the measurement (e.g. ms, bytes, payments)")

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("measurement")
    @classmethod
    def _measurement(cls, value: str) -> str:
        if not _MEASUREMENT.match(value):
            raise ValueError(f"{value!r} is not a measurement name (letters, digits, _ . : -)")
        if value in _RESERVED:
            raise ValueError(f"{value!r} is recorded by every sql check; choose another name")
        return value

    @model_validator(mode="after")
    def _target(self) -> SqlSpec:
        validate_target(self.url, self.datasource, _ALL_DIALECTS, "sql")
        return self


def to_number(value: object, type_name: str = "") -> float | None:
    """The query's value as a number; ``None`` for NULL. Raises :class:`CheckError` naming the type."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float | decimal.Decimal):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise CheckError(f"the query returned {value}, which is not a finite number")
        return number
    kind = _python_type_name(value)
    if type_name and type_name != kind:
        kind = f"{kind} ({type_name})"
    raise CheckError(
        f"the query returned a value of type {kind}, not a number: "
        "return a count, a sum or a number (CAST it if needed)"
    )


def _python_type_name(value: object) -> str:
    if isinstance(value, str):
        return "text"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.timedelta):
        return "interval"
    return type(value).__name__


@register
class SqlCheck(Check[SqlSpec]):
    spec_type = SqlSpec

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        timeout = self.timeout
        try:
            url, connect_timeout = resolve_target(
                self.context.config, spec.url, spec.datasource, _ALL_DIALECTS, "sql"
            )
            result = await read_only_query(
                url,
                spec.query,
                max_rows=1,
                connect_timeout=connect_timeout or timeout,
                statement_timeout=timeout + _SERVER_MARGIN_S,
            )
        except (DatasourceError, ValueError) as exc:
            raise CheckError(getattr(exc, "reason", str(exc))) from None
        obs = Observation()
        obs.measure("connect_ms", round(result.connect_ms, 3), "ms")
        obs.measure("query_ms", round(result.query_ms, 3), "ms")
        obs.detail["target"] = url.describe()
        if spec.datasource:
            obs.detail["datasource"] = spec.datasource
        value = _single_value(result)
        number = to_number(value, result.types[0] if result.types and result.types[0] else "")
        obs.detail["column"] = result.columns[0]
        obs.detail["rows"] = len(result.rows)
        if number is None:
            why = "no row" if not result.rows else "NULL"
            obs.detail["value"] = None
            obs.summary = f"the query returned {why}: {spec.measurement} not measured"
            return obs
        obs.measure(spec.measurement, number, spec.unit)
        obs.detail["value"] = number
        obs.summary = f"{spec.measurement} = {number:g}{(' ' + spec.unit) if spec.unit else ''}"
        return obs


def _single_value(result: QueryResult) -> object:
    if not result.columns:
        raise CheckError("the query returned no columns: a sql check needs a SELECT that returns one value")
    if len(result.columns) > 1:
        names = ", ".join(result.columns[:5])
        raise CheckError(f"the query returned {len(result.columns)} columns ({names}): return exactly one")
    if result.more_rows:
        raise CheckError(
            "the query returned more than one row: return one value (count(*), sum(...), or LIMIT 1)"
        )
    return result.rows[0][0] if result.rows else None
