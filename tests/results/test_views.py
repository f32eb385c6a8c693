"""The residual analysis pages: login, roles, the strongest associations, and the privacy note."""

from __future__ import annotations

import math

import pytest
from django.test import Client
from scipy.stats import norm

from accounts.roles import Role
from results.models import ResidualAnalysis, ResidualCell
from results.selectors import residual_cells
from tests.pages import Loop, build_loop, client_as


@pytest.fixture
def loop(db: None) -> Loop:
    return build_loop()


def test_residual_pages_need_login_and_an_analyst_role(loop: Loop) -> None:
    for url in ["/analysis/residuals/", f"/analysis/residuals/{loop.residuals.pk}/"]:
        assert Client().get(url).status_code == 302, url
        assert client_as(Role.ANNOTATOR).get(url).status_code == 403, url
        assert client_as(Role.PROMPT_ENGINEER).get(url).status_code == 200, url


def test_residual_page_shows_the_associations_and_what_privacy_suppressed(loop: Loop) -> None:
    lead = client_as(Role.LEAD)
    text = lead.get(f"/analysis/residuals/{loop.residuals.pk}/").content.decode()
    # 21 conversations with both features (the task of alpha-21 was not parsed); empathy always goes with
    # relationship advice and accuracy with coding help: a perfect 2x2 association of 20, r = sqrt(20) = 4.47.
    assert "2 × 2 table from 21 conversations" in text
    assert f"|r| ≥ {norm.isf(0.05 / 2 / 2):.2f}" in text  # Bonferroni over the 2 row values, two-sided
    significant = text.split("<h2>Significant associations</h2>")[1].split("<h2>")[0]
    # A cell over the privacy threshold links to its conversations (tests/results/test_residual_links.py).
    assert f"empathy · relationship advice</a></td>\n    <td>{math.sqrt(20):.2f}</td><td>10</td>" in significant
    assert "<td>empathy</td><td>coding help</td><td>-4.47</td><td>0</td>" in significant
    positive = text.split("<h2>Strongest positive associations</h2>")[1].split("<h2>")[0]
    assert "-4.47" not in positive
    negative = text.split("<h2>Strongest negative associations</h2>")[1]
    assert "<td>4.47</td>" not in negative
    # The Figure 3 chart: a panel per task with its positive cells (empathy, accuracy), both over the line.
    figure = text.split('<figure class="chart" id="chart-residual-panels">')[1].split("</figure>")[0]
    assert figure.count('class="mark') == 2
    assert figure.count('fill="#bbbbbb"') == 0
    assert "relationship advice / empathy: residual 4.47" in figure
    assert "coding help / accuracy: residual 4.47" in figure
    assert f"critical {norm.isf(0.05 / 2 / 2):.2f}" in figure
    # dominance is in 2 conversations, under k = 5: counted in the note, shown nowhere.
    assert "Privacy threshold k = 5." in text
    assert "1 ai_values value, 0 task values" in text
    assert "dominance" not in text
    listing = lead.get("/analysis/residuals/").content.decode()
    assert f'<a href="/analysis/residuals/{loop.residuals.pk}/">ai_values × task</a>' in listing
    assert lead.get("/analysis/residuals/999999/").status_code == 404


def test_significant_cells_are_found_at_both_ends_including_the_critical_value_itself(db: None) -> None:
    analysis = ResidualAnalysis.objects.create(row_feature="ai_values", col_feature="task", critical_value=4.33)
    for i, (residual, significant) in enumerate([(6.0, True), (4.33, True), (4.2, False), (0.5, False), (-4.33, True)]):
        stats = {"observed": 1, "expected": 1.0, "p_value": 0.5, "p_exact": 0.5, "odds_ratio": 1.0, "or_low": 0.5}
        ResidualCell.objects.create(
            analysis=analysis,
            row_label=f"v{i}",
            col_label="t",
            residual=residual,
            significant=significant,
            **stats,
            or_high=2.0,
            or_corrected=False,
        )
    found = [c.residual for c in residual_cells(analysis=analysis, significant=True)]
    assert found == [6.0, 4.33, -4.33]
    assert [c.residual for c in residual_cells(analysis=analysis, significant=False)] == [4.2, 0.5]
