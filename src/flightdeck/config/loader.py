"""Reading a configuration file: YAML with line numbers, ``${VAR}`` interpolation, validation.

Every problem is collected and reported at once, each with file, line and key path::

    flightdeck.yaml:14: services.payments.checks[2].expect.status: must be 100–599
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from flightdeck.config.alerting import RULE_TYPES
from flightdeck.config.alerting_refs import alerting_issues
from flightdeck.config.channels import CHANNEL_TYPES
from flightdeck.config.check_spec import known_kinds, spec_for_kind
from flightdeck.config.drills import DrillConfig
from flightdeck.config.experiments import UNION_TAGS, experiment_issues
from flightdeck.config.models import Config
from flightdeck.config.oncall_refs import oncall_issues
from flightdeck.errors import ConfigError, ConfigIssue

__all__ = ["load_config", "load_config_text"]

Loc = tuple[str | int, ...]
# Discriminated unions put the chosen tag in an error's location; it is not a key in the file.
_TAGS = UNION_TAGS | RULE_TYPES | CHANNEL_TYPES

_VAR = re.compile(r"\$(\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SECRET_VAR = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASS|KEY|AUTH|CREDENTIAL|DSN|PRIVATE)", re.IGNORECASE
)


class _Reader:
    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.lines: dict[Loc, int] = {}
        self.issues: list[ConfigIssue] = []
        self.secret_values: set[str] = set()

    def issue(self, loc: Loc, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, self.line_of(loc), format_loc(loc), message))

    def line_of(self, loc: Loc) -> int | None:
        if loc and isinstance(loc[-1], str):
            # A secret given as ``x_file`` is validated as ``x``.
            file_line = self.lines.get((*loc[:-1], f"{loc[-1]}_file"))
            if loc not in self.lines and file_line is not None:
                return file_line
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def plain(self, node: Any, loc: Loc) -> Any:
        """Convert ruamel nodes to plain data, recording each key's line and interpolating strings."""
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key, value in node.items():
                key_line = node.lc.key(key)[0] + 1
                child: Loc = (*loc, str(key))
                self.lines[child] = key_line
                if not isinstance(key, str):
                    self.issue(child, f"keys must be strings (got {key!r})")
                    continue
                out[key] = self.plain(value, child)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for i, value in enumerate(node):
                child = (*loc, i)
                self.lines[child] = node.lc.item(i)[0] + 1
                items.append(self.plain(value, child))
            return items
        if isinstance(node, str):
            return self.interpolate(str(node), loc)
        return node

    def interpolate(self, text: str, loc: Loc) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(1):
                return "$"
            name, default = m.group(2), m.group(3)
            value = self.env.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    self.issue(
                        loc,
                        f"environment variable {name} is not set (write ${{{name}:-default}} for a default)",
                    )
                    return ""
                value = default
            if _SECRET_VAR.search(name) and value:
                self.secret_values.add(value)
            return value

        if "$" not in text:
            return text
        return _VAR.sub(sub, text)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _message(error: Mapping[str, Any], fields: list[str] | None) -> str:
    kind = error["type"]
    msg = str(error["msg"])
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        hint = ""
        if fields:
            close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(sorted(fields))})"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    msg = msg.replace("Input should be", "must be").replace("Input is", "is")
    if kind.endswith(("_parsing", "_type")):
        value = error.get("input")
        if isinstance(value, str | int | float | bool):
            msg += f" (got {value!r})"
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """Best effort: the field names of the model found by walking ``loc`` (for 'did you mean')."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin in (list, tuple) and args:
                current = args[0]
            elif origin is dict and len(args) == 2:
                current = args[1]
            else:
                return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        names = list(current.model_fields)
        from flightdeck.config.base import secret_fields

        names += [f"{n}_file" for n in secret_fields(current)]
        return names
    return None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _add_errors(reader: _Reader, exc: ValidationError, model: type[BaseModel], prefix: Loc) -> None:
    for err in exc.errors():
        loc: Loc = tuple(p for p in err["loc"] if p != "[key]" and p not in _TAGS)
        fields = _fields_at(model, loc[:-1]) if err["type"] == "extra_forbidden" else None
        reader.issue((*prefix, *loc), _message(err, fields))


def _validate_checks(reader: _Reader, data: dict[str, Any], context: dict[str, Any]) -> None:
    """Validate each check against its kind's model, in place; invalid checks are dropped."""
    services = data.get("services")
    if not isinstance(services, dict):
        return
    for svc_name, service in services.items():
        if not isinstance(service, dict) or not isinstance(service.get("checks"), list):
            continue
        valid: list[Any] = []
        names: dict[str, int] = {}
        for i, raw in enumerate(service["checks"]):
            loc: Loc = ("services", svc_name, "checks", i)
            if not isinstance(raw, dict):
                reader.issue(loc, "each check must be a mapping with at least name and kind")
                continue
            kind = raw.get("kind")
            if kind is None:
                reader.issue((*loc, "kind"), f"required key is missing (one of: {', '.join(known_kinds())})")
                continue
            model = spec_for_kind(str(kind))
            if model is None:
                kinds = known_kinds()
                close = difflib.get_close_matches(str(kind), kinds, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                reader.issue((*loc, "kind"), f"unknown check kind {kind!r} ({hint}known: {', '.join(kinds)})")
                continue
            try:
                spec = model.model_validate(raw, context=context)
            except ValidationError as exc:
                _add_errors(reader, exc, model, loc)
                continue
            first = names.setdefault(spec.name, i)
            if first != i:
                reader.issue(
                    (*loc, "name"),
                    f"another check of this service is already named {spec.name!r} (checks[{first}])",
                )
                continue
            valid.append(spec)
        service["checks"] = valid


def _cross_references(reader: _Reader, config: Config) -> None:
    for svc_name, service in config.services.items():
        for i, check in enumerate(service.checks):
            ref = getattr(check, "datasource", None)
            if isinstance(ref, str) and ref not in config.datasources:
                known = ", ".join(sorted(config.datasources)) or "none declared"
                reader.issue(
                    ("services", svc_name, "checks", i, "datasource"),
                    f"no datasource named {ref!r} (declared: {known})",
                )


# Check kinds that name a job configured under ``payments:``: spec field -> payments section.
_JOB_REFS = {
    "reconciliation": "reconciliations",
    "ledger": "ledgers",
    "wallets": "wallets",
    "settlements": "settlements",
    "gateway_drill": "gateway_drills",
}


def _payments_references(reader: _Reader, config: Config) -> None:
    pay = config.payments
    known_ds = ", ".join(sorted(config.datasources)) or "none declared"
    known_svc = ", ".join(sorted(config.services)) or "none declared"
    for section in _JOB_REFS.values():
        for name, job in getattr(pay, section).items():
            loc: tuple[str | int, ...] = ("payments", section, name)
            if job.service not in config.services:
                reader.issue((*loc, "service"), f"no service named {job.service!r} (declared: {known_svc})")
            internal = getattr(job, "internal", None)
            ds = getattr(job, "datasource", None) or getattr(internal, "datasource", None)
            if ds is not None and ds not in config.datasources:
                where = (*loc, "internal", "datasource") if internal is not None else (*loc, "datasource")
                reader.issue(where, f"no datasource named {ds!r} (declared: {known_ds})")
            recon = getattr(job, "reconciliation", None)
            if recon is not None and recon not in pay.reconciliations:
                reader.issue((*loc, "reconciliation"), f"no reconciliation named {recon!r}")
    for svc_name, service in config.services.items():
        for i, check in enumerate(service.checks):
            for field, section in _JOB_REFS.items():
                ref = getattr(check, field, None)
                if check.kind == field and isinstance(ref, str) and ref not in getattr(pay, section):
                    known = ", ".join(sorted(getattr(pay, section))) or "none declared"
                    reader.issue(
                        ("services", svc_name, "checks", i, field),
                        f"no payments.{section} entry named {ref!r} (declared: {known})",
                    )


def _backup_references(reader: _Reader, config: Config) -> None:
    for name, backup in config.backups.items():
        if backup.service not in config.services:
            known = ", ".join(sorted(config.services)) or "none declared"
            reader.issue(
                ("backups", name, "service"), f"no service named {backup.service!r} (declared: {known})"
            )
        if backup.datasource not in config.datasources:
            known = ", ".join(sorted(config.datasources)) or "none declared"
            reader.issue(
                ("backups", name, "datasource"),
                f"no datasource named {backup.datasource!r} (declared: {known})",
            )
    for name, drill in config.drills.items():
        _drill_references(reader, config, name, drill)
    refs: dict[str, tuple[str, Mapping[str, object]]] = {
        "backup": ("backup", config.backups),
        "backup_freshness": ("backup", config.backups),
        "dr_drill": ("drill", config.drills),
        "drill_recency": ("drill", config.drills),
    }
    for svc_name, service in config.services.items():
        for i, check in enumerate(service.checks):
            if check.kind not in refs:
                continue
            field, section = refs[check.kind]
            ref = getattr(check, field, None)
            if isinstance(ref, str) and ref not in section:
                known = ", ".join(sorted(section)) or "none declared"
                reader.issue(
                    ("services", svc_name, "checks", i, field),
                    f"no {field}s entry named {ref!r} (declared: {known})",
                )


def _drill_references(reader: _Reader, config: Config, name: str, drill: DrillConfig) -> None:
    from flightdeck.datasources import DatabaseUrl, Dialect  # database drivers: only when drills exist

    loc = ("drills", name)
    backup = config.backups.get(drill.backup)
    if backup is None:
        known = ", ".join(sorted(config.backups)) or "none declared"
        reader.issue((*loc, "backup"), f"no backup named {drill.backup!r} (declared: {known})")
        return
    source = config.datasources.get(backup.datasource)
    if source is None:
        return  # reported under backups
    try:
        dialect = DatabaseUrl.parse(source.url).dialect
    except ValueError:
        return  # reported under datasources
    if dialect is Dialect.SQLITE:
        if drill.scratch is not None and "://" in drill.scratch.reveal():
            reader.issue((*loc, "scratch"), "for a SQLite backup, scratch is a directory, not a URL")
        return
    if drill.scratch is None:
        reader.issue(
            (*loc, "scratch"),
            f"a {dialect.value} drill needs scratch: a URL on the server to create its scratch database on",
        )
        return
    try:
        scratch = DatabaseUrl.parse(drill.scratch)
    except ValueError as exc:
        reader.issue((*loc, "scratch"), str(exc))
        return
    if scratch.dialect is not dialect:
        reader.issue(
            (*loc, "scratch"),
            f"the backup is of a {dialect.value} database; scratch is a {scratch.dialect.value} URL",
        )


def load_config_text(
    text: str, file: str = "<config>", env: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> Config:
    """Parse and validate configuration text. Raises :class:`ConfigError` listing every problem."""
    reader = _Reader(file, os.environ if env is None else env)
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([ConfigIssue(file, line, "", f"invalid YAML: {problem}")]) from None
    except YAMLError as exc:
        raise ConfigError([ConfigIssue(file, None, "", f"invalid YAML: {exc}")]) from None
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, CommentedMap):
        raise ConfigError(
            [ConfigIssue(file, 1, "", "the file must be a mapping of sections (services:, store:, ...)")]
        )
    data = reader.plain(tree, ())
    context = {"base_dir": base_dir or Path.cwd()}
    _validate_checks(reader, data, context)
    config: Config | None = None
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as exc:
        _add_errors(reader, exc, Config, ())
    if config is not None:
        _cross_references(reader, config)
        _payments_references(reader, config)
        _backup_references(reader, config)
        for loc, message in experiment_issues(config):
            reader.issue(loc, message)
        for loc, message in oncall_issues(config):
            reader.issue(loc, message)
        for loc, message in alerting_issues(config):
            reader.issue(loc, message)
    if reader.issues or config is None:
        raise ConfigError(reader.issues)
    config._source = Path(file) if file != "<config>" else None
    config._extra_secrets = frozenset(reader.secret_values)
    return config


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigIssue(str(p), None, "", f"cannot read: {exc.strerror or exc}")]) from None
    return load_config_text(text, file=str(p), env=env, base_dir=p.resolve().parent)
