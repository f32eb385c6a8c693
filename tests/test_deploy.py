"""Deployment: Django's deploy checks pass with the production settings, and every response carries a CSP."""

from __future__ import annotations

import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import REPO_ROOT


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "vitw.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        **extra,
    }


@pytest.mark.slow
def test_check_deploy_passes_at_warning_level_with_production_settings(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=production_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues" in proc.stdout


def production_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, object]:
    """The production settings module's values under ``env`` (evaluated afresh, without configuring Django)."""
    for key, value in production_env(tmp_path, **env).items():
        monkeypatch.setenv(key, value)
    return runpy.run_module("config.settings.production")


def test_production_enforces_https_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    prod = production_settings(monkeypatch, tmp_path)
    assert prod["SECURE_SSL_REDIRECT"] is True
    assert prod["SECURE_HSTS_SECONDS"] == 31_536_000
    assert prod["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert "SECURE_PROXY_SSL_HEADER" not in prod  # a forwarded header is trusted only when asked


def test_https_settings_follow_the_environment_for_a_tls_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    prod = production_settings(
        monkeypatch,
        tmp_path,
        DJANGO_BEHIND_TLS_PROXY="true",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://vitw.example.org",
    )
    assert prod["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert prod["SECURE_SSL_REDIRECT"] is False
    assert prod["SECURE_HSTS_SECONDS"] == 3600
    assert prod["CSRF_TRUSTED_ORIGINS"] == ["https://vitw.example.org"]


def test_the_policy_allows_scripts_only_from_this_site() -> None:
    directives = dict(d.strip().split(" ", 1) for d in settings.CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "http" not in settings.CONTENT_SECURITY_POLICY  # no other site anywhere


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/", "/accounts/login/", "/admin/login/", "/api/docs/", "/api/schema/", "/api/corpus/datasets/", "/no-such-page/"],
)
def test_every_response_carries_the_content_security_policy(client: Client, url: str) -> None:
    for who in ("anonymous", "logged in"):
        if who == "logged in":
            from django.contrib.auth import get_user_model

            user, _ = get_user_model().objects.get_or_create(username="csp")
            client.force_login(user)
        response = client.get(url)
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY, (who, response.status_code)


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_other_sites(client: Client) -> None:
    from django.contrib.auth import get_user_model

    from accounts.roles import Role, user_add_role

    user = get_user_model().objects.create_user("docs")
    user_add_role(user=user, role=Role.LEAD)
    client.force_login(user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(src|href)=\"https?://", html)
    assert "<script>" not in html  # no inline script: the start-up script is a file
    assets = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
