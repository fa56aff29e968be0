"""`config validate` for on-call: every problem reported with its file, line and key path."""

from __future__ import annotations

import pytest

from flightdeck.config import load_config_text
from flightdeck.errors import ConfigError, ConfigIssue

CHANNELS = """\
channels:
  whatsapp: {type: whatsapp, phone_number_id: "1", access_token: t, template: alert}
  telegram: {type: telegram, bot_token: t}
  telegram-ops: {type: telegram, bot_token: t, chat_id: "-100"}
  mail: {type: email, host: smtp.example.com, sender: alerts@example.com}
  ops-chat: {type: slack, webhook_url: https://hooks.example.com/x}
"""


def issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, "f.yaml", env={})
    return list(exc.value.issues)


def located(text: str) -> list[tuple[int | None, str, str]]:
    return [(i.line, i.path, i.message) for i in issues(text)]


GOOD = """\
channels:
  whatsapp: {type: whatsapp, phone_number_id: "1", access_token: t, template: alert}
  ops-chat: {type: slack, webhook_url: https://hooks.example.com/x}
alerting:
  starter_rules: false
  routes:
    - {severity: P1, policy: page-primary}
oncall:
  users:
    abebe:
      timezone: Africa/Addis_Ababa
      contacts: [{channel: whatsapp, to: "+251911000001"}, {channel: ops-chat, after: 5m}]
    tendai: {timezone: Africa/Harare}
  schedules:
    primary:
      timezone: Africa/Addis_Ababa
      layers:
        - name: weekly
          rotation: {users: [abebe, tendai], length: weekly, start: 2026-11-02}
        - name: office
          rotation: {users: [tendai], length: daily, start: 2026-11-02}
          restrictions: [{days: [mon, tue], start: "22:00", end: "06:00"}, {days: [mon], start: "08:00", end: "17:00"}]
      overrides:
        - {user: tendai, start: "2026-12-24T18:00", end: "2026-12-26T09:00"}
        - {user: abebe, start: "2026-12-26T09:00", end: "2026-12-27T09:00"}
  escalation_policies:
    page-primary:
      levels:
        - {targets: [{schedule: primary}], timeout: 10m}
        - {targets: [{user: abebe}, {channel: ops-chat}], timeout: 15m}
      repeat: 2
"""


def test_a_complete_oncall_configuration_is_valid() -> None:
    cfg = load_config_text(GOOD, "f.yaml", env={})
    assert cfg.oncall.schedules["primary"].layers[1].restrictions[0].days[0].number == 0
    assert cfg.oncall.escalation_policies["page-primary"].levels[0].timeout == 600


def test_unknown_time_zones_are_named_at_their_line() -> None:
    text = """\
oncall:
  users:
    abebe: {timezone: Africa/Adis_Ababa}
  schedules:
    primary:
      timezone: Europe/Berln
      layers: [{name: w, rotation: {users: [abebe], start: 2026-11-02}}]
"""
    found = located(text)
    assert found[0][:2] == (3, "oncall.users.abebe.timezone")
    assert "unknown time zone 'Africa/Adis_Ababa'" in found[0][2]
    assert "Africa/Addis_Ababa" in found[0][2]
    assert found[1][:2] == (6, "oncall.schedules.primary.timezone")
    assert "unknown time zone 'Europe/Berln'" in found[1][2]
    assert "did you mean 'Europe/Berlin'" in found[1][2]
    assert len(found) == 2


def test_overlapping_restriction_windows_of_one_layer() -> None:
    text = """\
oncall:
  users: {a: {}}
  schedules:
    s:
      allow_gaps: true
      layers:
        - name: nights
          rotation: {users: [a], start: 2026-11-02}
          restrictions:
            - {days: [mon], start: "22:00", end: "06:00"}
            - {days: [tue], start: "05:00", end: "09:00"}
            - {days: [sun], start: "23:00", end: "01:00"}
            - {days: [mon], start: "00:30", end: "02:00"}
"""
    assert located(text) == [
        (
            11,
            "oncall.schedules.s.layers[0].restrictions[1]",
            "overlap: this window overlaps restrictions[0] of the same layer",
        ),
        (
            13,
            "oncall.schedules.s.layers[0].restrictions[3]",
            "overlap: this window overlaps restrictions[2] of the same layer",
        ),
    ]


def test_overrides_that_end_before_they_start_or_overlap() -> None:
    text = """\
oncall:
  users: {a: {}, b: {}}
  schedules:
    s:
      timezone: Africa/Harare
      layers: [{name: w, rotation: {users: [a], start: 2026-11-02}}]
      overrides:
        - {user: b, start: "2026-12-24T18:00", end: "2026-12-26T09:00"}
        - {user: a, start: "2026-12-25T09:00", end: "2026-12-25T08:00"}
        - {user: a, start: "2026-12-26T06:00+00:00", end: "2026-12-27T00:00+00:00"}
        - {user: a, start: "2026-12-26T07:00Z", end: "2026-12-28T00:00Z"}
"""
    assert located(text) == [
        (9, "oncall.schedules.s.overrides[1].end", "an override must end after it starts"),
        (10, "oncall.schedules.s.overrides[2]", "overlap: this override overlaps overrides[0]"),
        (11, "oncall.schedules.s.overrides[3]", "overlap: this override overlaps overrides[2]"),
    ]


