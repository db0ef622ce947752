"""Time from process start to /health 200 on a warm data dir, and idle RSS of the web process.

Target: ready <= 2 s, idle RSS <= 120 MB. Run: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.live_server import start_live_server  # the tests' launcher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hector-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        start_live_server(data_dir, "--no-watch").stop()  # first start: initdb + migrations
        print(f"cold start (initdb + migrate): {time.perf_counter() - started:.2f} s")
        times, rss = [], []
        for _ in range(options.runs):
            started = time.perf_counter()
            server = start_live_server(data_dir, "--no-watch")
            times.append(time.perf_counter() - started)
            time.sleep(2.0)  # idle
            rss.append(psutil.Process(server.process.pid).memory_info().rss / 2**20)
            server.stop()
        print(
            f"warm start to /health 200: median {statistics.median(times):.2f} s, "
            f"max {max(times):.2f} s over {len(times)} runs (target <= 2 s)"
        )
        print(
            f"idle RSS of the web process: median {statistics.median(rss):.0f} MB, "
            f"max {max(rss):.0f} MB (target <= 120 MB)"
        )


if __name__ == "__main__":
    main()
