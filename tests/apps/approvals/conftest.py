"""The task fixtures these tests share (the bus's connections close before the database drops)."""

from tests.apps.tasks.conftest import task_bus

__all__ = ["task_bus"]
