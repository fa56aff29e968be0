"""A local target service for the cockpit tests: ``/health`` and a Prometheus ``/metrics``.

A stdlib threaded HTTP server on 127.0.0.1, port 0, so it keeps answering while synchronous test
code (and a browser) runs. ``healthy`` switches ``/health`` between 200 and 503; every scrape of
``/metrics`` advances its counters as if real traffic had been served.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class TargetState:
    healthy: bool = True
    requests_ok: int = 0
    requests_5xx: int = 0
    cpu_seconds: float = 0.0
    scrapes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def exposition(self) -> str:
        with self.lock:
            self.scrapes += 1
            n = self.scrapes
            self.requests_ok += 600 + 37 * (n % 5)
            self.requests_5xx += 0 if self.healthy else 40
            self.cpu_seconds += 12.5 + (n % 3)
            ok, bad, cpu = self.requests_ok, self.requests_5xx, self.cpu_seconds
        total = ok + bad
        fast, mid = int(total * 0.7), int(total * 0.95)
        return (
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{status="200"}} {ok}\n'
            f'http_requests_total{{status="503"}} {bad}\n'
            "# TYPE http_request_duration_seconds histogram\n"
            f'http_request_duration_seconds_bucket{{le="0.05"}} {fast}\n'
            f'http_request_duration_seconds_bucket{{le="0.25"}} {mid}\n'
            f'http_request_duration_seconds_bucket{{le="1"}} {total}\n'
            f'http_request_duration_seconds_bucket{{le="+Inf"}} {total}\n'
            f"http_request_duration_seconds_count {total}\n"
            f"http_request_duration_seconds_sum {total * 0.04:.3f}\n"
            "# TYPE process_cpu_seconds_total counter\n"
            f"process_cpu_seconds_total {cpu:.3f}\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            f"process_resident_memory_bytes {180_000_000 + 1_000_000 * (n % 7)}\n"
        )


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    state: TargetState

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


def _handler(state: TargetState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                ok = state.healthy
                body = json.dumps({"status": "pass" if ok else "fail"}).encode()
                self._send(200 if ok else 503, "application/json", body)
            elif self.path == "/metrics":
                self._send(200, "text/plain; version=0.0.4", state.exposition().encode())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_target() -> Iterator[Target]:
    state = TargetState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="web-test-target", daemon=True)
    thread.start()
    try:
        yield Target("127.0.0.1", int(server.server_address[1]), state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
