"""A throwaway local Label Studio for tests, benchmarks and the demo, started by ``scripts/labelstudio.sh``.

The first start of a fresh Label Studio spends a minute and a half migrating its database. So the
first throwaway instance is migrated once into a template directory under ``var/`` (one per Label
Studio version, credentials generated for it), and every later instance starts from a copy of it in
about twenty seconds. The install itself is done on demand by the script and reused.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "labelstudio.sh"
VAR = ROOT / "var"


class LocalLabelStudioError(RuntimeError):
    """The local Label Studio could not be installed or started; the message says where to look."""


def free_port(preferred: range | None = None) -> int:
    """A port nobody listens on: the first free one in ``preferred``, or one the OS picks."""
    for port in preferred or ():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned_version() -> str:
    match = re.search(r'^LABEL_STUDIO_VERSION="([^"]+)"', SCRIPT.read_text(), re.M)
    if not match:
        raise LocalLabelStudioError(f"no LABEL_STUDIO_VERSION pin in {SCRIPT}")
    return match.group(1)


def read_credentials(data_dir: Path) -> dict[str, str]:
    values = {}
    for line in (data_dir / "credentials.env").read_text().splitlines():
        key, _, value = line.partition("=")
        if key:
            values[key.strip()] = value.strip()
    return values


class LocalLabelStudio:
    """One Label Studio process on 127.0.0.1:``port`` with its data in ``data_dir``."""

    def __init__(self, *, data_dir: Path, port: int | None = None, timeout_s: int = 300) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.timeout_s = timeout_s

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> dict[str, str]:
        return read_credentials(self.data_dir)

    @property
    def api_key(self) -> str:
        return self.credentials["LABEL_STUDIO_API_KEY"]

    def _run(self, command: str, data_dir: Path, port: int) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("LABEL_STUDIO_") or key in ("LABEL_STUDIO_VENV", "LABEL_STUDIO_PYTHON")
        }
        env.update(
            LABEL_STUDIO_PORT=str(port),
            LABEL_STUDIO_DATA_DIR=str(data_dir),
            LABEL_STUDIO_START_TIMEOUT=str(self.timeout_s),
        )
        done = subprocess.run(
            [str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=self.timeout_s + 1200, check=False
        )
        if done.returncode != 0:
            raise LocalLabelStudioError(
                f"`scripts/labelstudio.sh {command}` failed (exit {done.returncode}) for {data_dir}:\n"
                f"{done.stderr[-3000:]}"
            )

    def _template(self) -> Path:
        template = VAR / f"labelstudio-template-{pinned_version()}"
        if not (template / "label_studio.sqlite3").exists():
            staging = VAR / f"labelstudio-template-{pinned_version()}.staging"
            shutil.rmtree(staging, ignore_errors=True)
            port = free_port()
            self._run("start", staging, port)
            self._run("stop", staging, port)
            for leftover in ("labelstudio.pid", "labelstudio.log"):
                (staging / leftover).unlink(missing_ok=True)
            try:
                staging.rename(template)
            except OSError:  # another process made it first
                shutil.rmtree(staging, ignore_errors=True)
        return template

    def start(self) -> LocalLabelStudio:
        """Install if needed, start (from the migrated template when the data dir is new), wait for /health."""
        if not (self.data_dir / "label_studio.sqlite3").exists():
            shutil.copytree(self._template(), self.data_dir, dirs_exist_ok=True)
        self._run("start", self.data_dir, self.port)
        return self

    def stop(self) -> None:
        self._run("stop", self.data_dir, self.port)
