"""A local fake Anthropic API server for tests and benchmarks (see ``server.py``)."""

from bench.fake_anthropic.server import FakeAnthropic, FakeConfig, LoggedRequest, min_cacheable_tokens

__all__ = ["FakeAnthropic", "FakeConfig", "LoggedRequest", "min_cacheable_tokens"]
