"""Imports every built-in check kind so that each registers itself. One import per kind, sorted."""

from flightdeck.checks import headers, http, metrics, mysql, postgres, ratelimit, redis, sql, tcp, tls

__all__ = ["headers", "http", "metrics", "mysql", "postgres", "ratelimit", "redis", "sql", "tcp", "tls"]
