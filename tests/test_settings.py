"""Settings: production refuses to start without a secret; the embedded default needs nothing."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def _check(settings: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_secret_key() -> None:
    proc = _check("config.settings.production", DJANGO_ALLOWED_HOSTS="example.org")
    assert proc.returncode != 0
    assert "DJANGO_SECRET_KEY" in proc.stderr


def test_production_starts_with_secret_key() -> None:
    proc = _check("config.settings.production", DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="example.org")
    assert proc.returncode == 0, proc.stderr


def test_local_needs_no_configuration() -> None:
    proc = _check("config.settings.local")
    assert proc.returncode == 0, proc.stderr
