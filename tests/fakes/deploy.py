"""`deploy`, the tool the approval tests gate: it records each target it ran for in `DEPLOYED`
(clear it when a test starts)."""

from __future__ import annotations

from tools import tool

DEPLOYED: list[str] = []


@tool
def deploy(target: str) -> str:
    """Deploy the service.

    Args:
        target: where to.
    """
    DEPLOYED.append(target)
    return f"deployed to {target}"
