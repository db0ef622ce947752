"""The embedded Postgres stops with its last user, also when that user is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hector_site.embedded_pg import pgdata_dir

REPO = Path(__file__).resolve().parents[2]
HOLDER = (
    "import sys, time\n"
    "from hector_site.embedded_pg import boot\n"
    "print(boot(sys.argv[1]), flush=True)\n"
    "sys.stdin.readline()\n"  # hold the server until told to exit (or killed)
)


def start_holder(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    assert url.startswith("postgresql://"), url
    return process, url


def postmaster(data_dir: Path) -> psutil.Process | None:
    try:
        pid = int((pgdata_dir(data_dir) / "postmaster.pid").read_text().splitlines()[0])
        process = psutil.Process(pid)
        return (
            process if process.is_running() and process.status() != psutil.STATUS_ZOMBIE else None
        )
    except (FileNotFoundError, IndexError, ValueError, psutil.Error):
        return None


def wait_until(check, timeout_s: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "hector-data"
    path.mkdir()
    return path


def test_server_stops_after_its_only_user_is_killed(data_dir: Path) -> None:
    holder, _ = start_holder(data_dir)
    server = postmaster(data_dir)
    assert server is not None
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert wait_until(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE)


def test_second_user_reuses_the_server_and_the_last_one_stops_it(data_dir: Path) -> None:
    first, url_one = start_holder(data_dir)
    server = postmaster(data_dir)
    second, url_two = start_holder(data_dir)
    assert url_one == url_two
    assert postmaster(data_dir).pid == server.pid  # type: ignore[union-attr]
    first.communicate("\n", timeout=30)
    time.sleep(1.0)  # give a (wrong) shutdown the chance to happen
    assert server.is_running()
    second.communicate("\n", timeout=30)
    assert wait_until(lambda: postmaster(data_dir) is None)
