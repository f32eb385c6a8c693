"""A local fake Anthropic API server for tests and benchmarks.

``server.py`` holds its state, caching and batches; ``answers.py`` what it answers; ``handler.py`` the HTTP routes.
"""

from testing.fake_anthropic.answers import min_cacheable_tokens
from testing.fake_anthropic.server import FakeAnthropic, FakeConfig, LoggedRequest

__all__ = ["FakeAnthropic", "FakeConfig", "LoggedRequest", "min_cacheable_tokens"]
