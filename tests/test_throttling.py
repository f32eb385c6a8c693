"""Per-user throttling of the endpoints that start expensive work: 429 with Retry-After past the rate, counted per
user and per scope, in the Django cache (Redis in production)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.roles import Role, user_add_role
from tests.conftest import REPO_ROOT

RUNS = "/api/extraction/runs/"

#: One request of each throttled scope: (scope, method, URL, body). The bodies need not be valid: a request that
#: reaches the view counts, whatever it answers.
THROTTLED = [
    ("runs", "post", RUNS, {"dataset": "none", "prompt_set": "paper-v1"}),
    ("taxonomy_builds", "post", "/api/analysis/taxonomies/build/", {"levels": 1}),
    ("taxonomy_builds", "post", "/api/analysis/taxonomies/999/map/", {}),
    ("residuals", "post", "/api/analysis/residuals/", {"rows": "task"}),
    ("agreement", "get", "/api/validation/runs/999/agreement/", None),
    ("agreement", "post", "/api/validation/runs/999/snapshots/", {}),
    ("agreement", "get", "/api/validation/compare/?baseline=a&candidate=b", None),
    ("label_studio", "post", "/api/annotate/samples/999/push/", None),
    ("label_studio", "post", "/api/annotate/samples/999/reconcile/", None),
]


def lead(name: str = "lead") -> APIClient:
    user = get_user_model().objects.create_user(name)
    user_add_role(user=user, role=Role.LEAD)
    client = APIClient()
    client.force_authenticate(user)
    return client


def send(client: APIClient, method: str, url: str, body: Any) -> Any:
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


@pytest.mark.django_db
@pytest.mark.parametrize(("scope", "method", "url", "body"), THROTTLED)
def test_each_expensive_endpoint_answers_429_with_retry_after_past_its_rate(
    settings: Any, scope: str, method: str, url: str, body: Any
) -> None:
    settings.API_THROTTLE_RATES = {scope: "2/min"}
    client = lead()
    first = [send(client, method, url, body).status_code for _ in range(2)]
    assert 429 not in first
    third = send(client, method, url, body)
    assert third.status_code == 429
    assert 1 <= int(third["Retry-After"]) <= 60
    assert "throttled" in third.json()["detail"].lower()


@pytest.mark.django_db
def test_the_count_is_per_user_and_reading_is_not_counted(settings: Any) -> None:
    settings.API_THROTTLE_RATES = {"runs": "1/min"}
    ada, grace = lead("ada"), lead("grace")
    assert ada.post(RUNS, {"dataset": "none", "prompt_set": "paper-v1"}, format="json").status_code == 400
    assert ada.post(RUNS, {"dataset": "none", "prompt_set": "paper-v1"}, format="json").status_code == 429
    # Another user has a count of their own; listing runs is cheap and never throttled.
    assert grace.post(RUNS, {"dataset": "none", "prompt_set": "paper-v1"}, format="json").status_code == 400
    assert all(ada.get(RUNS).status_code == 200 for _ in range(5))


@pytest.mark.django_db
def test_a_scope_without_a_rate_is_not_throttled(settings: Any) -> None:
    settings.API_THROTTLE_RATES = {}
    client = lead()
    assert all(client.get("/api/validation/runs/999/agreement/").status_code == 404 for _ in range(5))


@pytest.mark.django_db
def test_the_counts_live_in_redis_where_every_web_process_sees_them(settings: Any, redis_url: str) -> None:
    from django.core.cache.backends.redis import RedisCache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    settings.API_THROTTLE_RATES = {"runs": "2/min"}
    client = lead()
    for _ in range(2):
        client.post(RUNS, {"dataset": "none", "prompt_set": "paper-v1"}, format="json")
    user_id = get_user_model().objects.get(username="lead").pk
    # A cache client of its own, as another web process would have, sees both requests counted.
    other_process = RedisCache(redis_url, {})
    assert len(other_process.get(f"throttle_runs_{user_id}")) == 2
    assert client.post(RUNS, {}, format="json").status_code == 429
    other_process.clear()


def _settings_of(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"API_THROTTLE_RATES", "CACHE_URL", "REDIS_URL"}}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.API_THROTTLE_RATES); print(settings.CACHES['default']['BACKEND'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.local", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_rates_and_the_cache_come_from_the_environment() -> None:
    default = _settings_of()
    assert "'runs': '10/min'" in default
    assert "LocMemCache" in default
    changed = _settings_of(API_THROTTLE_RATES="runs=3/hour", REDIS_URL="redis://127.0.0.1:6379/8")
    assert "'runs': '3/hour'" in changed
    assert "'taxonomy_builds': '5/min'" in changed
    assert "django.core.cache.backends.redis.RedisCache" in changed