GAPPY = """\
oncall:
  users: {{a: {{}}, b: {{}}}}
  schedules:
    s:
      timezone: Europe/Berlin{extra}
      layers:
        - name: office
          rotation: {{users: [a], start: 2026-11-02}}
          restrictions: [{{days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}}]
        - name: evenings
          rotation: {{users: [b], start: 2026-11-02}}
          restrictions: [{{days: [mon, tue, wed, thu], start: "18:00", end: "08:00"}}, {{days: [fri], start: "18:00", end: "23:00"}}]
"""


def test_hours_no_layer_covers_are_gaps() -> None:
    assert located(GAPPY.format(extra="")) == [
        (
            6,
            "oncall.schedules.s.layers",
            "gap: nobody is on call fri 23:00-mon 08:00 (local); add a layer or set allow_gaps: true on the schedule",
        ),
    ]
    daytime = GAPPY.format(extra="").replace('"18:00", end: "08:00"', '"18:00", end: "23:00"')
    messages = [m for _, _, m in located(daytime)]
    assert messages[0].startswith("gap: nobody is on call mon 23:00-tue 08:00 (local)")
    assert len(messages) == 5  # four weeknights and the weekend


def test_allow_gaps_accepts_a_schedule_with_gaps() -> None:
    cfg = load_config_text(GAPPY.format(extra="\n      allow_gaps: true"), "f.yaml", env={})
    assert cfg.oncall.schedules["s"].allow_gaps is True


def test_references_to_nothing() -> None:
    text = (
        CHANNELS
        + """\
alerting:
  starter_rules: false
  routes:
    - {severity: P1, policy: page-primry}
oncall:
  users:
    abebe:
      contacts:
        - {channel: whatsap, to: "+251911000001"}
  schedules:
    s:
      layers: [{name: w, rotation: {users: [abebe, tendai], start: 2026-11-02}}]
      overrides: [{user: chipo, start: "2026-12-24T18:00", end: "2026-12-26T09:00"}]
  escalation_policies:
    page-primary:
      levels:
        - targets: [{schedule: secondary}, {user: tendai}, {channel: sms}]
"""
    )
    channels = "channels: mail, ops-chat, telegram, telegram-ops, whatsapp"
    policy = "oncall.escalation_policies.page-primary.levels[0].targets"
    assert located(text) == [
        (
            10,
            "alerting.routes[0].policy",
            "no escalation policy named 'page-primry' (oncall.escalation_policies: page-primary)",
        ),
        (15, "oncall.users.abebe.contacts[0].channel", f"no channel named 'whatsap' ({channels})"),
        (
            18,
            "oncall.schedules.s.layers[0].rotation.users[1]",
            "no user named 'tendai' (oncall.users: abebe)",
        ),
        (19, "oncall.schedules.s.overrides[0].user", "no user named 'chipo' (oncall.users: abebe)"),
        (23, f"{policy}[0].schedule", "no schedule named 'secondary' (oncall.schedules: s)"),
        (23, f"{policy}[1].user", "no user named 'tendai' (oncall.users: abebe)"),
        (23, f"{policy}[2].channel", f"no channel named 'sms' ({channels})"),
    ]


def test_an_escalation_target_names_exactly_one_thing() -> None:
    text = """\
oncall:
  escalation_policies:
    p:
      levels:
        - targets:
            - {}
            - {user: a, channel: b}
"""
    assert located(text) == [
        (
            6,
            "oncall.escalation_policies.p.levels[0].targets[0]",
            "give exactly one of schedule, user or channel",
        ),
        (
            7,
            "oncall.escalation_policies.p.levels[0].targets[1]",
            "give exactly one of schedule, user or channel",
        ),
    ]


def test_contacts_need_the_address_their_channel_needs() -> None:
    text = (
        CHANNELS
        + """\
oncall:
  users:
    abebe:
      contacts:
        - {channel: whatsapp}
        - {channel: whatsapp, to: "0911 000 001"}
        - {channel: telegram}
        - {channel: telegram-ops}
        - {channel: mail}
        - {channel: mail, to: abebe@example.com}
        - {channel: ops-chat}
"""
    )
    found = located(text)
    assert found == [
        (
            11,
            "oncall.users.abebe.contacts[0]",
            "a whatsapp contact needs to: a phone number such as +251911000001",
        ),
        (
            12,
            "oncall.users.abebe.contacts[1].to",
            "'0911 000 001' is not an E.164 phone number (+ and 7-15 digits)",
        ),
        (
            13,
            "oncall.users.abebe.contacts[2]",
            "a telegram contact needs to: a chat id ('telegram' has no chat_id)",
        ),
        (15, "oncall.users.abebe.contacts[4]", "an email contact needs to: an address ('mail' has no to)"),
    ]


def test_rotation_fields_that_cannot_work() -> None:
    text = """\
oncall:
  users: {a: {}}
  schedules:
    s:
      layers:
        - name: w
          rotation: {users: [a], length: 30s, start: 2026-11-02}
        - name: w
          rotation: {users: [a], length: daily, handoff: "09:00", start: "2026-11-02T10:00"}
        - name: x
          rotation: {users: [a], length: daily, start: "2026-11-02T10:00"}
          restrictions: [{days: [], start: "09:00", end: "10:00"}]
"""
    found = located(text)
    assert found[0][:2] == (7, "oncall.schedules.s.layers[0].rotation")
    assert found[0][2] == "a custom rotation length must be at least 1m"
    assert found[1][:2] == (9, "oncall.schedules.s.layers[1].rotation")
    assert "start 10:00 differs from handoff 09:00" in found[1][2]
    assert found[2][:2] == (12, "oncall.schedules.s.layers[2].restrictions[0].days")
    assert len(found) == 3
