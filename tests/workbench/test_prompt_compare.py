"""The comparison grid on the demo: a gold set from the example reviews, paper-v1 against paper-v2 and fused-v1."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from accounts.roles import Role
from tests.pages import client_as
from tests.validation.demo_loop import demo_loop
from validation.models import GoldSet
from validation.services import gold_set_create_from_reviews

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def gold(settings: Any, tmp_path: Any) -> GoldSet:
    settings.EXTRACTION_CANDIDATES_DIR = tmp_path / "candidates"
    loop = demo_loop()
    return gold_set_create_from_reviews(name="demo", run_id=loop.run.pk)


def _url(gold: GoldSet, a: str, b: str, only: str = "") -> str:
    return reverse("prompt-compare-page") + f"?gold={gold.pk}&a={a}&b={b}&only={only}"


def test_the_grid_shows_the_verdict_and_filters_to_the_flipped_conversations(gold: GoldSet) -> None:
    client = client_as(Role.PROMPT_ENGINEER)
    page = client.get(_url(gold, "paper-v1/response_type", "paper-v2")).content.decode()
    # The demo's candidate fixes four response types and breaks two (tests/validation/test_gold_demo.py).
    assert "no detectable difference" in page
    grid = page.split('id="grid"')[1]
    cells = re.findall(r'<td class="(ok|wrong|none)">', grid)
    assert len(cells) == 2 * 31  # 31 conversations with a response-type gold label, two sides
    assert cells.count("wrong") >= 6  # every flipped conversation is wrong on one side
    differences = client.get(_url(gold, "paper-v1/response_type", "paper-v2", "differences")).content.decode()
    assert "6 of 31 conversations" in differences
    assert "sample-045" in differences
    failures = client.get(_url(gold, "paper-v1/response_type", "paper-v2", "failures")).content.decode()
    shown = int(re.search(r"(\d+) of 31 conversations", failures).group(1))  # type: ignore[union-attr]
    assert 6 <= shown < 31


def test_paper_v1_against_fused_v1_is_compared_per_feature(gold: GoldSet) -> None:
    page = client_as(Role.LEAD).get(_url(gold, "paper-v1", "fused-v1")).content.decode()
    verdicts = page.split('id="verdicts"')[1].split("</table>")[0]
    for feature in ("ai_values", "response_type", "subjectivity"):
        assert f"<td>{feature}</td>" in verdicts
    assert "Cost per 1,000 conversations" in page


def test_a_side_that_names_nothing_says_so(gold: GoldSet) -> None:
    response = client_as(Role.LEAD).get(_url(gold, "paper-v1", "no-such-set"))
    assert response.status_code == 400
    assert "no prompt version matches" in response.content.decode()


def test_an_annotator_is_refused_the_grid(gold: GoldSet) -> None:
    assert client_as(Role.ANNOTATOR).get(_url(gold, "paper-v1", "fused-v1")).status_code == 403


def test_a_version_page_shows_its_score_on_each_gold_set(gold: GoldSet) -> None:
    from extraction.models import PromptVersion

    version = PromptVersion.objects.get(prompt_set="paper-v2", feature="response_type")
    page = client_as(Role.PROMPT_ENGINEER).get(reverse("prompt-version-page", args=[version.pk])).content.decode()
    # paper-v2 is right on 28 of the 31 response types the reviewers settled (26 for paper-v1, above).
    assert "<td>demo v1</td><td>response_type</td><td>28/31 = 0.903</td>" in page
