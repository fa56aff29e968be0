"""Small value types used across the configuration: durations, names, relative paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

__all__ = ["Duration", "Name", "ReadableFile", "RelPath", "format_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> float:
    """``"500ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"7d"`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if not text or pos != len(text):
            raise ValueError(f"must be a duration such as 30s, 5m or 1h (got {value!r})")
    else:
        raise ValueError("must be a duration such as 30s, 5m or 1h")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in YAML as ``30s``, ``5m``, ``1h``, ``500ms`` or a plain number of seconds."""


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0s")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A :data:`Duration` above zero."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lowercase letters, digits, '-', '_' or '.', "
            "starting with a letter or digit, at most 63 characters"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]


def _resolve(value: Any, info: ValidationInfo) -> Path:
    path = Path(str(value)).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


RelPath = Annotated[Path, BeforeValidator(_resolve)]
"""A filesystem path; relative paths are taken relative to the configuration file's folder."""


def _readable(path: Path) -> Path:
    if not path.is_file():
        raise ValueError(f"cannot read {path}: no such file")
    return path


ReadableFile = Annotated[RelPath, AfterValidator(_readable)]
"""A :data:`RelPath` that must name an existing file (e.g. a PEM file of CA certificates)."""
