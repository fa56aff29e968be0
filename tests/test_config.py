"""The configuration loader: every error at once, each with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdeck.config import CatchUp, Config, load_config, load_config_text, parse_duration
from flightdeck.errors import ConfigError
from flightdeck.secret import MASK, Secret


def issues_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, "flightdeck.yaml", env=env or {})
    return [str(i) for i in exc.value.issues]


def test_empty_file_is_a_valid_configuration() -> None:
    config = load_config_text("", "flightdeck.yaml", env={})
    assert config.services == {}
    assert config.server.bind == "127.0.0.1"


def test_every_error_is_reported_with_file_line_and_path() -> None:
    text = """\
services:
  payments:
    checks:
      - name: db
        kind: tcp
        host: 127.0.0.1
        port: 70000
        intervall: 5s
      - name: other
        kind: tcpp
  web:
    descripton: typo
"""
    assert issues_of(text) == [
        "flightdeck.yaml:7: services.payments.checks[0].port: must be less than or equal to 65535",
        "flightdeck.yaml:8: services.payments.checks[0].intervall: unknown key (did you mean 'interval'?)",
        "flightdeck.yaml:10: services.payments.checks[1].kind: unknown check kind 'tcpp' "
        f"(did you mean 'tcp'? known: {', '.join(__import__('flightdeck.config', fromlist=['x']).known_kinds())})",
        "flightdeck.yaml:12: services.web.descripton: unknown key (did you mean 'description'?)",
    ]


def test_missing_required_key_points_at_the_check() -> None:
    text = "services:\n  api:\n    checks:\n      - kind: tcp\n        host: h\n        port: 1\n"
    assert issues_of(text) == ["flightdeck.yaml:4: services.api.checks[0].name: required key is missing"]


def test_yaml_syntax_error_names_the_line() -> None:
    (issue,) = issues_of("services:\n  api: [unclosed\n  other: 1\n")
    assert issue.startswith("flightdeck.yaml:3: invalid YAML")


def test_top_level_must_be_a_mapping() -> None:
    assert issues_of("- a\n- b\n") == [
        "flightdeck.yaml:1: the file must be a mapping of sections (services:, store:, ...)"
    ]


def test_interpolation_with_defaults_and_escapes() -> None:
    text = """\
services:
  api:
    description: "cost $$5 in ${REGION:-eu}"
    checks:
      - {name: db, kind: tcp, host: "${DB_HOST}", port: 5432}
"""
    config = load_config_text(text, "f.yaml", env={"DB_HOST": "10.0.0.5"})
    assert config.services["api"].description == "cost $5 in eu"
    spec = config.services["api"].checks[0]
    assert spec.host == "10.0.0.5"


def test_unset_variable_is_an_error_at_its_line() -> None:
    text = "services:\n  api:\n    checks:\n      - {name: db, kind: tcp, host: '${DB_HOST}', port: 1}\n"
    assert issues_of(text) == [
        "flightdeck.yaml:4: services.api.checks[0].host: environment variable DB_HOST is not set "
        "(write ${DB_HOST:-default} for a default)"
    ]


def test_secret_from_file_and_never_printed(tmp_path: Path) -> None:
    (tmp_path / "db.url").write_text("postgresql://app:hunter2-very-secret@db/app\n")
    (tmp_path / "flightdeck.yaml").write_text("datasources:\n  main:\n    url_file: db.url\n")
    config = load_config(tmp_path / "flightdeck.yaml", env={})
    url = config.datasources["main"].url
    assert url.reveal() == "postgresql://app:hunter2-very-secret@db/app"
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(url)
    assert "hunter2" not in config.model_dump_json()
    assert MASK in config.model_dump_json()
    assert "postgresql://app:hunter2-very-secret@db/app" in config.secret_values()


def test_unreadable_secret_file_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "flightdeck.yaml").write_text("datasources:\n  main:\n    url_file: missing.url\n")
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "flightdeck.yaml", env={})
    (issue,) = exc.value.issues
    assert issue.line == 3
    assert issue.path == "datasources.main.url"
    assert "url_file: cannot read" in issue.message
    assert "missing.url" in issue.message


def test_secret_looking_environment_values_are_scrubbed() -> None:
    text = "services:\n  api:\n    description: 'token ${API_TOKEN}'\n"
    config = load_config_text(text, "f.yaml", env={"API_TOKEN": "tok-123456"})
    assert "tok-123456" in config.secret_values()


def test_unknown_datasource_reference_is_reported() -> None:
    from flightdeck.config.check_spec import CheckSpec

    # ``datasource`` cross-references are checked for any kind that declares the field.
    assert "datasource" not in CheckSpec.model_fields
    config = load_config_text("datasources:\n  main:\n    url: sqlite:///x.db\n", "f.yaml", env={})
    assert config.datasources["main"].dialect == "sqlite"


def test_datasource_url_scheme_is_checked() -> None:
    assert issues_of("datasources:\n  main:\n    url: oracle://x\n") == [
        "flightdeck.yaml:3: datasources.main.url: unsupported database URL scheme 'oracle' "
        "(use postgresql, mysql or sqlite)"
    ]


def test_conditions_parse_and_report_bad_expressions() -> None:
    text = """\
