"""One /metrics for `hector serve` and the queue workers it starts.

prometheus_client counts in each process; with `PROMETHEUS_MULTIPROC_DIR` set before it is
imported, every process writes its series to files there and the web process's /metrics sums
them (`apps.observability.views.metrics`). So a task dead-lettered by a worker shows in
`hector_queue_dead_letter_total` of the server that started the worker. `serve` sets it up for
itself and its children: a directory of its own (named by its pid, under the data dir), emptied
at start, and the directories of servers no longer running removed. An operator's own
`PROMETHEUS_MULTIPROC_DIR` is kept as it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(data_dir: Path) -> Path:
    """The directory this server's processes write their series to (set in the environment,
    which the children inherit)."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    parent = data_dir / "metrics"
    if parent.is_dir():
        for stale in parent.iterdir():
            if not (stale.name.isdigit() and _running(int(stale.name))):
                shutil.rmtree(stale, ignore_errors=True)
    directory = parent / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[ENV] = str(directory)
    return directory


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
