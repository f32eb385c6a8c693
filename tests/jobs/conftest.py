"""The extraction tests' small dataset and its recordings, for the run-launch cases."""

from tests.extraction.conftest import small_dataset, write_recordings

__all__ = ["small_dataset", "write_recordings"]
