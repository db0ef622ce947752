"""The Celery app: durable background work for every app (tenant) of the deployment.

Tenant-aware by carrying the schema, not by a scheduler plugin: every job names the schema of its
app and the id of its row (`apps.tasks.jobs`), and the job sets that schema before it touches a
row. Messages carry nothing else; the rows say what to do (ARCHITECTURE decision 6), so a lost or
duplicated message is harmless: `hector.queue.recover` republishes what the rows say is waiting,
and a claim that finds the row taken does nothing.

Broker: `CELERY_BROKER_URL` (Redis, RabbitMQ) when set; otherwise kombu's `filesystem://`
transport under `<data dir>/queue`, which needs no server but only works on one machine. Beat
runs django-celery-beat's database scheduler (its tables are in the public schema); its periodic
jobs (queue recovery, approval expiry) carry no schema and visit every app themselves.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import filesystem as kombu_fs
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")


class FilesystemChannel(kombu_fs.Channel):
    """kombu's filesystem channel with atomic hand-offs between processes.

    kombu writes a message in place (a consumer can read it half written) and claims one by
    moving it to the system temp dir (a copy, racing other consumers, when that is another
    filesystem). Here a message is written under a name no consumer looks at and renamed into
    place, and a consumer claims it by renaming it within the folder: one rename wins.
    """

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(kombu_fs.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        partial = folder / f"~{uuid.uuid4().hex}"
        try:
            partial.write_bytes(str_to_bytes(dumps(payload)))
            os.replace(partial, folder / name)
        except OSError as exc:
            raise kombu_fs.ChannelError(f"Cannot add {name!r} to {folder}") from exc

    def _get(self, queue: str) -> Any:
        suffix = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != suffix:
                continue
            claimed = folder / f"~claimed-{uuid.uuid4().hex}"
            try:
                os.rename(folder / name, claimed)
            except OSError:
                continue  # another consumer got it first
            try:
                payload = claimed.read_bytes()
            finally:
                claimed.unlink(missing_ok=True)
            return loads(bytes_to_str(payload))
        raise kombu_fs.Empty()


class FilesystemTransport(kombu_fs.Transport):
    Channel = FilesystemChannel


# Every `filesystem://` connection of a process that loaded this module uses the atomic one.
TRANSPORT_ALIASES["filesystem"] = "hector_site.celery:FilesystemTransport"

RECOVER_EVERY_S = 60.0  # SPEC 8: stale recovery every minute (and at worker start)
EXPIRE_APPROVALS_EVERY_S = 60.0  # an approval nobody decided in time is denied within a minute

app = Celery("hector")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = {
    "hector-queue-recover": {"task": "hector.queue.recover", "schedule": RECOVER_EVERY_S},
    "hector-approvals-expire": {
        "task": "hector.approvals.expire",
        "schedule": EXPIRE_APPROVALS_EVERY_S,
    },
}
app.conf.imports = ("apps.tasks.jobs", "apps.approvals.jobs")
if str(app.conf.broker_url).startswith("filesystem:"):
    # Remote control would poll one more folder; the task bus already carries cancels.
    app.conf.worker_enable_remote_control = False


def ensure_broker_folders() -> None:
    """The filesystem transport expects its folders to exist."""
    from django.conf import settings

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = options.get(key)
        if isinstance(folder, str):
            Path(folder).mkdir(parents=True, exist_ok=True)
