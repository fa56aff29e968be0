"""Helpers for benchmarks: free ports, processes' CPU from /proc, an nginx target, waiting for HTTP.

Everything binds to 127.0.0.1 and runs from a temporary directory; nothing needs root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.monotonic()
    cpu_seconds: float  # user + system, all threads
    rss_bytes: int


def cpu_sample(pid: int) -> CpuSample:
    """User + system CPU seconds of a process (all its threads) and its resident memory."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    rss_pages = int(fields[21])
    return CpuSample(time.monotonic(), (utime + stime) / CLK_TCK, rss_pages * os.sysconf("SC_PAGE_SIZE"))


def cpu_tree_sample(pid: int) -> CpuSample:
    """Like :func:`cpu_sample`, summed over the process and its live children (nginx's workers,
    flightdeck's maintenance worker)."""
    pids = {pid}
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        pids |= {int(p) for p in children.read_text().split()}
    samples = [cpu_sample(p) for p in sorted(pids) if Path(f"/proc/{p}").exists()]
    return CpuSample(time.monotonic(), sum(s.cpu_seconds for s in samples), sum(s.rss_bytes for s in samples))


def wait_http(url: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
                if resp.status < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > end:
            raise RuntimeError(f"{url} did not answer within {timeout:g}s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout)


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format bench '$msec\\t$http_user_agent\\t$request_uri';
    access_log {dir}/access.log bench buffer=256k flush=1s;
    server {{
        listen 127.0.0.1:{port};
        location = /health {{
            default_type text/plain;
            return 200 "ok\\n";
        }}
    }}
}}
"""


class Nginx:
    """nginx serving ``GET /health`` → ``200 ok`` on 127.0.0.1, logging every request with its
    time, user agent and URI to ``access.log``."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.dir / "access.log"

    def start(self) -> Nginx:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(self.dir), "-e", str(self.dir / "nginx-error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(self.url + "/health", 15)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
