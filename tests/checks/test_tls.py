"""The ``tls`` check against real TLS servers on loopback with certificates made for each case."""

from __future__ import annotations

import ssl
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from flightdeck.checks.certinfo import CertInfo, hostname_matches
from flightdeck.config import load_config_text
from flightdeck.errors import ConfigError
from flightdeck.evidence import NewEvidence, Verdict
from tests.checks.pki import chain_with_short_lived_intermediate
from tests.checks.servers import closed_port, hang, http_target, idle, make_pki, raw_server, run_yaml


def measurements(ev: NewEvidence) -> dict[str, float]:
    return {m.name: m.value for m in ev.measurements}


def tls_yaml(port: int, extra: str = "", host: str = "localhost") -> str:
    return f"- {{name: cert, kind: tls, host: {host}, port: {port}{', ' + extra if extra else ''}}}"


async def test_a_good_certificate_passes_with_everything_reported(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with raw_server(idle, pki.server_context()) as port:
        ev = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}"))
    m = measurements(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    assert (m["chain_valid"], m["hostname_match"], m["protocol_version"]) == (1, 1, 1.3)
    assert {"handshake_ms", "connect_ms"} <= set(m)
    not_after = datetime.fromisoformat(ev.detail["certificate"]["not_after"])
    expected_days = (not_after - datetime.now(UTC)).total_seconds() / 86400
    assert abs(m["days_to_expiry"] - expected_days) < 0.01
    cert = ev.detail["certificate"]
    assert cert["sans"] == ["localhost", "127.0.0.1"]
    assert cert["serial"]
    assert "O=trustme" in cert["issuer"]
    assert ev.detail["protocol"] == "TLSv1.3"
    assert ev.detail["cipher"]
    assert ev.detail["server_name"] == "localhost"


async def test_leaf_expiry_is_reported_not_the_earlier_intermediate(tmp_path: Path) -> None:
    chain = chain_with_short_lived_intermediate(tmp_path, leaf_days=60, intermediate_days=5)
    async with raw_server(idle, chain.server_context()) as port:
        ev = await run_yaml(tls_yaml(port, f"ca_file: {chain.root_file}, warn_days: 3, min_days: 1"))
    m = measurements(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    assert abs(m["days_to_expiry"] - 60) < 0.01
    assert ev.detail["certificate"]["subject"] == "CN=localhost"
    # The intermediate's earlier expiry is visible too, under its own name.
    assert abs(m["chain_min_days_to_expiry"] - 5) < 0.01
    assert [c["subject"] for c in ev.detail["served_chain"]] == [
        "CN=localhost",
        "CN=flightdeck test intermediate",
    ]
    assert [c["subject"] for c in ev.detail["verified_chain"]] == [
        "CN=localhost",
        "CN=flightdeck test intermediate",
        "CN=flightdeck test root",
    ]


async def test_expired_certificate_fails(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    now = datetime.now(UTC)
    expired = pki.ca.issue_cert(
        "localhost", not_before=now - timedelta(days=90), not_after=now - timedelta(days=2)
    )
    async with raw_server(idle, pki.server_context(expired)) as port:
        ev = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}"))
    m = measurements(ev)
    assert ev.verdict is Verdict.FAIL
    assert -2.1 < m["days_to_expiry"] < -1.9
    assert m["chain_valid"] == 0
    assert ev.detail["failures"] == [
        f"certificate expired 2.0 days ago ({expired_not_after(ev)})",
        "certificate chain is not valid: certificate has expired",
    ]


def expired_not_after(ev: NewEvidence) -> str:
    return datetime.fromisoformat(ev.detail["certificate"]["not_after"]).strftime("%Y-%m-%d %H:%M UTC")  # type: ignore[call-overload,index,arg-type]


async def test_expiry_thresholds_warn_then_fail(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    soon = pki.ca.issue_cert("localhost", not_after=datetime.now(UTC) + timedelta(days=10))
    async with raw_server(idle, pki.server_context(soon)) as port:
        warned = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}"))
        failed = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}, min_days: 14, warn_days: 30"))
        quiet = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}, min_days: null, warn_days: null"))
        by_condition = await run_yaml(
            tls_yaml(port, f"ca_file: {pki.ca_file}, warn_days: null, conditions: ['days_to_expiry > 30']")
        )
    assert warned.verdict is Verdict.WARN
    assert warned.summary.startswith("certificate expires in 9.9 days (") or warned.summary.startswith(
        "certificate expires in 10.0 days ("
    )
    assert failed.verdict is Verdict.FAIL
    assert failed.summary.endswith("min_days is 14")
    assert quiet.verdict is Verdict.PASS
    assert by_condition.verdict is Verdict.FAIL
    assert by_condition.summary.startswith("condition failed: days_to_expiry > 30 (observed ")


async def test_hostname_mismatch_fails_and_chain_is_still_judged(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    other = pki.ca.issue_cert("api.example.com", "*.internal.example.com")
    async with raw_server(idle, pki.server_context(other)) as port:
        ev = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}"))
        wildcard = await run_yaml(
            tls_yaml(port, f"ca_file: {pki.ca_file}, server_name: db.internal.example.com")
        )
        relaxed = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}, check_hostname: false"))
    m = measurements(ev)
    assert ev.verdict is Verdict.FAIL
    assert (
        ev.summary
        == "certificate does not match localhost (it names api.example.com, *.internal.example.com)"
    )
    assert (m["hostname_match"], m["chain_valid"]) == (0, 1)
    assert wildcard.verdict is Verdict.PASS, wildcard.summary
    assert wildcard.detail["server_name"] == "db.internal.example.com"
    assert relaxed.verdict is Verdict.PASS
    assert measurements(relaxed)["hostname_match"] == 0


