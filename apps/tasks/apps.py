import atexit

from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Per app (tenant schema): A2A task rows and their push notification configs."""

    name = "apps.tasks"
    label = "tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Cancel requests for runs of this process arrive on the bus from any process; the bus
        knows nothing about runs, so the run registry is wired to it here, once. At exit the bus
        sends what it still holds and closes its connections."""
        from apps.tasks import bus, metrics

        bus.set_cancel_handler(_cancel_local_run)
        atexit.register(bus.shutdown)
        metrics.register_depth_collector()


def _cancel_local_run(schema: str, task_id: str) -> None:
    """The runtime (the agent runner and every LLM SDK it may load) is imported by the first run,
    not at start: an idle web process stays small."""
    from apps.tasks import runtime

    runtime.cancel_local_run(schema, task_id)
