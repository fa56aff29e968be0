"""Evidence for store tests: deterministic, varied records written through the real store API."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from flightdeck.evidence import Measurement, NewEvidence, Verdict
from flightdeck.store import Store, insert_evidence

VERDICTS = [Verdict.PASS] * 6 + [Verdict.WARN, Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN]


def record(
    subject: str,
    finished_at: datetime,
    verdict: Verdict = Verdict.PASS,
    duration_ms: float = 10.0,
    measurements: Sequence[tuple[str, float]] = (),
) -> NewEvidence:
    service, _, check = subject.partition("/")
    return NewEvidence(
        subject=subject,
        service=service,
        check=check or "check",
        kind="tcp",
        config_digest="0" * 64,
        started_at=finished_at - timedelta(milliseconds=duration_ms),
        finished_at=finished_at,
        verdict=verdict,
        duration_ms=duration_ms,
        measurements=tuple(Measurement(name=n, value=v, unit="") for n, v in measurements),
    )


def random_records(
    subjects: Sequence[str], start: datetime, end: datetime, every: timedelta, seed: int = 1
) -> list[NewEvidence]:
    """One record per subject every ``every`` (with a few seconds of jitter), varied verdicts,
    log-normal durations, and a measurement that only some records carry."""
    rng = random.Random(seed)
    out: list[NewEvidence] = []
    t = start
    while t < end:
        for subject in subjects:
            when = t + timedelta(seconds=rng.uniform(0, min(every.total_seconds(), 50)))
            if when >= end:
                continue
            duration = rng.lognormvariate(3.5, 0.8)
            extra = [("connect_ms", round(duration * 0.4, 3))]
            if rng.random() < 0.5:
                extra.append(("body_bytes", float(rng.randint(100, 5000))))
            out.append(record(subject, when, rng.choice(VERDICTS), duration, extra))
        t += every
    return out


def write(store: Store, records: Iterable[NewEvidence]) -> list[int]:
    batch = list(records)
    ids: list[int] = []
    with store.engine.begin() as conn:
        for i in range(0, len(batch), 2000):
            ids += insert_evidence(conn, batch[i : i + 2000])
    return ids
