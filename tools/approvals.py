"""Human-in-the-loop approvals (SPEC 8): the records, the store interface, reading a decision.

A tool call that needs approval is not run: an `Approval` is stored (pending) and the run pauses
with the task in `input-required`. The next message on that task carries the decision, as a data
part `{"approval_id", "decision": "approve"|"deny", "reason"?}` or as text (`approve`, `yes`,
`deny`, `no`, ...); then the call runs exactly once, or the model is told `denied by user`.
Everything needed to resume lives in the store and the session, so a pending approval survives
a restart of the process that asked. The runtime defines the store; `apps/approvals` keeps it in
Postgres, `InMemoryApprovalStore` serves tests and the Python API.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import httpx

from agents.content import DataPart, Part, TextPart
from agents.errors import HectorError

__all__ = [
    "APPROVAL_REQUEST_TYPE",
    "DEFAULT_APPROVAL_TIMEOUT_S",
    "Approval",
    "ApprovalGate",
    "ApprovalNotPending",
    "ApprovalState",
    "ApprovalStore",
    "Decision",
    "InMemoryApprovalStore",
    "ask_webhook",
    "denial_text",
    "new_approval",
    "parse_decision",
]

logger = logging.getLogger(__name__)

ApprovalState = Literal["pending", "approved", "denied", "expired"]

#: How long the approval webhook may take before the request falls back to a person.
WEBHOOK_TIMEOUT_S = 10.0
#: SPEC 8: `server.approval.timeout` defaults to 24 h.
DEFAULT_APPROVAL_TIMEOUT_S = 24 * 3600.0

#: `hector_type` of the data part that asks the caller for a decision (SPEC 8).
APPROVAL_REQUEST_TYPE = "approval_request"

_APPROVE_WORDS = frozenset({"approve", "approved", "yes", "y", "ok", "allow", "accept"})
_DENY_WORDS = frozenset({"deny", "denied", "no", "n", "reject", "refuse", "decline"})


class ApprovalNotPending(HectorError):
    """A decision for an approval that was already decided or has expired."""


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    session_id: str
    agent: str
    call_id: str
    tool_name: str
    arguments: Mapping[str, Any]
    prompt: str
    invocation_id: str = ""
    task_id: str | None = None
    user_id: str = ""
    state: ApprovalState = "pending"
    reason: str = ""
    decided_by: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    decided_at: datetime | None = None
    expires_at: datetime | None = None

    def current_state(self, now: datetime | None = None) -> ApprovalState:
        """`expired` for a pending approval past its deadline (SPEC 8: treated as deny)."""
        if self.state != "pending" or self.expires_at is None:
            return self.state
        return "expired" if (now or datetime.now(UTC)) >= self.expires_at else "pending"

    def request_data(self) -> dict[str, Any]:
        """The `approval_request` data part a client answers (SPEC 8)."""
        return {
            "hector_type": APPROVAL_REQUEST_TYPE,
            "approval_id": self.id,
            "call_id": self.call_id,
            "tool_name": self.tool_name,
            "arguments": dict(self.arguments),
            "prompt": self.prompt,
        }


def new_approval(
    *,
    session_id: str,
    agent: str,
    call_id: str,
    tool_name: str,
    arguments: Mapping[str, Any],
    prompt: str,
    invocation_id: str = "",
    task_id: str | None = None,
    user_id: str = "",
    timeout_s: float | None = None,
) -> Approval:
    now = datetime.now(UTC)
    return Approval(
        id=uuid.uuid4().hex,
        session_id=session_id,
        agent=agent,
        call_id=call_id,
        tool_name=tool_name,
        arguments=dict(arguments),
        prompt=prompt,
        invocation_id=invocation_id,
        task_id=task_id,
        user_id=user_id,
        created_at=now,
        expires_at=now + timedelta(seconds=timeout_s) if timeout_s else None,
    )


def denial_text(approval: Approval) -> str:
    """What the model is told instead of the tool's result."""
    if approval.current_state() == "expired":
        return "denied by user: the approval request expired"
    return f"denied by user: {approval.reason or 'no reason given'}"


class ApprovalStore(Protocol):
    async def create(self, approval: Approval) -> Approval: ...

    async def get(self, approval_id: str) -> Approval | None: ...

    async def for_call(self, session_id: str, call_id: str) -> Approval | None:
        """The approval asked for one tool call of a session, whatever its state."""

    async def pending(self, session_id: str) -> list[Approval]:
        """Approvals of the session still waiting (expired ones included), oldest first."""

    async def decide(
        self, approval_id: str, *, approved: bool, reason: str = "", decided_by: str = ""
    ) -> Approval:
        """Record a decision once. Raises `ApprovalNotPending` when it was already decided.
        A decision after the deadline records `expired` (and so denies)."""


