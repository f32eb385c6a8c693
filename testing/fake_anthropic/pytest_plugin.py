"""Pytest fixture ``fake_anthropic``: a fresh fake Anthropic server per test, on a free port.

Registered in tests/conftest.py (``pytest_plugins``). ``fake_anthropic.base_url`` is its URL;
``fake_anthropic.config`` changes its behaviour; ``fake_anthropic.log`` lists what it received.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing.fake_anthropic.server import FakeAnthropic, FakeConfig


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(FakeConfig())
    fake.serve("127.0.0.1", 0)
    yield fake
    fake.shutdown()
