"""The peer of bench/a2a.py: a google-adk `LlmAgent` served over A2A by `to_a2a` under uvicorn.

Its dependencies never enter ours: they live in their own venv, `bench/.peer-venv` (created once,
reused while its marker matches `PEER_REQUIREMENTS`), and the server script is written to a temp
dir at run time and started with that venv's python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / ".peer-venv"
# google-adk 2.13 needs litellm>=1.84,<1.106.3 (ARCHITECTURE.md, known pitfalls); the `a2a` extra
# brings a2a-sdk[http-server], without which `to_a2a` cannot import.
PEER_REQUIREMENTS = ["google-adk[a2a]", "litellm>=1.84,<1.106.3", "uvicorn"]
MARKER = PEER_VENV / ".bench-requirements.json"

PEER_SCRIPT = """
import os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else LiteLLM fetches prices
import logging, warnings
warnings.filterwarnings("ignore")  # ADK's [EXPERIMENTAL] notices
import uvicorn
from google.adk.agents import LlmAgent
from google.adk.models.lite_llm import LiteLlm
from google.adk.a2a.utils.agent_to_a2a import to_a2a

port, api_base, instruction = int(sys.argv[1]), sys.argv[2], sys.argv[3]
logging.getLogger("google_adk").setLevel(logging.ERROR)
agent = LlmAgent(
    name="assistant",
    description="Benchmark assistant",
    model=LiteLlm(model="openai/bench", api_base=api_base, api_key="test"),
    instruction=instruction,
)
app = to_a2a(agent, host="127.0.0.1", port=port)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def ensure_peer_venv() -> Path:
    """Create `bench/.peer-venv` and install the peer once; later runs reuse it."""
    wanted = json.dumps(PEER_REQUIREMENTS)
    if peer_python().exists() and MARKER.exists() and MARKER.read_text() == wanted:
        return peer_python()
    where = PEER_VENV.relative_to(BENCH.parent)
    print(f"peer: creating {where} (once; a few minutes) ...", flush=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    pip = [str(peer_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    print(f"peer: pip install {' '.join(PEER_REQUIREMENTS)} ...", flush=True)
    installed = subprocess.run([*pip, *PEER_REQUIREMENTS], capture_output=True, text=True)
    if installed.returncode != 0:
        print(installed.stdout[-3000:], installed.stderr[-3000:], sep="\n")
        raise SystemExit("peer: pip install failed")
    MARKER.write_text(wanted)
    print(f"peer: venv ready in {time.monotonic() - started:.0f} s", flush=True)
    return peer_python()


def peer_versions() -> str:
    """What actually resolved, e.g. `google-adk 2.13.0, litellm 1.106.2, ...`."""
    code = (
        "import importlib.metadata as m\n"
        "names = ['google-adk', 'a2a-sdk', 'litellm', 'uvicorn', 'starlette']\n"
        "print(', '.join(f'{n} {m.version(n)}' for n in names))"
    )
    result = subprocess.run(
        [str(peer_python()), "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


@dataclass
class PeerServer:
    process: subprocess.Popen[str]
    port: int
    script_dir: Path
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_peer(
    script_dir: Path, port: int, api_base: str, instruction: str, timeout_s: float = 60.0
) -> PeerServer:
    script = script_dir / "adk_peer.py"
    script.write_text(PEER_SCRIPT)
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONUNBUFFERED="1")
    env.pop("VIRTUAL_ENV", None)
    process = subprocess.Popen(
        [str(peer_python()), str(script), str(port), api_base, instruction],
        cwd=script_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = PeerServer(process, port, script_dir)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("ADK peer exited early:\n" + "".join(server.output))
        try:
            card = httpx.get(f"{server.url}/.well-known/agent-card.json", timeout=1)
            if card.status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"ADK peer not ready in {timeout_s}s:\n" + "".join(server.output))
