"""A string that never prints.

Passwords, tokens and connection URLs with credentials are held as :class:`Secret`. Its ``repr`` and
``str`` are ``'**********'``; the value is only reachable through :meth:`Secret.reveal`, so that a
secret never ends up in a log line, an API response, an evidence record or a report by accident.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["MASK", "Secret", "UnreadableSecretFile", "redact_url"]

MASK = "**********"


class UnreadableSecretFile(str):
    """Stands in for a secret whose ``*_file`` could not be read; validating it reports why."""

    __slots__ = ()


class Secret:
    """An opaque secret value; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def coerce(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, UnreadableSecretFile):
                raise ValueError(str(value))
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                return Secret(str(value))
            raise ValueError("must be a string")

        return core_schema.no_info_plain_validator_function(
            coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda s: MASK),
            json_schema_input_schema=core_schema.str_schema(),
        )


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]*)@")


def redact_url(url: str) -> str:
    """Replace the password of ``scheme://user:password@host`` with the mask."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)
