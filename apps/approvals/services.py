"""Deciding an approval from outside the conversation (the Django admin, the Studio, the clock).

The decision is recorded on the row, then the waiting task is nudged with a message on its own
task id, exactly as a client's answer would arrive: the run resumes through the same path
(`Runner` sees the decided approval and continues the paused round), and the nudge is part of the
task's history, so it is visible who moved it and how.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from django.conf import settings

from agents.content import DataPart
from agents.tasks import TaskMessage
from apps.approvals.store import PostgresApprovalStore
from apps.tenancy.models import App
from tools.approvals import Approval, ApprovalNotPending

logger = logging.getLogger(__name__)

DECISION_TYPE = "approval_decision"
EXPIRY_DECIDER = "timeout"  # `decided_by` of an approval nobody decided in time


async def decide(
    app: App, approval_id: str, *, approved: bool, reason: str = "", decided_by: str
) -> Approval:
    """Record the decision (raises `ApprovalNotPending` when it was already decided) and
    resume the task that waits for it, if any."""
    approval = await PostgresApprovalStore(app.schema_name).decide(
        approval_id, approved=approved, reason=reason, decided_by=decided_by
    )
    if approval.task_id:
        await _resume(app, approval)
    return approval


async def expire_due(app: App, *, now: datetime | None = None) -> int:
    """Record every pending approval past its deadline as expired (SPEC 8: a denial) and
    resume the task waiting for it, so the model hears of the denial without waiting for the
    caller's next message. Returns how many expired here (one decided meanwhile is skipped)."""
    store = PostgresApprovalStore(app.schema_name)
    expired = 0
    for approval in await store.due(now or datetime.now(UTC)):
        try:
            decided = await store.decide(
                approval.id, approved=False, reason="expired", decided_by=EXPIRY_DECIDER
            )
        except ApprovalNotPending:
            continue  # decided meanwhile (a person, the caller, the run of a sibling call)
        expired += 1
        logger.info("approval=%s app=%s expired", approval.id, app.id)
        if decided.task_id:
            await _resume(app, decided)
    return expired


async def _resume(app: App, approval: Approval) -> None:
    from apps.tasks.service import TaskService  # apps.tasks imports the runtime: load late

    service = TaskService(app)
    assert approval.task_id is not None
    task = await service.get(approval.task_id)
    if task.status.state != "input-required":
        return  # answered meanwhile, or no longer waiting: nothing to resume
    data = {
        "hector_type": DECISION_TYPE,
        "approval_id": approval.id,
        "decision": "approve" if approval.state == "approved" else "deny",
        "decided_by": approval.decided_by,
    }
    message = TaskMessage(
        uuid.uuid4().hex,
        "user",
        (DataPart(data),),
        context_id=task.context_id,
        task_id=task.id,
    )
    # With workers the run goes to the queue; a process without them runs it before returning
    # (a request-scoped event loop would not outlive the admin action).
    queued = getattr(settings, "HECTOR_QUEUE_DISPATCH", "local") == "celery"
    await service.send(agent=task.agent, user_id=task.user_id, message=message, blocking=not queued)
    logger.info(
        "approval=%s decided by %s; task=%s resumed", approval.id, approval.decided_by, task.id
    )
