"""Label Studio fixtures of the review-loop and browser tests (a plugin loaded by tests/conftest.py).

``label_studio`` starts one throwaway Label Studio per test session (installed on demand into
var/labelstudio-venv, data in a temporary directory, on a free port) and stops it at the end. Outside CI
a Label Studio that cannot be installed or started skips the tests that need it; in CI they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio, LocalLabelStudioError, free_port
from tests.conftest import missing_service


@pytest.fixture(scope="session")
def local_label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLabelStudio]:
    server = LocalLabelStudio(
        data_dir=Path(tmp_path_factory.mktemp("labelstudio")), port=free_port(range(18080, 18100))
    )
    try:
        server.start()
    except LocalLabelStudioError as exc:
        missing_service(f"could not start a local Label Studio: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def label_studio(local_label_studio: LocalLabelStudio) -> LabelStudio:
    """An admin client of the session's Label Studio (short backoff so failure tests stay quick)."""
    return LabelStudio(url=local_label_studio.url, api_key=local_label_studio.api_key, retries=2, backoff_s=0.2)
