"""The demo's review loop without Label Studio, on the paper-v1 run alone: the sample dataset, its recorded paper-v1
outputs, and the example reviews taken in through intake (``tests/validation/demo_loop.py`` does the work)."""

from __future__ import annotations

from tests.validation.demo_loop import DemoLoop
from tests.validation.demo_loop import demo_loop as _demo_loop

__all__ = ["DemoLoop", "demo_loop"]


def demo_loop() -> DemoLoop:
    return _demo_loop(prompt_sets=(("paper-v1", False),))
