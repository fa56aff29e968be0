"""The scheduler's Prometheus metrics, in a registry of their own (served at ``/metrics``).

=====================================================  =========  ====================================
metric                                                 type       labels
=====================================================  =========  ====================================
``flightdeck_check_runs_total``                        counter    service, check, verdict
``flightdeck_check_duration_seconds``                  histogram  service, kind
``flightdeck_scheduler_start_lateness_seconds``        histogram  (none) — "scheduler lag"
``flightdeck_scheduler_in_flight``                     gauge      (none)
``flightdeck_scheduler_last_tick_timestamp_seconds``   gauge      (none)
``flightdeck_scheduler_catch_up_runs_total``           counter    (none)
``flightdeck_scheduler_skipped_slots_total``           counter    (none)
``flightdeck_scheduler_leases_lost_total``             counter    (none)
``flightdeck_scheduler_errors_total``                  counter    stage
``flightdeck_evidence_written_total``                  counter    (none)
``flightdeck_evidence_write_seconds``                  histogram  (none)
``flightdeck_maintenance_runs_total``                  counter    outcome
=====================================================  =========  ====================================

The duration histogram is labelled by service and kind, not by check, so that 10,000 checks do
not make 10,000 histograms.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from flightdeck.evidence import NewEvidence

__all__ = ["SchedulerMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class SchedulerMetrics:
    """Counters, gauges and histograms of one flightdeck process. ``registry`` is what ``/metrics``
    exposes; nothing is registered in prometheus_client's global registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.check_runs = Counter(
            "flightdeck_check_runs",
            "Scheduled check runs, by outcome",
            ["service", "check", "verdict"],
            registry=r,
        )
        self.check_duration = Histogram(
            "flightdeck_check_duration_seconds",
            "How long a check run took",
            ["service", "kind"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.start_lateness = Histogram(
            "flightdeck_scheduler_start_lateness_seconds",
            "How late a scheduled run started after it was due (scheduler lag)",
            buckets=_LATENESS_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("flightdeck_scheduler_in_flight", "Check runs in progress", registry=r)
        self.last_tick = Gauge(
            "flightdeck_scheduler_last_tick_timestamp_seconds",
            "Unix time of the scheduler's last pass over due checks",
            registry=r,
        )
        self.catch_up_runs = Counter(
            "flightdeck_scheduler_catch_up_runs",
            "Runs made once for slots missed while no scheduler ran the check",
            registry=r,
        )
        self.skipped_slots = Counter(
            "flightdeck_scheduler_skipped_slots",
            "Slots not run because they were missed and the check's catch_up is skip",
            registry=r,
        )
        self.leases_lost = Counter(
            "flightdeck_scheduler_leases_lost",
            "Runs that finished after their lease had expired (their state was not updated)",
            registry=r,
        )
        self.errors = Counter(
            "flightdeck_scheduler_errors",
            "Errors the scheduler survived, by stage",
            ["stage"],
            registry=r,
        )
        self.evidence_written = Counter(
            "flightdeck_evidence_written", "Evidence records written by the scheduler", registry=r
        )
        self.write_seconds = Histogram(
            "flightdeck_evidence_write_seconds",
            "Time to write one batch of evidence and state",
            buckets=_WRITE_BUCKETS,
            registry=r,
        )
        self.maintenance_runs = Counter(
            "flightdeck_maintenance_runs",
            "Periodic rollup and retention passes, by outcome",
            ["outcome"],
            registry=r,
        )

    def observe_run(self, record: NewEvidence) -> None:
        self.check_runs.labels(record.service, record.check, record.verdict.value).inc()
        self.check_duration.labels(record.service, record.kind).observe(record.duration_ms / 1000.0)
