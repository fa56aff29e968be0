"""The disaster-recovery drill API, ``/api/v1/drills``: the latest result of each drill, and one drill.

Viewers read. Results come from the drills' evidence records (kind ``dr_drill``), scrubbed of every
configured secret like any other evidence.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from flightdeck.backups.drill_result import DrillResult
from flightdeck.evidence import Verdict
from flightdeck.web.auth import ViewerDep
from flightdeck.web.backups import configured_drills, drill_history, drill_names, load_drill
from flightdeck.web.context import get_context
from flightdeck.web.schemas import ErrorOut

__all__ = ["DrillLatestOut", "router"]

router = APIRouter(
    prefix="/api/v1/drills",
    tags=["drills"],
    responses={
        401: {"model": ErrorOut, "description": "no valid token or session"},
        403: {"model": ErrorOut, "description": "the role does not allow it"},
    },
)


class DrillLatestOut(BaseModel):
    """A drill and its latest result (all ``null`` when it never ran). Durations are in seconds."""

    name: str
    configured: bool
    evidence_id: int | None = None
    verdict: Verdict | None = None
    passed: bool | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    backup_id: str | None = None
    rto_seconds: float | None = None
    rto_target_seconds: float | None = None
    rto_met: bool | None = None
    rpo_seconds: float | None = None
    rpo_target_seconds: float | None = None
    rpo_met: bool | None = None
    failures: list[str] = []


@router.get("", response_model=list[DrillLatestOut], summary="Every drill with its latest result")
def drills(request: Request, _: ViewerDep) -> list[DrillLatestOut]:
    ctx = get_context(request)
    configured = configured_drills(ctx)
    out = []
    for name in drill_names(ctx):
        latest = drill_history(ctx, name, limit=1)
        if not latest:
            out.append(DrillLatestOut(name=name, configured=name in configured))
            continue
        record, d = latest[0]
        out.append(
            DrillLatestOut(
                name=name,
                configured=name in configured,
                evidence_id=record.id,
                verdict=record.verdict,
                passed=d.passed,
                started_at=d.started_at,
                finished_at=d.finished_at,
                backup_id=d.backup_id,
                rto_seconds=d.rto_seconds,
                rto_target_seconds=d.rto_target_seconds,
                rto_met=d.rto_met,
                rpo_seconds=d.rpo_seconds,
                rpo_target_seconds=d.rpo_target_seconds,
                rpo_met=d.rpo_met,
                failures=d.failures,
            )
        )
    return out


@router.get(
    "/{evidence_id}",
    response_model=DrillResult,
    summary="One drill's full result: steps, phases, verifications, tool versions, manifest",
    responses={404: {"model": ErrorOut}},
)
def drill(request: Request, _: ViewerDep, evidence_id: int) -> DrillResult:
    return load_drill(get_context(request), evidence_id)[1]
