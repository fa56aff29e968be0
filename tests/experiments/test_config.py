"""Experiment configuration errors name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightdeck.config import load_config
from flightdeck.config.experiments import CheckProbe, CommandAction, HttpAction
from flightdeck.errors import ConfigError


def _issues(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "flightdeck.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    return [str(i) for i in info.value.issues]


HEAD = """services:
  web:
    checks:
      - {name: ready, kind: http, url: "http://127.0.0.1:9/ready"}
experiments:
  outage:
    service: web
"""


def test_an_unknown_probe_kind_is_named_with_its_line(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        HEAD
        + """    method:
      - {name: wait, action: sleep, duration: 1s}
      - {name: look, probe: telepathy}
""",
    )
    assert issues == [
        f"{tmp_path / 'flightdeck.yaml'}:10: experiments.outage.method[1]: unknown probe kind "
        "'telepathy' (known: check, command, http)"
    ]


def test_an_unknown_check_service_or_backup_is_named_with_its_line(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        HEAD.replace("service: web", "service: shop")
        + """    method:
      - {name: look, probe: check, check: web/live, expect: fail}
    rollbacks:
      - {name: restore, action: restore, backup: nightly, to: "sqlite:///restored.db"}
""",
    )
    file = tmp_path / "flightdeck.yaml"
    assert issues == [
        f"{file}:7: experiments.outage.service: no service named 'shop' (declared: web)",
        f"{file}:9: experiments.outage.method[0].check: no check 'web/live' (checks: web/ready)",
        f"{file}:11: experiments.outage.rollbacks[0].backup: no backup named 'nightly' (declared: none declared)",
    ]


def test_step_fields_are_checked_like_the_http_check_and_placed(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        HEAD
        + """    method:
      - {name: call, action: http, url: "ftp://example.test/x"}
      - {name: look, probe: http, url: "http://127.0.0.1:9/", expect_status: 999}
      - {name: stop, action: process, operation: stop}
    rollbacks:
      - {name: look again, probe: http, url: "http://127.0.0.1:9/"}
    recovery:
      target: 0s
      probes:
        - {name: ok, probe: command, argv: ["true"]}
""",
    )
    file = tmp_path / "flightdeck.yaml"
    assert issues == [
        f"{file}:9: experiments.outage.method[0]: url: must be an http:// or https:// URL (got 'ftp://example.test/x')",
        f"{file}:10: experiments.outage.method[1]: expect_status: must be 100–599",
        f"{file}:11: experiments.outage.method[2]: stop needs exactly one of pid_file or command_line",
        f"{file}:13: experiments.outage.rollbacks[0]: only actions belong here (found probe: 'http')",
        f"{file}:15: experiments.outage.recovery.target: must be more than 0s",
    ]


def test_an_experiment_check_must_name_an_experiment(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        """services:
  web:
    checks:
      - {name: drill, kind: experiment, experiment: outage, cron: "0 10 * * 1"}
""",
    )
    assert issues == [
        f"{tmp_path / 'flightdeck.yaml'}:4: services.web.checks[0].experiment: no experiment named 'outage' "
        "(declared: none declared)"
    ]


def test_a_valid_experiment_loads_with_its_steps_typed(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc123\n")
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        HEAD
        + """    method:
      - {name: break, action: http, url: "http://127.0.0.1:9/b", bearer_token_file: token}
      - {name: look, probe: check, check: web/ready, expect: [fail, error], within: 30s}
    rollbacks:
      - {name: fix, action: command, argv: [systemctl, start, db], expect_exit: 0}
""",
        encoding="utf-8",
    )
    config = load_config(path, env={})
    exp = config.experiments["outage"]
    http, check = exp.method
    assert isinstance(http, HttpAction)
    assert http.bearer_token is not None
    assert http.bearer_token.reveal() == "abc123"
    assert http.method == "POST"
    assert isinstance(check, CheckProbe)
    assert [v.value for v in check.expect] == ["fail", "error"]
    assert check.within == 30
    (fix,) = exp.rollbacks
    assert isinstance(fix, CommandAction)
    assert fix.expect_exit == [0]
    assert "abc123" in config.secret_values()