class InMemoryApprovalStore:
    def __init__(self) -> None:
        self._rows: dict[str, Approval] = {}
        self._lock = asyncio.Lock()

    async def create(self, approval: Approval) -> Approval:
        self._rows[approval.id] = approval
        return approval

    async def get(self, approval_id: str) -> Approval | None:
        return self._rows.get(approval_id)

    async def for_call(self, session_id: str, call_id: str) -> Approval | None:
        return next(
            (a for a in self._rows.values() if (a.session_id, a.call_id) == (session_id, call_id)),
            None,
        )

    async def pending(self, session_id: str) -> list[Approval]:
        rows = [a for a in self._rows.values() if a.session_id == session_id]
        return sorted((a for a in rows if a.state == "pending"), key=lambda a: a.created_at)

    async def decide(
        self, approval_id: str, *, approved: bool, reason: str = "", decided_by: str = ""
    ) -> Approval:
        async with self._lock:
            current = self._rows.get(approval_id)
            if current is None:
                raise ApprovalNotPending(f'approval "{approval_id}" not found')
            if current.state != "pending":
                raise ApprovalNotPending(f'approval "{approval_id}" is already {current.state}')
            state: ApprovalState = "approved" if approved else "denied"
            if current.current_state() == "expired":
                state = "expired"
            decided = replace(
                current,
                state=state,
                reason=reason,
                decided_by=decided_by,
                decided_at=datetime.now(UTC),
            )
            self._rows[approval_id] = decided
            return decided


@dataclass(frozen=True, slots=True)
class Decision:
    """A caller's answer. `approval_id` None: the one pending approval (text answers)."""

    approved: bool
    approval_id: str | None = None
    reason: str = ""


def parse_decision(parts: Iterable[Part]) -> Decision | None:
    """The decision a message carries, or None when it carries none (SPEC 8).

    A data part with `decision` (`approve`/`deny`, or a boolean `approved`) wins over text; text
    must be one of the approve/deny words, optionally followed by a reason (`no: too risky`).
    Anything else is not a decision: the caller is asked again rather than guessed for."""
    texts: list[str] = []
    for part in parts:
        if isinstance(part, DataPart):
            decision = _data_decision(part.data)
            if decision is not None:
                return decision
        elif isinstance(part, TextPart):
            texts.append(part.text)
    return _text_decision(" ".join(texts))


def _data_decision(data: Mapping[str, Any]) -> Decision | None:
    approval_id = data.get("approval_id")
    approval_id = approval_id if isinstance(approval_id, str) and approval_id else None
    reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
    raw = data.get("decision")
    if isinstance(raw, str) and raw.strip().lower() in _APPROVE_WORDS | _DENY_WORDS:
        return Decision(raw.strip().lower() in _APPROVE_WORDS, approval_id, reason)
    if isinstance(data.get("approved"), bool):
        return Decision(bool(data["approved"]), approval_id, reason)
    return None


def _text_decision(text: str) -> Decision | None:
    words = text.strip().split(maxsplit=1)
    if not words:
        return None
    head = words[0].strip(".,;:!").lower()
    reason = words[1].strip().lstrip(":-,; ").strip() if len(words) > 1 else ""
    if head in _APPROVE_WORDS:
        return Decision(True, None, reason)
    if head in _DENY_WORDS:
        return Decision(False, None, reason)
    return None


async def ask_webhook(
    url: str, approval: Approval, *, client: httpx.AsyncClient | None = None
) -> bool | None:
    """`server.approval.webhook_url` (SPEC 8): POST the request; `{"approved": bool}` decides it.

    Any other answer (an error status, no JSON, no boolean, a timeout) decides nothing: the
    request stays pending for a person, so a broken webhook can never approve by accident."""
    body = {
        "tool_name": approval.tool_name,
        "parameters": dict(approval.arguments),
        "agent": approval.agent,
        "session_id": approval.session_id,
        "task_id": approval.task_id,
        "approval_id": approval.id,
    }
    owned = client is None
    http = client or httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S)
    try:
        response = await http.post(url, json=body)
        if response.status_code >= 300:
            logger.warning("approval webhook %s answered %s", url, response.status_code)
            return None
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        logger.warning("approval webhook %s failed: %s", url, exc)
        return None
    finally:
        if owned:
            await http.aclose()
    approved = answer.get("approved") if isinstance(answer, dict) else None
    return approved if isinstance(approved, bool) else None


@dataclass(frozen=True, slots=True)
class ApprovalGate:
    """What an invocation needs to hold tool calls for a person: the store, the deadline of a
    request (`server.approval.timeout`) and the optional webhook that may decide first."""

    store: ApprovalStore
    timeout_s: float | None = DEFAULT_APPROVAL_TIMEOUT_S
    webhook_url: str | None = None

    async def ask(
        self,
        *,
        session_id: str,
        agent: str,
        call_id: str,
        tool_name: str,
        arguments: Mapping[str, Any],
        prompt: str,
        invocation_id: str,
        user_id: str,
        task_id: str | None = None,
    ) -> Approval:
        """The approval of one call: the stored one when it was asked before (a resumed run),
        else a new request, decided at once when the webhook answers."""
        existing = await self.store.for_call(session_id, call_id)
        if existing is not None:
            return existing
        approval = await self.store.create(
            new_approval(
                session_id=session_id,
                agent=agent,
                call_id=call_id,
                tool_name=tool_name,
                arguments=arguments,
                prompt=prompt,
                invocation_id=invocation_id,
                task_id=task_id,
                user_id=user_id,
                timeout_s=self.timeout_s,
            )
        )
        if self.webhook_url and approval.state == "pending":
            approved = await ask_webhook(self.webhook_url, approval)
            if approved is not None:
                reason = "approved by webhook" if approved else "denied by webhook"
                try:
                    return await self.store.decide(
                        approval.id, approved=approved, reason=reason, decided_by="webhook"
                    )
                except ApprovalNotPending:
                    return await self.store.get(approval.id) or approval
        return approval
