"""The extraction run page: login, roles, and the run's progress, per-feature counts, cost and failures."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.roles import Role
from extraction.costs import TokenCounts, call_cost, price_for, settings_prices
from extraction.models import Extraction
from extraction.services import run_create, run_execute
from tests.extraction.conftest import USAGE, RecordingsWriter
from tests.pages import client_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_id(small_dataset: Any, write_recordings: RecordingsWriter) -> int:
    write_recordings(overrides={("s1", "response_type"): "<thinking>t</thinking><answer>cheering</answer>"})
    run = run_create(dataset="small", prompt_set="paper-v1", provider="replay")
    run_execute(run=run)
    return run.pk


def test_run_page_needs_login_and_a_run_role(run_id: int) -> None:
    url = f"/extraction/runs/{run_id}/"
    assert Client().get(url)["Location"].startswith("/accounts/login/")
    assert client_as(Role.ANNOTATOR).get(url).status_code == 403
    assert client_as(None).get(url).status_code == 403
    assert client_as(Role.PROMPT_ENGINEER).get(url).status_code == 200
    assert client_as(Role.LEAD).get("/extraction/runs/999999/").status_code == 404


def test_run_page_shows_progress_counts_cost_and_failures(run_id: int) -> None:
    text = client_as(Role.LEAD).get(f"/extraction/runs/{run_id}/").content.decode()
    # 4 conversations, 2 pass the filter: 4 subjectivity items + 2 x 5 gated features = 14, all answered.
    assert "100.0%:\n  14 of 14 items answered (1 could not be parsed), 0 failed, 0 pending." in text
    assert "2 of 4 conversations passed the subjectivity filter." in text
    rows = dict(re.findall(r"<tr><td>(\w+)</td><td>(\d+</td><td>\d+</td><td>\d+</td><td>\d+)</td>", text))
    assert rows["subjectivity"] == "4</td><td>4</td><td>0</td><td>0"
    assert rows["response_type"] == "2</td><td>1</td><td>1</td><td>0"
    assert rows["ai_values"] == "2</td><td>2</td><td>0</td><td>0"
    # Every request used the same recorded usage: the cost is that of each row's model, summed.
    prices = settings_prices()
    usage = TokenCounts(**USAGE.__dict__)
    total = sum(
        (call_cost(usage, price_for(model, prices)) for model in Extraction.objects.values_list("model", flat=True)),
        Decimal(0),
    )
    assert f"<strong>${total:.6f}</strong> for 4 conversations" in text
    assert f"<strong>${total * 250:.4f}</strong> per 1,000 conversations" in text
    figure = re.search(r'<figure class="chart" id="chart-cost-per-feature">(.*?)</figure>', text, re.S)
    assert figure
    assert figure.group(1).count('class="mark') == 6  # one bar per feature with rows
    by_feature = {
        f: sum(Decimal(str(c)) for c in Extraction.objects.filter(feature=f).values_list("cost_usd", flat=True))
        for f in ("subjectivity", "ai_values")
    }
    assert f"subjectivity: ${by_feature['subjectivity']:,.4f}" in figure.group(1)
    assert f"ai_values: ${by_feature['ai_values']:,.4f}" in figure.group(1)
    conversation = Extraction.objects.get(status="parse_error").conversation
    assert f'<a href="/conversations/{conversation.pk}/?run={run_id}">s1</a></td><td>response_type</td>' in text
    assert "cheering" in text  # the raw answer that could not be parsed
    assert f'href="/datasets/{conversation.dataset_id}/?run={run_id}">The run\'s 4 conversations' in text
