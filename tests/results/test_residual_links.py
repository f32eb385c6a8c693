"""A residual cell links to the conversations behind it, only where it passes the privacy threshold."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from accounts.roles import Role
from results.models import ResidualAnalysis
from tests.pages import build_loop, client_as

pytestmark = pytest.mark.django_db


def test_a_cell_over_the_threshold_lists_its_conversations_and_one_under_it_has_no_link() -> None:
    loop = build_loop()  # 10 conversations of empathy x relationship advice; dominance on 2, under k = 5
    client = client_as(Role.LEAD)
    text = client.get(reverse("residual-page", args=[loop.residuals.pk])).content.decode()
    links = {html.unescape(h) for h in re.findall(r'<a href="([^"]+)" title="The conversations of this cell">', text)}
    dataset = reverse("dataset-page", args=[loop.alpha.pk])
    empathy = f"{dataset}?&label=ai_values:empathy&label=task:relationship%20advice"
    assert empathy in links
    assert not any("dominance" in link for link in links)
    listed = re.findall(r">(alpha-\d\d)</a>", client.get(empathy).content.decode())
    assert listed == [f"alpha-{i:02d}" for i in range(10)]


def test_a_cell_under_the_analysis_threshold_is_shown_without_a_link() -> None:
    loop = build_loop()
    analysis = loop.residuals
    analysis.summary = {**analysis.summary, "min_conversations": 11}  # empathy x relationship advice has 10
    analysis.save(update_fields=["summary"])
    text = client_as(Role.LEAD).get(reverse("residual-page", args=[analysis.pk])).content.decode()
    assert "<td>empathy</td><td>relationship advice</td>" in text
    assert "The conversations of this cell" not in text


def test_an_analysis_over_every_dataset_links_nowhere() -> None:
    loop = build_loop()
    ResidualAnalysis.objects.filter(pk=loop.residuals.pk).update(dataset=None, run=None)
    text = client_as(Role.LEAD).get(reverse("residual-page", args=[loop.residuals.pk])).content.decode()
    assert "The conversations of this cell" not in text
