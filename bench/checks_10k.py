"""10,000 HTTP checks at a 60 s interval: flightdeck vs Prometheus blackbox_exporter, in one run.

Both probe the same nginx ``/health`` on 127.0.0.1 at the same rate, at the same time:

* flightdeck: ``flightdeck serve`` with N ``http`` checks (interval 60 s, default store: SQLite);
* blackbox_exporter driven the way users run it: Debian ``prometheus`` scraping N probe targets
  through it every 60 s.

Measured over a window after a warm-up: achieved probes/s (from nginx's access log, the same
yardstick for both), CPU per probe (user + system from /proc of each process), resident memory,
flightdeck's start lateness (actual start − slot, from its evidence) and, for both, how far the
time between two probes of one target strays from 60 s.

Run (about five minutes)::

    .venv/bin/python bench/checks_10k.py
    .venv/bin/python bench/checks_10k.py --checks 2000 --warmup 30 --duration 60   # quick look

Needs ``nginx``, ``prometheus`` and ``prometheus-blackbox-exporter`` (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from flightdeck.engine.schedule import phase_for
from flightdeck.store.tables import evidence
from harness import CLK_TCK, CpuSample, Nginx, cpu_sample, cpu_tree_sample, free_port, stop, wait_http

ROOT = Path(__file__).resolve().parents[1]
PER_SERVICE = 100
_EPS = 0.01


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[str]
    tree: bool = False

    def sample(self) -> CpuSample:
        return (cpu_tree_sample if self.tree else cpu_sample)(self.popen.pid)


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def flightdeck_config(directory: Path, target: str, n: int, interval: int, store_url: str | None) -> Path:
    lines = ["store:\n"]
    lines.append(f"  url: {store_url}\n" if store_url else f"  state_dir: {directory / 'state'}\n")
    lines.append("services:\n")
    for s in range(math.ceil(n / PER_SERVICE)):
        lines.append(f"  svc{s:03d}:\n    checks:\n")
        for c in range(s * PER_SERVICE, min(n, (s + 1) * PER_SERVICE)):
            url = f"{target}/health?fd={c}"
            lines.append(f"      - {{name: c{c:05d}, kind: http, url: '{url}', interval: {interval}s}}\n")
    path = directory / "flightdeck.yaml"
    path.write_text("".join(lines))
    return path


def start_flightdeck(config: Path, directory: Path) -> tuple[Proc, dict[str, object]]:
    flightdeck = ROOT / ".venv" / "bin" / "flightdeck"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLIGHTDECK_")}
    popen = subprocess.Popen(
        [str(flightdeck), "serve", "-c", str(config), "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=open(directory / "flightdeck.log", "w"),  # noqa: SIM115
        text=True,
        env=env,
    )
    assert popen.stdout is not None
    line = popen.stdout.readline()
    if not line:
        raise RuntimeError(f"flightdeck serve exited: {(directory / 'flightdeck.log').read_text()[-2000:]}")
    return Proc("flightdeck", popen, tree=True), json.loads(line)  # + its maintenance worker


def start_blackbox(directory: Path, n: int, interval: int, target: str) -> tuple[Proc, Proc, str]:
    bb_port, prom_port = free_port(), free_port()
    (directory / "blackbox.yml").write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n"
        "      valid_status_codes: [200]\n      preferred_ip_protocol: ip4\n"
    )
    targets = "\n".join(f"          - '{target}/health?bb={i}'" for i in range(n))
    (directory / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: {interval}s\n  scrape_timeout: 10s\n"
        "scrape_configs:\n  - job_name: blackbox\n    metrics_path: /probe\n"
        "    params:\n      module: [http_2xx]\n"
        f"    static_configs:\n      - targets:\n{targets}\n"
        "    relabel_configs:\n"
        "      - source_labels: [__address__]\n        target_label: __param_target\n"
        "      - source_labels: [__param_target]\n        target_label: instance\n"
        f"      - target_label: __address__\n        replacement: 127.0.0.1:{bb_port}\n"
    )
    bb = subprocess.Popen(
        [
            shutil.which("prometheus-blackbox-exporter") or "/usr/bin/prometheus-blackbox-exporter",
            f"--config.file={directory / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{bb_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "blackbox.log", "w"),  # noqa: SIM115
        text=True,
    )
    wait_http(f"http://127.0.0.1:{bb_port}/metrics")
    prom = subprocess.Popen(
        [
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "prometheus.log", "w"),  # noqa: SIM115
        text=True,
    )
    prom_url = f"http://127.0.0.1:{prom_port}"
    wait_http(prom_url + "/-/ready", 120)
    return Proc("blackbox_exporter", bb), Proc("prometheus", prom), prom_url


def read_access_log(path: Path) -> dict[str, dict[str, list[float]]]:
    """{'flightdeck'|'blackbox': {uri: [request times]}} for the whole run; callers cut the window."""
    out: dict[str, dict[str, list[float]]] = {"flightdeck": defaultdict(list), "blackbox": defaultdict(list)}
    with path.open() as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            at, agent, uri = float(parts[0]), parts[1], parts[2]
            who = (
                "flightdeck"
                if agent.startswith("flightdeck")
                else "blackbox"
                if "Blackbox" in agent
                else None
            )
            if who is not None:
                out[who][uri].append(at)
    return out


def interval_deviation(
    times_by_uri: dict[str, list[float]], interval: int, t0: float, t1: float
) -> list[float]:
    """|time between consecutive probes of one target − interval|, for probes inside the window."""
    devs: list[float] = []
    for times in times_by_uri.values():
        inside = sorted(t for t in times if t0 <= t < t1)
        devs += [abs(b - a - interval) for a, b in itertools.pairwise(inside)]
    return devs


def prometheus_interval_quantiles(prom_url: str) -> dict[str, float]:
    with urllib.request.urlopen(prom_url + "/metrics", timeout=10) as resp:  # noqa: S310 - loopback
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("prometheus_target_interval_length_seconds{") and "quantile" in line:
            q = line.split('quantile="')[1].split('"')[0]
            out[q] = float(line.rsplit(" ", 1)[1])
    return out


def flightdeck_lateness(
    store_url: str, interval: int, t0: float, t1: float
) -> tuple[list[float], Counter[str]]:
    engine = create_engine(store_url)
    start = datetime.fromtimestamp(t0, UTC)
    end = datetime.fromtimestamp(t1, UTC)
    late: list[float] = []
    verdicts: Counter[str] = Counter()
    phases: dict[str, float] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(evidence.c.subject, evidence.c.started_at, evidence.c.verdict).where(
                evidence.c.started_at >= start, evidence.c.started_at < end
            )
        )
        for subject, started, verdict in rows:
            phase = phases.get(subject)
            if phase is None:
                phase = phases[subject] = phase_for(subject, interval)
            # Runs start at or after their slot; the epsilon keeps a start a few microseconds after
            # its slot (float rounding of timestamps) from being read as a start one slot late.
            late.append((started.timestamp() - phase + _EPS) % interval - _EPS)
            verdicts[str(verdict)] += 1
    engine.dispose()
    return late, verdicts


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, load average over 1 minute)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    busy = (sum(fields[:8]) - idle) / CLK_TCK
    return busy, float(Path("/proc/loadavg").read_text().split()[0])


def row(label: str, flightdeck: str, blackbox: str = "—") -> str:
    return f"| {label} | {flightdeck} | {blackbox} |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--warmup", type=float, default=75, help="seconds before measuring")
    ap.add_argument("--duration", type=float, default=180, help="seconds measured")
    ap.add_argument("--store", default=None, help="store URL (default: SQLite in the temporary directory)")
    ap.add_argument("--no-blackbox", action="store_true", help="measure flightdeck alone")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    command = ".venv/bin/python bench/checks_10k.py" + (
        " " + shlex.join(sys.argv[1:]) if sys.argv[1:] else ""
    )

    directory = Path(tempfile.mkdtemp(prefix="flightdeck-bench-"))
    procs: list[Proc] = []
    nginx = Nginx(directory / "nginx").start()
    prom_url = None
    try:
        if not args.no_blackbox:
            bb, prom, prom_url = start_blackbox(directory, args.checks, args.interval, nginx.url)
            procs += [bb, prom]
        cfg = flightdeck_config(directory, nginx.url, args.checks, args.interval, args.store)
        t_launch = time.monotonic()
        fd, listening = start_flightdeck(cfg, directory)
        procs.insert(0, fd)
        startup = time.monotonic() - t_launch
        print(
            f"flightdeck: {listening['checks']} checks, {listening['url']}, ready after {startup:.1f}s",
            flush=True,
        )
        assert nginx.proc is not None
        procs.append(Proc("nginx", nginx.proc, tree=True))
        time.sleep(args.warmup)
        before = {p.name: p.sample() for p in procs}
        busy0, load0 = machine_busy()
        t0 = time.time()
        time.sleep(args.duration)
        t1 = time.time()
        after = {p.name: p.sample() for p in procs}
        busy1, load1 = machine_busy()
        prom_q = prometheus_interval_quantiles(prom_url) if prom_url else {}
        t_stop = time.monotonic()
        code = stop(fd.popen, 120)
        drain = time.monotonic() - t_stop
    finally:
        for p in procs:
            if p.name != "nginx":
                stop(p.popen)
        time.sleep(1.5)  # nginx flushes its access-log buffer every second
        nginx.stop()

    window = t1 - t0
    hits = read_access_log(nginx.access_log)
    store_url = args.store or f"sqlite:///{directory / 'state' / 'flightdeck.db'}"
    if store_url.startswith("postgresql://"):
        store_url = store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    late, verdicts = flightdeck_lateness(store_url, args.interval, t0, t1)

    def rate(who: str) -> float:
        return sum(1 for ts in hits[who].values() for t in ts if t0 <= t < t1) / window

    def cpu(name: str) -> float:
        return after[name].cpu_seconds - before[name].cpu_seconds

    def mib(name: str) -> str:
        return f"{after[name].rss_bytes / 2**20:.0f}"

    ours = sum(cpu(p.name) for p in procs)
    others = max(0.0, (busy1 - busy0) - ours) / window
    fd_probes = rate("flightdeck") * window
    fd_ms = 1000 * cpu("flightdeck") / max(1, fd_probes)
    fd_dev = interval_deviation(hits["flightdeck"], args.interval, t0, t1)
    lines = [
        f"{args.checks} HTTP checks every {args.interval} s; measured for {window:.0f} s after a "
        f"{args.warmup:.0f} s warm-up; {os.cpu_count()} cores; load average {load0:.1f} → {load1:.1f}; "
        f"other processes used {others:.2f} cores meanwhile.",
        f"Command: `{command}`",
        "",
        "| | flightdeck | blackbox_exporter + Prometheus |",
        "|---|---|---|",
    ]
    bb_rate = rate("blackbox") if prom_url else math.nan
    lines.append(
        row(
            "target rate (probes/s)",
            f"{args.checks / args.interval:.1f}",
            f"{args.checks / args.interval:.1f}",
        )
    )
    lines.append(row("achieved (probes/s, from nginx's log)", f"{rate('flightdeck'):.1f}", f"{bb_rate:.1f}"))
    lines.append(row("evidence records written (/s)", f"{len(late) / window:.1f}"))
    if prom_url:
        bb_probes = bb_rate * window
        bb_ms = 1000 * cpu("blackbox_exporter") / max(1, bb_probes)
        prom_ms = 1000 * cpu("prometheus") / max(1, bb_probes)
        lines.append(
            row("CPU per probe (ms)", f"{fd_ms:.2f}", f"{bb_ms:.2f} + {prom_ms:.2f} = {bb_ms + prom_ms:.2f}")
        )
        lines.append(
            row(
                "CPU used (cores)",
                f"{cpu('flightdeck') / window:.3f}",
                f"{cpu('blackbox_exporter') / window:.3f} + {cpu('prometheus') / window:.3f}",
            )
        )
        lines.append(
            row(
                "resident memory (MiB)",
                mib("flightdeck"),
                f"{mib('blackbox_exporter')} + {mib('prometheus')}",
            )
        )
        bb_dev = interval_deviation(hits["blackbox"], args.interval, t0, t1)
        lines.append(
            row(
                "p99 deviation of a target's probe interval from 60 s (s)",
                f"{pct(fd_dev, 0.99):.3f}",
                f"{pct(bb_dev, 0.99):.3f}",
            )
        )
        q = prom_q.get("0.99")
        lines.append(
            row("Prometheus' own p99 scrape interval (s)", "", f"{q:.3f}" if q is not None else "n/a")
        )
        lines.append(
            row(
                "CPU per probe, ratio to flightdeck",
                "1",
                f"{bb_ms / fd_ms:.2f} (exporter alone), {(bb_ms + prom_ms) / fd_ms:.2f} (with Prometheus)",
            )
        )
    else:
        lines.append(row("CPU per probe (ms)", f"{fd_ms:.2f}"))
        lines.append(row("CPU used (cores)", f"{cpu('flightdeck') / window:.3f}"))
        lines.append(row("resident memory (MiB)", mib("flightdeck")))
        lines.append(
            row("p99 deviation of a target's probe interval from 60 s (s)", f"{pct(fd_dev, 0.99):.3f}")
        )
    lines.append(
        row(
            "start lateness p50 / p99 / max (s)",
            f"{pct(late, 0.5):.3f} / {pct(late, 0.99):.3f} / {max(late, default=math.nan):.3f}",
        )
    )
    lines.append(row("nginx CPU (cores, both probers)", f"{cpu('nginx') / window:.3f}", ""))
    lines += [
        "",
        f"flightdeck: ready {startup:.1f} s after launch; verdicts in the window {dict(verdicts)}; "
        f"SIGTERM → exit {code} after {drain:.1f} s.",
        f"p99 start lateness goal (< 1 s): {'met' if pct(late, 0.99) < 1 else 'MISSED'}.",
    ]
    print()
    print("\n".join(lines))
    if args.keep:
        print(f"\nfiles kept in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return 0 if code == 0 and late else 1


if __name__ == "__main__":
    sys.exit(main())
