"""Test doubles shared by the tests and the benchmarks (e.g. a fake of the Anthropic API)."""
