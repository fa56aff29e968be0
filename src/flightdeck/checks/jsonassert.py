"""Assertions on a JSON response, written as one string each.

::

    $.status == 'ok'
    $.checks[*].latency_ms < 100
    $.version exists
    $.errors not exists
    $.tags contains 'primary'
    $.build matches '^v\\d+\\.'

The path is a JSONPath query (RFC 9535 syntax, via the ``python-jsonpath`` library). Every value the
path selects must satisfy the comparison; a path that selects nothing fails every comparison except
``not exists``. Values are JSON literals: numbers, ``true``/``false``/``null``, strings in double
quotes or in single quotes.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

import jsonpath
from pydantic import JsonValue, PlainSerializer, PlainValidator, WithJsonSchema

__all__ = ["AssertionResult", "JsonAssertion", "JsonAssertionField", "JsonOp", "parse_json_assertion"]


class JsonOp(enum.StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "contains"
    MATCHES = "matches"
    EXISTS = "exists"
    NOT_EXISTS = "not exists"


_COMPARISON = re.compile(r"\s(==|!=|<=|>=|<|>|contains|matches)\s")
_EXISTENCE = re.compile(r"^(?P<path>.*?\S)\s+(?P<not>not\s+)?exists$")
_USAGE = (
    "write '<path> <op> <value>' with op one of == != < <= > >= contains matches "
    "(e.g. \"$.status == 'ok'\"), or '<path> exists' / '<path> not exists'"
)
_MAX_OBSERVED = 200


@dataclass(frozen=True)
class AssertionResult:
    """``ok`` and, when not ok, why; ``observed`` is what the path selected (shortened)."""

    assertion: str
    ok: bool
    observed: JsonValue
    reason: str = ""

    def to_detail(self) -> dict[str, JsonValue]:
        detail: dict[str, JsonValue] = {"assertion": self.assertion, "ok": self.ok, "observed": self.observed}
        if self.reason:
            detail["reason"] = self.reason
        return detail


@dataclass(frozen=True)
class JsonAssertion:
    text: str
    path: str
    op: JsonOp
    expected: JsonValue
    _query: Any  # a compiled python-jsonpath query

    def __str__(self) -> str:
        return self.text

    def evaluate(self, document: JsonValue) -> AssertionResult:
        values: list[JsonValue] = list(self._query.findall(document))
        observed = _shorten(values[0] if len(values) == 1 else values) if values else None
        if self.op is JsonOp.EXISTS:
            ok = bool(values)
            return AssertionResult(self.text, ok, observed, "" if ok else f"nothing at {self.path}")
        if self.op is JsonOp.NOT_EXISTS:
            ok = not values
            return AssertionResult(self.text, ok, observed, "" if ok else f"{self.path} is present")
        if not values:
            return AssertionResult(self.text, False, None, f"nothing at {self.path}")
        for value in values:
            reason = self._violation(value)
            if reason:
                return AssertionResult(self.text, False, observed, reason)
        return AssertionResult(self.text, True, observed)

    def _violation(self, value: JsonValue) -> str:
        """Empty when ``value`` satisfies the assertion, else a short reason."""
        shown = _show(value)
        expected = self.expected
        if self.op is JsonOp.EQ:
            return "" if _equal(value, expected) else f"{self.path} is {shown}"
        if self.op is JsonOp.NE:
            return f"{self.path} is {shown}" if _equal(value, expected) else ""
        if self.op is JsonOp.CONTAINS:
            if isinstance(value, str) and isinstance(expected, str):
                held = expected in value
            elif isinstance(value, list):
                held = any(_equal(item, expected) for item in value)
            elif isinstance(value, dict) and isinstance(expected, str):
                held = expected in value
            else:
                return f"{self.path} is {shown}, which cannot contain {_show(expected)}"
            return "" if held else f"{self.path} is {shown}"
        if self.op is JsonOp.MATCHES:
            if not isinstance(value, str):
                return f"{self.path} is {shown}, not a string"
            assert isinstance(expected, str)
            return "" if re.search(expected, value) else f"{self.path} is {shown}"
        # Ordering: numbers with numbers, strings with strings.
        if _is_number(value) and _is_number(expected):
            a, b = float(value), float(expected)  # type: ignore[arg-type]
        elif isinstance(value, str) and isinstance(expected, str):
            return "" if _ordered(self.op, value, expected) else f"{self.path} is {shown}"
        else:
            kind = "a number" if _is_number(expected) else "a string"
            return f"{self.path} is {shown}, not {kind}"
        return "" if _ordered(self.op, a, b) else f"{self.path} is {shown}"


def _ordered(op: JsonOp, a: Any, b: Any) -> bool:
    if op is JsonOp.LT:
        return bool(a < b)
    if op is JsonOp.LE:
        return bool(a <= b)
    if op is JsonOp.GT:
        return bool(a > b)
    return bool(a >= b)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _equal(a: JsonValue, b: JsonValue) -> bool:
    # JSON equality: 1 == 1.0, but true is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _show(value: JsonValue) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _shorten(value: JsonValue) -> JsonValue:
    text = json.dumps(value, ensure_ascii=False)
    return value if len(text) <= _MAX_OBSERVED else text[: _MAX_OBSERVED - 3] + "..."


def _literal(text: str) -> JsonValue:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        inner = text[1:-1]
        if re.search(r"(?<!\\)'", inner):
            raise ValueError("unescaped ' inside a single-quoted string")
        return inner.replace("\\'", "'").replace("\\\\", "\\")
    value: JsonValue = json.loads(text)
    return value


def _compile(path: str) -> Any:
    if not path.startswith("$"):
        raise ValueError(f"the path {path!r} must start with $")
    try:
        return jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"invalid JSONPath {path!r}: {first}") from None


def parse_json_assertion(text: str) -> JsonAssertion:
    """Parse one assertion; raises ``ValueError`` with a message for the configuration error."""
    if not isinstance(text, str):
        raise ValueError(f"must be a string such as \"$.status == 'ok'\" (got {text!r})")
    text = text.strip()
    m = _EXISTENCE.match(text)
    if m:
        op = JsonOp.NOT_EXISTS if m["not"] else JsonOp.EXISTS
        path = m["path"].strip()
        try:
            return JsonAssertion(text, path, op, None, _compile(path))
        except ValueError as exc:
            raise ValueError(f"cannot read JSON assertion {text!r}: {exc}") from None
    problem = ""
    # The path may itself contain operators (filters such as [?@.state == 'down']), and so may a
    # quoted value: try each split from the right until both halves make sense.
    for match in reversed(list(_COMPARISON.finditer(text))):
        path, op_text, value_text = text[: match.start()].strip(), match[1], text[match.end() :].strip()
        try:
            expected = _literal(value_text)
        except ValueError:
            problem = problem or (
                f"{value_text!r} is not a JSON value (quote strings: '{value_text}')"
                if value_text and value_text[0] not in "'\"" and re.fullmatch(r"[A-Za-z_][\w.-]*", value_text)
                else f"{value_text!r} is not a JSON value"
            )
            continue
        op = JsonOp(op_text)
        try:
            query = _compile(path)
        except ValueError as exc:
            problem = str(exc)
            continue
        if op is JsonOp.MATCHES:
            if not isinstance(expected, str):
                problem = "matches needs a quoted regular expression"
                continue
            try:
                re.compile(expected)
            except re.error as exc:
                problem = f"invalid regular expression {expected!r}: {exc}"
                continue
        if op in (JsonOp.LT, JsonOp.LE, JsonOp.GT, JsonOp.GE) and not (
            _is_number(expected) or isinstance(expected, str)
        ):
            problem = f"{op.value} compares with a number or a string, not {_show(expected)}"
            continue
        return JsonAssertion(text, path, op, expected, query)
    if problem:
        raise ValueError(f"cannot read JSON assertion {text!r}: {problem}")
    raise ValueError(f"cannot read JSON assertion {text!r}: {_USAGE}")


JsonAssertionField = Annotated[
    JsonAssertion,
    PlainValidator(lambda v: v if isinstance(v, JsonAssertion) else parse_json_assertion(v)),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["$.status == 'ok'"]}),
]
"""A :class:`JsonAssertion` in a configuration model, written in YAML as a string."""
