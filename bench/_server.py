"""Start `hector serve` in a subprocess on a data dir and wait for /health."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int, *extra: str) -> tuple[subprocess.Popen[bytes], float]:
    """Returns the process and the seconds from spawn to the first /health 200."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["HECTOR_AUTH_SECRET"] = "bench-secret"
    log_path = data_dir.parent / "server.log"
    started = time.perf_counter()
    # Never a pipe nobody reads: once it fills, the server blocks on its next log line.
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-watch",
                "--no-worker",
                *extra,
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    process.kill()
    raise RuntimeError("server did not become healthy within 120 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
