"""The base of every configuration model: unknown keys are errors, secrets may come from files."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from flightdeck.errors import NotFoundError
from flightdeck.secret import Secret, UnreadableSecretFile

__all__ = ["ConfigModel", "collect_secrets", "pick", "secret_fields"]


def _is_secret(annotation: Any) -> bool:
    if annotation is Secret:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_secret(a) for a in typing.get_args(annotation))
    return False


def secret_fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(name for name, f in model.model_fields.items() if _is_secret(f.annotation))


class ConfigModel(BaseModel):
    """Strict model: unknown keys are rejected; every :class:`Secret` field ``x`` may instead be
    given as ``x_file: path`` (the file's content, trailing newline stripped)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _secret_fields: ClassVar[tuple[str, ...] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        names = secret_fields(cls)
        if not any(f"{n}_file" in data for n in names):
            return data
        data = dict(data)
        base = (info.context or {}).get("base_dir")
        for name in names:
            ref = data.pop(f"{name}_file", None)
            if ref is None:
                continue
            if name in data:
                raise ValueError(f"give either {name} or {name}_file, not both")
            path = Path(str(ref)).expanduser()
            if not path.is_absolute() and base is not None:
                path = Path(base) / path
            try:
                data[name] = Secret(path.read_text(encoding="utf-8").rstrip("\r\n"))
            except OSError as exc:
                # Reported by the field's own validation, so the error points at the ``x_file`` key.
                data[name] = UnreadableSecretFile(f"{name}_file: cannot read {path}: {exc.strerror or exc}")
        return data


def collect_secrets(value: Any, out: list[str]) -> None:
    """Append the revealed value of every :class:`Secret` inside a model tree to ``out``."""
    if isinstance(value, Secret):
        out.append(value.reveal())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            collect_secrets(getattr(value, name), out)
    elif isinstance(value, dict):
        for v in value.values():
            collect_secrets(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            collect_secrets(v, out)


T = typing.TypeVar("T")


def pick(entries: typing.Mapping[str, T], name: str, what: str, where: str) -> T:
    """The entry ``name`` of a configuration section, or :class:`NotFoundError` naming the section and
    what it does hold (``no ledger named 'x' (payments.ledgers: main)``): a usage error, exit 2."""
    entry = entries.get(name)
    if entry is None:
        known = ", ".join(sorted(entries)) or "none configured"
        raise NotFoundError(f"no {what} named {name!r} ({where}: {known})")
    return entry
