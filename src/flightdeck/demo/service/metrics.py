"""The payments service's Prometheus metrics, each app with a registry of its own."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

__all__ = ["ServiceMetrics"]

_DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """Every series the service exposes on ``/metrics``.

    ``http_requests_total{method,route,status}`` and ``http_request_duration_seconds{method,route}``
    describe the traffic (``route`` is the route template, ``/api/payments/{id}``, never a raw path);
    ``db_query_duration_seconds{operation}`` and ``db_pool_in_use_connections`` the database;
    ``payments_total{kind,status}``, ``bookings_total``, ``signups_total`` and ``logins_total{outcome}``
    the business; ``demo_fault_active{fault}`` the injected faults; ``process_*`` the process.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"], registry=r
        )
        self.db_query_duration = Histogram(
            "db_query_duration_seconds",
            "Time spent in one database statement",
            ["operation"],
            buckets=_DB_BUCKETS,
            registry=r,
        )
        self.db_pool_in_use = Gauge(
            "db_pool_in_use_connections", "Database connections checked out of the pool", registry=r
        )
        self.db_pool_size = Gauge("db_pool_size_connections", "Database connections in the pool", registry=r)
        self.payments = Counter(
            "payments_total", "Payments by kind and status reached", ["kind", "status"], registry=r
        )
        self.bookings = Counter("bookings_total", "Bookings made", registry=r)
        self.signups = Counter("signups_total", "Users signed up", registry=r)
        self.logins = Counter("logins_total", "Login attempts by outcome", ["outcome"], registry=r)
        self.fault_active = Gauge(
            "demo_fault_active", "1 while an injected fault is active", ["fault"], registry=r
        )
