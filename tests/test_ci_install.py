"""The deploy manifest: requirements.txt names PyTorch's CPU index and public versions (so that a machine
reaching PyPI only still resolves it), and with .ci/pip.env an unreachable index costs pip one quick retry
per package instead of five with backoff (about 8 s each)."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def pip_env() -> dict[str, str]:
    text = (ROOT / ".ci" / "pip.env").read_text()
    return dict(re.findall(r"^export (\w+)=(\S+)$", text, flags=re.M))


def test_requirements_name_the_cpu_index_and_versions_pypi_also_has():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert CPU_INDEX in lines
    pins = dict(line.split("==") for line in lines if line.startswith(("torch==", "torchvision==")))
    assert pins and all("+" not in version for version in pins.values())  # 2.14.1 matches 2.14.1+cpu too


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_an_unreachable_index_falls_back_to_pypi_after_one_quick_retry(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"--extra-index-url http://127.0.0.1:{closed_port()}/whl/cpu\ntqdm>=4.66\n")
    env = {**os.environ, **pip_env()}
    out = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path), "-r", str(requirements)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]  # tqdm came from the other indexes
    assert list(tmp_path.glob("tqdm-*"))
    assert out.stderr.count("Retrying (Retry(") <= 1  # pip's default: five retries, 7.5 s of backoff