services:
  api:
    checks:
      - name: db
        kind: tcp
        host: h
        port: 1
        conditions:
          - connect_ms < 50
          - warn: connect_ms <= 10
          - connect_ms about 3
"""
    assert issues_of(text) == [
        "flightdeck.yaml:11: services.api.checks[0].conditions[2]: cannot read condition 'connect_ms about 3': "
        "write '<measurement> <op> <number>', e.g. 'latency_ms < 500', with op one of < <= > >= == !="
    ]


def test_schedule_fields_are_validated() -> None:
    text = """\
services:
  api:
    checks:
      - {name: a, kind: tcp, host: h, port: 1, cron: "61 * * * *"}
      - {name: b, kind: tcp, host: h, port: 1, timezone: Mars/Olympus}
      - {name: c, kind: tcp, host: h, port: 1, interval: 10s, cron: "* * * * *"}
      - {name: d, kind: tcp, host: h, port: 1, interval: soon}
      - {name: d, kind: tcp, host: h, port: 1, catch_up: replay_all}
"""
    found = issues_of(text)
    assert found[0].startswith(
        "flightdeck.yaml:4: services.api.checks[0].cron: '61 * * * *' is not a valid cron"
    )
    assert found[1].startswith(
        "flightdeck.yaml:5: services.api.checks[1].timezone: unknown time zone 'Mars/Olympus'"
    )
    assert found[2] == "flightdeck.yaml:6: services.api.checks[2]: give either interval or cron, not both"
    assert found[3] == (
        "flightdeck.yaml:7: services.api.checks[3].interval: must be a duration such as 30s, 5m or 1h (got 'soon')"
    )
    assert found[4].startswith(
        "flightdeck.yaml:8: services.api.checks[4].catch_up: must be 'run_once' or 'skip'"
    )
    assert len(found) == 5


def test_duplicate_check_names_are_rejected() -> None:
    text = (
        "services:\n  api:\n    checks:\n      - {name: a, kind: tcp, host: h, port: 1}\n"
        "      - {name: a, kind: tcp, host: h, port: 2}\n"
    )
    assert issues_of(text) == [
        "flightdeck.yaml:5: services.api.checks[1].name: another check of this service is already named 'a' (checks[0])"
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("7d", 604800), (15, 15), ("2w", 1209600)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_defaults_are_the_documented_ones() -> None:
    config = Config()
    assert config.defaults.interval == 60
    assert config.defaults.timeout == 10
    assert config.defaults.catch_up is CatchUp.RUN_ONCE
    assert config.store.retention.raw == 7 * 86400


def test_store_url_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config_text("store:\n  url: sqlite:///from-file.db\n", "f.yaml", env={})
    assert config.store.database_url() == "sqlite:///from-file.db"
    monkeypatch.setenv("FLIGHTDECK_DATABASE_URL", "postgresql://localhost/fd")
    assert config.store.database_url() == "postgresql://localhost/fd"


def test_secret_type_hides_its_value() -> None:
    s = Secret("abc")
    assert repr(s) == "Secret('**********')"
    assert f"{s}" == MASK
    assert s.reveal() == "abc"
