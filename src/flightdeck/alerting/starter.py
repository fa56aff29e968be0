"""The starter rule pack: the alerts a payments launch plan asks for, on by default
(``alerting.starter_rules: true``). A rule of yours with the same name replaces the starter rule;
``enabled: false`` on it switches the starter rule off.

=========================  ========  ===========================================================
rule                       severity  when
=========================  ========  ===========================================================
``app-down``               P1        an ``http`` or ``tcp`` check fails 3 runs in a row
``payment-failures``       P1        a payments signal check fails 2 runs in a row
``payment-failures-warn``  P2        a payments signal check warns 2 runs in a row
``db-latency``             P2        p95 of ``ping_ms`` of a postgres/mysql check over 10 min > 150
``db-query-latency``       P2        avg of ``db_query_p95_ms`` (metrics, db preset) over 10 min > 150
``db-connections``         P2        avg ``connections_used_pct`` (postgres/mysql) over 5 min > 80
``db-pool-saturation``     P2        avg ``db_pool_used_pct`` (metrics, db preset) over 5 min > 80
``high-memory``            P2        avg ``memory_used_pct`` (redis, metrics) over 10 min > 90
``reconciliation-failed``  P3        a reconciliation check fails or errors
``wallet-mismatch``        P1        a wallets check (or a check named like ``*wallet*``) fails
=========================  ========  ===========================================================

A *payments signal check* is a check whose name contains ``payment`` (``failed-payments-1h``,
``stuck-payments``) or that is labelled ``signal: payments``; its own conditions are the threshold
(a ``warn`` condition gives the P2, a failing condition the P1).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from flightdeck.config.alerting import AlertingConfig, AlertRule

__all__ = ["RUNBOOK_BASE", "STARTER_RULES", "effective_rules", "starter_rules"]

RUNBOOK_BASE = "https://flightdeck.example/runbooks/"

_RAW: dict[str, dict[str, Any]] = {
    "app-down": {
        "type": "check_failing",
        "check_kind": ["http", "tcp"],
        "consecutive": 3,
        "severity": "P1",
        "summary": (
            "{{ service }} down: {{ check }} failing for {{ consecutive }} consecutive runs: "
            "{{ evidence_summary }}"
        ),
    },
    "payment-failures": {
        "type": "check_failing",
        "check_name": "*payment*",
        "check_labels": {"signal": "payments"},
        "verdicts": ["fail"],
        "consecutive": 2,
        "severity": "P1",
        "summary": (
            "{{ service }} payment failures: {{ check }} failing for {{ consecutive }} runs: "
            "{{ evidence_summary }}"
        ),
    },
    "payment-failures-warn": {
        "type": "check_failing",
        "check_name": "*payment*",
        "check_labels": {"signal": "payments"},
        "verdicts": ["warn"],
        "consecutive": 2,
        "severity": "P2",
        "summary": "{{ service }} payment failures rising: {{ check }}: {{ evidence_summary }}",
    },
    "db-latency": {
        "type": "threshold",
        "check_kind": ["postgres", "mysql"],
        "measurement": "ping_ms",
        "aggregate": "p95",
        "window": "10m",
        "op": ">",
        "value": 150,
        "min_samples": 3,
        "severity": "P2",
        "summary": "{{ service }} database latency: p95 {{ value }} ms over {{ window }} (> {{ threshold }})",
    },
    "db-query-latency": {
        "type": "threshold",
        "check_kind": "metrics",
        "measurement": "db_query_p95_ms",
        "aggregate": "avg",
        "window": "10m",
        "op": ">",
        "value": 150,
        "min_samples": 3,
        "severity": "P2",
        "summary": "{{ service }} DB query p95 {{ value }} ms over {{ window }} (> {{ threshold }})",
    },
    "db-connections": {
        "type": "threshold",
        "check_kind": ["postgres", "mysql"],
        "measurement": "connections_used_pct",
        "aggregate": "avg",
        "window": "5m",
        "op": ">",
        "value": 80,
        "severity": "P2",
        "summary": "{{ service }} database connections {{ value }}% used (limit {{ threshold }}%)",
    },
    "db-pool-saturation": {
        "type": "threshold",
        "check_kind": "metrics",
        "measurement": "db_pool_used_pct",
        "aggregate": "avg",
        "window": "5m",
        "op": ">",
        "value": 80,
        "severity": "P2",
        "summary": "{{ service }} connection pool {{ value }}% in use (limit {{ threshold }}%)",
    },
    "high-memory": {
        "type": "threshold",
        "check_kind": ["redis", "metrics"],
        "measurement": "memory_used_pct",
        "aggregate": "avg",
        "window": "10m",
        "op": ">",
        "value": 90,
        "min_samples": 2,
        "severity": "P2",
        "summary": "{{ service }} memory {{ value }}% used over {{ window }} (limit {{ threshold }}%)",
    },
    "reconciliation-failed": {
        "type": "check_failing",
        "check_kind": "reconciliation",
        "check_name": "*recon*",
        "consecutive": 1,
        "severity": "P3",
        "summary": "{{ service }} reconciliation failed: {{ evidence_summary }}",
    },
    "wallet-mismatch": {
        "type": "check_failing",
        "check_kind": "wallets",
        "check_name": "*wallet*",
        "verdicts": ["fail"],
        "consecutive": 1,
        "severity": "P1",
        "summary": "{{ service }} wallet mismatch: {{ check }}: {{ evidence_summary }}",
    },
}

for _name, _raw in _RAW.items():
    _raw.setdefault("runbook", f"{RUNBOOK_BASE}{_name}")

_ADAPTER: TypeAdapter[AlertRule] = TypeAdapter(AlertRule)

STARTER_RULES: dict[str, AlertRule] = {name: _ADAPTER.validate_python(raw) for name, raw in _RAW.items()}


def starter_rules() -> dict[str, AlertRule]:
    """The starter pack, by rule name."""
    return dict(STARTER_RULES)


def effective_rules(config: AlertingConfig) -> dict[str, AlertRule]:
    """The rules in force: yours, plus the starter pack's that you did not name; disabled ones left out."""
    rules: dict[str, AlertRule] = {}
    if config.starter_rules:
        rules.update(STARTER_RULES)
    rules.update(config.rules)
    return {name: rule for name, rule in rules.items() if rule.enabled}