async def test_untrusted_chain_fails(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with raw_server(idle, pki.server_context()) as port:
        system_roots = await run_yaml(tls_yaml(port))
        not_checked = await run_yaml(tls_yaml(port, "check_chain: false"))
    assert system_roots.verdict is Verdict.FAIL
    assert system_roots.summary == "certificate chain is not valid: unable to get local issuer certificate"
    assert measurements(system_roots)["chain_valid"] == 0
    assert not_checked.verdict is Verdict.PASS
    assert measurements(not_checked)["chain_valid"] == 0


async def test_protocol_below_minimum_fails(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with raw_server(idle, pki.server_context(maximum=ssl.TLSVersion.TLSv1_2)) as port:
        strict = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}, min_version: TLSv1.3"))
        default = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}"))
    assert strict.verdict is Verdict.FAIL
    assert strict.summary == "negotiated TLSv1.2, below min_version TLSv1.3"
    assert measurements(strict)["protocol_version"] == 1.2
    assert default.verdict is Verdict.PASS


async def test_a_legacy_tls_1_0_server_is_seen_and_failed(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    ctx = pki.server_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    async with raw_server(idle, ctx) as port:
        ev = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}"))
    assert ev.verdict is Verdict.FAIL
    assert measurements(ev)["protocol_version"] == 1.0
    assert ev.detail["failures"] == ["negotiated TLSv1, below min_version TLSv1.2"]
    # This client will not verify over TLS 1.0, so the chain is not judged rather than guessed.
    assert "chain_valid" not in measurements(ev)
    assert ev.detail["warnings"][0].startswith("could not verify the chain: ")


async def test_ip_address_host_sends_no_sni_and_matches_ip_san(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    seen: list[str | None] = []
    ctx = pki.server_context()
    ctx.sni_callback = lambda sock, name, _ctx: seen.append(name)  # type: ignore[assignment,func-returns-value]
    async with raw_server(idle, ctx) as port:
        ev = await run_yaml(tls_yaml(port, f"ca_file: {pki.ca_file}", host="127.0.0.1"))
    assert ev.verdict is Verdict.PASS, ev.summary
    assert measurements(ev)["hostname_match"] == 1
    assert seen == [None, None]  # two handshakes, neither with SNI


async def test_unreachable_plaintext_and_silent_targets_are_errors() -> None:
    with closed_port() as closed:
        refused = await run_yaml(tls_yaml(closed))
    async with http_target({}) as t:
        plain_port = int(t.base.rsplit(":", 1)[1])
        plaintext = await run_yaml(tls_yaml(plain_port))
    async with raw_server(hang) as port:
        silent = await run_yaml(tls_yaml(port, "timeout: 300ms"))
    assert (refused.verdict, refused.summary) == (Verdict.ERROR, f"localhost:{closed}: connection refused")
    assert plaintext.verdict is Verdict.ERROR
    assert plaintext.summary.startswith(f"localhost:{plain_port}: TLS handshake failed: ")
    assert (silent.verdict, silent.summary) == (Verdict.ERROR, "timed out after 300ms")


def test_hostname_matching_follows_rfc_6125(tmp_path: Path) -> None:
    ca = trustme.CA()
    der = ca.issue_cert("*.example.com", "exact.example.org", "10.0.0.1", "::1").cert_chain_pems[0].bytes()
    cert = CertInfo.from_der(ssl.PEM_cert_to_DER_cert(der.decode()))
    cases = {
        "a.example.com": True,
        "A.Example.COM.": True,
        "example.com": False,
        "a.b.example.com": False,
        "exact.example.org": True,
        "other.example.org": False,
        "10.0.0.1": True,
        "10.0.0.2": False,
        "::1": True,
        "[::1]": True,
    }
    assert {host: hostname_matches(cert, host) for host in cases} == cases


def test_config_errors_name_the_line() -> None:
    text = (
        "services:\n  web:\n    checks:\n"
        "      - name: cert\n"
        "        kind: tls\n"
        "        host: example.com\n"
        "        min_version: TLSv1.4\n"
        "        warn_days: -1\n"
        "        port: 0\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, "flightdeck.yaml", env={})
    assert [str(i) for i in exc.value.issues] == [
        "flightdeck.yaml:7: services.web.checks[0].min_version: must be 'TLSv1', 'TLSv1.1', 'TLSv1.2' or 'TLSv1.3'",
        "flightdeck.yaml:8: services.web.checks[0].warn_days: must be greater than or equal to 0",
        "flightdeck.yaml:9: services.web.checks[0].port: must be greater than or equal to 1",
    ]


def test_min_version_spellings() -> None:
    for spelling, expected in (("1.3", "TLSv1.3"), ("tls1.2", "TLSv1.2"), ("TLSv1", "TLSv1")):
        config = load_config_text(
            f"services:\n  w:\n    checks:\n      - {{name: c, kind: tls, host: h, min_version: '{spelling}'}}\n",
            env={},
        )
        assert config.services["w"].checks[0].min_version.value == expected  # type: ignore[attr-defined]
