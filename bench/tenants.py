"""Create N apps through the Admin API and print creation and list latencies.

Target: creation p50 <= 300 ms with 1,000 apps present; listing 1,000 apps <= 50 ms. Run: python
bench/tenants.py [--apps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.live_server import start_live_server  # the tests' launcher


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hector-bench-") as tmp:
        server = start_live_server(Path(tmp) / "data", "--no-watch")
        try:
            headers = {"Authorization": f"Bearer {server.admin_secret()}"}
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                durations = []
                for index in range(options.apps):
                    started = time.perf_counter()
                    response = client.post("/admin/apps", json={"name": f"bench-{index}"})
                    durations.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 201:
                        sys.exit(f"create failed: {response.status_code} {response.text}")
                    if (index + 1) % 200 == 0:
                        print(f"  {index + 1} apps created", flush=True)
                last = durations[-100:]
                print(
                    f"app creation over {options.apps} apps: "
                    f"p50 {percentile(durations, 0.5):.1f} ms, "
                    f"p95 {percentile(durations, 0.95):.1f} ms; "
                    f"last 100 (with {options.apps - 100}+ present): "
                    f"p50 {percentile(last, 0.5):.1f} ms, p95 {percentile(last, 0.95):.1f} ms "
                    "(target p50 <= 300 ms)"
                )
                list_ms = []
                for _ in range(20):
                    started = time.perf_counter()
                    response = client.get("/admin/apps", params={"page_size": 1000})
                    list_ms.append((time.perf_counter() - started) * 1000)
                    assert len(response.json()["apps"]) == 1000
                print(
                    f"list 1,000 apps: p50 {statistics.median(list_ms):.1f} ms, "
                    f"p95 {percentile(list_ms, 0.95):.1f} ms (target <= 50 ms)"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
