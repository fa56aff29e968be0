"""Configuration: pydantic models of the YAML file and the loader that reads it."""

from flightdeck.config.check_spec import CatchUp, CheckSpec, config_digest, known_kinds, register_spec
from flightdeck.config.conditions import Condition, ConditionOutcome, ConditionResult
from flightdeck.config.loader import load_config, load_config_text
from flightdeck.config.models import (
    CheckDefaults,
    Config,
    DatasourceConfig,
    RetentionConfig,
    SchedulerConfig,
    ServerConfig,
    ServiceConfig,
    StoreConfig,
)
from flightdeck.config.types import Duration, Name, RelPath, format_duration, parse_duration

__all__ = [
    "CatchUp",
    "CheckDefaults",
    "CheckSpec",
    "Condition",
    "ConditionOutcome",
    "ConditionResult",
    "Config",
    "DatasourceConfig",
    "Duration",
    "Name",
    "RelPath",
    "RetentionConfig",
    "SchedulerConfig",
    "ServerConfig",
    "ServiceConfig",
    "StoreConfig",
    "config_digest",
    "format_duration",
    "known_kinds",
    "load_config",
    "load_config_text",
    "parse_duration",
    "register_spec",
]
