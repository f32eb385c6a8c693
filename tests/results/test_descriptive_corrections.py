"""The descriptive page shows, beside a run's LLM-only shares, the shares corrected by the run's reviews."""

from __future__ import annotations

import re

from accounts.roles import Role
from tests.pages import client_as
from tests.validation.conftest import Study, study  # noqa: F401  (the reviewed study fixture)


def _section(text: str, key: str) -> str:
    start = text.index(f'<section id="{key}">')
    return text[start : text.index("</section>", start)]


def test_descriptive_page_shows_ppi_gold_only_bias_and_effective_n_beside_the_llm_only_share(
    study: Study,  # noqa: F811
) -> None:
    text = client_as(Role.LEAD).get(f"/analysis/descriptive/?run={study.run.pk}").content.decode()
    response = _section(text, "response_types")
    assert "Corrected by the reviews" in response
    assert "20 reviewed of 20 conversations; weights: equal." in response
    # The classifier said strong support on all 20; reviewer A corrected every fifth to mild support. With every
    # conversation reviewed the corrected share is the gold share, 16 of 20, and the LLM-only bias +20 points.
    interval = r"\([0-9.]+% – [0-9.]+%\)"
    row = re.search(
        rf"<td>strong_support</td><td>100.0%</td><td>80.0% {interval}</td><td>80.0% {interval}</td>"
        r"<td>\+20.0 pts</td>\s*<td>20 \([+-]0\)</td>",
        response,
    )
    assert row is not None
    values = _section(text, "ai_values")
    assert "Corrected by the reviews" in values
    assert re.search(r"<td>honesty</td><td>100.0%</td>", values)


def test_descriptive_page_without_a_run_shows_no_correction(study: Study) -> None:  # noqa: F811
    text = client_as(Role.LEAD).get("/analysis/descriptive/").content.decode()
    assert "Corrected by the reviews" not in text
