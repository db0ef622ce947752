"""approvaltool (SPEC 8, 9.3): `request_approval`, a question the model puts to a human.

The tool itself does nothing but answer: like any tool with `requires_approval`, the runner
pauses the call for a human before running it (approval rows, `input-required`, resume). So a
call that runs has been approved and says so; a denied one never runs, and the runner answers
`denied by user: <reason>` in its place. The prompt shown is built from the call's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from tools.base import ToolContext
from tools.builtin.base import Arguments, BuiltinTool

__all__ = ["ApprovalTool", "RequestApprovalArgs", "approval_tool"]

DESCRIPTION = (
    "Ask the user to approve an action before you take it. Use before anything risky or "
    "irreversible, or when you need an explicit yes. The conversation pauses until the user "
    "answers; the result says whether the action was approved."
)


class RequestApprovalArgs(Arguments):
    action: str = Field(min_length=1, description="The action that needs approval.")
    reason: str = Field(min_length=1, description="Why it needs approval.")
    details: dict[str, Any] | None = Field(
        default=None, description="Anything else the approver should see."
    )


async def _approved(args: RequestApprovalArgs, context: ToolContext) -> dict[str, Any]:
    return {"approved": True, "action": args.action}


class ApprovalTool(BuiltinTool[RequestApprovalArgs]):
    """Always asks; the question comes from the arguments, after the configured `prompt`."""

    def approval_prompt_for(self, arguments: Mapping[str, Any]) -> str:
        question = f"Approve: {arguments.get('action', '')}\nReason: {arguments.get('reason', '')}"
        return f"{self.approval_prompt}\n\n{question}" if self.approval_prompt else question


def approval_tool(*, prompt: str | None, timeout_s: float | None) -> ApprovalTool:
    return ApprovalTool(
        "request_approval",
        DESCRIPTION,
        RequestApprovalArgs,
        _approved,
        requires_approval=True,
        approval_prompt=prompt,
        timeout_s=timeout_s,
    )
