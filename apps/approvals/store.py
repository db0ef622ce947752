"""`tools.approvals.ApprovalStore` on Postgres, for one app's schema (every hop names it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from django.db import IntegrityError, transaction

from apps.approvals.models import Approval as ApprovalRow
from apps.approvals.models import ApprovalState
from apps.tenancy.context import in_schema
from tools.approvals import Approval, ApprovalNotPending


def to_domain(row: ApprovalRow) -> Approval:
    return Approval(
        id=row.id,
        session_id=row.session_id,
        agent=row.agent,
        call_id=row.call_id,
        tool_name=row.tool_name,
        arguments=row.arguments,
        prompt=row.prompt,
        invocation_id=row.invocation_id,
        task_id=row.task_id or None,
        user_id=row.user_id,
        state=row.state,  # type: ignore[arg-type]
        reason=row.reason,
        decided_by=row.decided_by,
        created_at=row.created_at,
        decided_at=row.decided_at,
        expires_at=row.expires_at,
    )


def _create(approval: Approval) -> Approval:
    try:
        with transaction.atomic():
            ApprovalRow.objects.create(
                id=approval.id,
                session_id=approval.session_id,
                task_id=approval.task_id or "",
                invocation_id=approval.invocation_id,
                agent=approval.agent,
                user_id=approval.user_id,
                call_id=approval.call_id,
                tool_name=approval.tool_name,
                arguments=dict(approval.arguments),
                prompt=approval.prompt,
                state=approval.state,
                created_at=approval.created_at,
                expires_at=approval.expires_at,
            )
    except IntegrityError:
        # Asked once per call: a second ask (a resumed run) gets the stored one.
        existing = ApprovalRow.objects.get(session_id=approval.session_id, call_id=approval.call_id)
        return to_domain(existing)
    return approval


def _get(approval_id: str) -> Approval | None:
    row = ApprovalRow.objects.filter(pk=approval_id).first()
    return to_domain(row) if row else None


def _for_call(session_id: str, call_id: str) -> Approval | None:
    row = ApprovalRow.objects.filter(session_id=session_id, call_id=call_id).first()
    return to_domain(row) if row else None


def _pending(session_id: str) -> list[Approval]:
    rows = ApprovalRow.objects.filter(session_id=session_id, state=ApprovalState.PENDING)
    return [to_domain(row) for row in rows.order_by("created_at", "id")]


def _due(now: datetime) -> list[Approval]:
    rows = ApprovalRow.objects.filter(state=ApprovalState.PENDING, expires_at__lte=now)
    return [to_domain(row) for row in rows.order_by("expires_at", "id")]


def decide_row(approval_id: str, *, approved: bool, reason: str, decided_by: str) -> Approval:
    """Move a pending row to its decision, once (the row lock orders racing deciders)."""
    with transaction.atomic():
        row = ApprovalRow.objects.select_for_update().filter(pk=approval_id).first()
        if row is None:
            raise ApprovalNotPending(f'approval "{approval_id}" not found')
        if row.state != ApprovalState.PENDING:
            raise ApprovalNotPending(f'approval "{approval_id}" is already {row.state}')
        current = to_domain(row)
        state = ApprovalState.APPROVED if approved else ApprovalState.DENIED
        if current.current_state() == "expired":
            state = ApprovalState.EXPIRED
        row.state = state
        row.reason = reason
        row.decided_by = decided_by
        row.decided_at = datetime.now(UTC)
        row.save(update_fields=["state", "reason", "decided_by", "decided_at"])
    return replace(
        current, state=state.value, reason=reason, decided_by=decided_by, decided_at=row.decided_at
    )


class PostgresApprovalStore:
    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def create(self, approval: Approval) -> Approval:
        return await in_schema(self.schema, _create, approval)

    async def get(self, approval_id: str) -> Approval | None:
        return await in_schema(self.schema, _get, approval_id)

    async def for_call(self, session_id: str, call_id: str) -> Approval | None:
        return await in_schema(self.schema, _for_call, session_id, call_id)

    async def pending(self, session_id: str) -> list[Approval]:
        return await in_schema(self.schema, _pending, session_id)

    async def due(self, now: datetime) -> list[Approval]:
        """Pending approvals whose deadline has passed, oldest deadline first."""
        return await in_schema(self.schema, _due, now)

    async def decide(
        self, approval_id: str, *, approved: bool, reason: str = "", decided_by: str = ""
    ) -> Approval:
        return await in_schema(
            self.schema,
            decide_row,
            approval_id,
            approved=approved,
            reason=reason,
            decided_by=decided_by,
        )
