"""Reconciliation at scale: 10 million internal rows vs 10 million statement rows, flightdeck's
matcher vs a plain pandas merge doing the one-to-one part, in one run.

1. ``flightdeck.payments.synth`` writes both sides as Parquet (cached under ``--cache``), with
   seeded discrepancies of every category, and the expected number of items per category.
2. A child process runs :func:`flightdeck.payments.recon.match` on the two files (DuckDB, the
   given memory limit and threads, spilling to ``--cache``) and checks the result against the
   seeded counts.
3. Another child process reads the same files with pandas and does the one-to-one match the plain
   way: an outer ``merge`` on ``reference`` with ``indicator=True``, then compares amounts and
   currencies (no split, batch, duplicates, window or fees: strictly less work).

Each child reports its own wall time (from before reading the files to the result) and peak
resident memory (``ru_maxrss``); the parent also measures the child's whole life, interpreter
start included.

    .venv/bin/python bench/recon_10m.py
    .venv/bin/python bench/recon_10m.py --rows 1000000          # quick look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 60.0
GOAL_BYTES = 4 * 1024**3

_GENERATE = """
import json, sys
from pathlib import Path
from flightdeck.payments import synth
rows, seed, directory = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
files = synth.write_parquet(rows, seed, directory)
counts = {c.value: n for c, n in files.counts.items()}
(directory / "truth.json").write_text(json.dumps(
    {"internal_rows": files.internal_rows, "statement_rows": files.statement_rows, "counts": counts}))
"""

_FLIGHTDECK = """
import json, resource, sys, time
from pathlib import Path
from flightdeck.payments import synth
from flightdeck.payments.recon import match
directory, memory_limit, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
result = match(directory / "internal.parquet", directory / "statement.parquet", synth.match_config(),
               memory_limit=memory_limit, threads=threads, temp_dir=directory)
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "counts": {c.value: s.items for c, s in result.summary.items()},
    "exceptions": len(result.exceptions),
    "engine": result.engine,
}))
"""

_PANDAS = """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
directory = Path(sys.argv[1])
start = time.perf_counter()
cols = ["reference", "amount_minor", "currency"]
left = pd.read_parquet(directory / "internal.parquet", columns=cols)
right = pd.read_parquet(directory / "statement.parquet", columns=cols)
merged = left.merge(right, on="reference", how="outer", suffixes=("_i", "_s"), indicator=True)
both = merged["_merge"] == "both"
same_amount = merged["amount_minor_i"] == merged["amount_minor_s"]
same = both & same_amount & (merged["currency_i"] == merged["currency_s"])
counts = {
    "matched": int(same.sum()),
    "amount_mismatch": int((both & ~same).sum()),
    "missing_in_statement": int((merged["_merge"] == "left_only").sum()),
    "missing_internally": int((merged["_merge"] == "right_only").sum()),
}
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "counts": counts,
    "engine": f"pandas {pd.__version__}",
}))
"""


def child(code: str, *args: str) -> tuple[dict[str, object], float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def gib(n: object) -> str:
    return f"{float(n) / 1024**3:.2f} GiB"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="internal rows (the statement is as large)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/flightdeck-recon-bench"))
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit (it spills beyond)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()

    directory = args.cache / f"n{args.rows}-s{args.seed}"
    truth_file = directory / "truth.json"
    if not truth_file.exists():
        print(f"generating {args.rows:,} + {args.rows:,} rows into {directory} ...", flush=True)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _GENERATE, str(args.rows), str(args.seed), str(directory)],
            cwd=ROOT,
            check=True,
        )
        print(f"  generated in {time.perf_counter() - start:.1f}s", flush=True)
    truth = json.loads(truth_file.read_text())
    expected = {k: int(v) for k, v in truth["counts"].items()}
    print(
        f"inputs: {truth['internal_rows']:,} internal rows, {truth['statement_rows']:,} statement rows "
        f"(Parquet, {sum(p.stat().st_size for p in directory.glob('*.parquet')) / 1024**2:.0f} MiB)"
    )

    fd, fd_wall = child(_FLIGHTDECK, str(directory), args.memory_limit, str(args.threads))
    counts = {k: int(v) for k, v in fd["counts"].items()}  # type: ignore[union-attr]
    exact = all(counts.get(k, 0) == v for k, v in expected.items()) and sum(counts.values()) == sum(
        expected.values()
    )
    rows = [("flightdeck", fd, fd_wall)]
    if not args.skip_pandas:
        pd_result, pd_wall = child(_PANDAS, str(directory))
        rows.append(("pandas merge", pd_result, pd_wall))

    print()
    print(f"{'':14} {'engine':16} {'match s':>8} {'process s':>10} {'peak RSS':>10}")
    for name, result, wall in rows:
        print(
            f"{name:14} {result['engine']!s:16} {float(result['seconds']):8.1f} {wall:10.1f} "  # type: ignore[arg-type]
            f"{gib(result['maxrss_bytes']):>10}"
        )
    print()
    print(f"flightdeck items per category: {counts}")
    print(f"seeded truth:                  {expected}")
    print(f"flightdeck equals the seeded truth: {'yes' if exact else 'NO'}")
    if not args.skip_pandas:
        pd_result = rows[1][1]
        print(f"pandas one-to-one counts:      {pd_result['counts']}")
        ratio = float(fd["seconds"]) / float(pd_result["seconds"])  # type: ignore[arg-type]
        mem = float(fd["maxrss_bytes"]) / float(pd_result["maxrss_bytes"])  # type: ignore[arg-type]
        print(f"flightdeck / pandas: time x{ratio:.2f}, peak memory x{mem:.2f}")
    ok_time = float(fd["seconds"]) <= GOAL_SECONDS  # type: ignore[arg-type]
    ok_mem = float(fd["maxrss_bytes"]) <= GOAL_BYTES  # type: ignore[arg-type]
    print(
        f"goal (<= {GOAL_SECONDS:.0f} s, <= {gib(GOAL_BYTES)}): time {'met' if ok_time else 'MISSED'}, "
        f"memory {'met' if ok_mem else 'MISSED'}"
    )
    print(f"machine: {_cpus()} CPUs, load average {_load()}")
    print(f"command: {' '.join(['.venv/bin/python', 'bench/recon_10m.py', *sys.argv[1:]])}")


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
