"""Write a benchmark's figures into its own section of BENCHMARKS.md (replacing an older run's)."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEach section is written by the benchmark named in it; rerun the command to refresh it.\n"


def machine() -> str:
    import os

    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )


def record(section: str, command: str, body: str) -> None:
    """Replace (or append) ``## section`` in BENCHMARKS.md with the command, the date and ``body``."""
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    block = f"## {section}\n\nCommand: `{command}`  \nRun: {stamp} on {machine()}\n\n{body.strip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    BENCHMARKS_MD.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
