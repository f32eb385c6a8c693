"""The trust page: role-checked, the verdict first with its charts, snapshots over time, targets set by leads."""

from __future__ import annotations

import re

from django.test import Client

from accounts.roles import Role
from annotate.models import Annotation, ReviewItem, ReviewSample
from tests.pages import client_as
from tests.validation.conftest import Study
from validation.models import ReportSnapshot, TrustTarget
from validation.services import agreement_snapshot_create


def test_page_requires_a_role(study: Study) -> None:
    url = f"/validation/runs/{study.run.pk}/"
    assert Client().get(url).status_code == 302  # to the login page
    assert client_as(Role.ANNOTATOR).get(url).status_code == 403


def test_page_shows_history_and_takes_a_snapshot(study: Study) -> None:
    agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    lead = client_as(Role.LEAD)
    page = lead.get(f"/validation/runs/{study.run.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Snapshots over time" in text
    assert "80.0% ±" in text  # response type: 16 of 20
    assert "Krippendorff" in text
    posted = lead.post(f"/validation/runs/{study.run.pk}/")
    assert posted.status_code == 302
    assert ReportSnapshot.objects.count() == 2
    newest = ReportSnapshot.objects.first()
    assert newest is not None
    assert posted["Location"].endswith(f"?snapshot={newest.pk}")
    assert lead.get("/validation/runs/999999/").status_code == 404


def _figure(text: str, slug: str) -> str:
    found = re.search(rf'<figure class="chart" id="chart-{slug}">(.*?)</figure>', text, re.S)
    assert found, slug
    return found.group(1)


def test_trust_page_opens_with_the_verdict_then_draws_every_chart(study: Study) -> None:
    snap = agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    text = client_as(Role.LEAD).get(f"/validation/runs/{study.run.pk}/").content.decode()
    assert text.index('class="verdicts"') < text.index("<h2>Charts</h2>") < text.index("Reliability among reviewers")
    # Response type, 16 of 20 correct: Wilson [58.4%, 91.9%], under 95% even at its upper end.
    row = re.search(r"<td>response_type</td>.*?</tr>", text, re.S)
    assert row
    assert "below target" in row.group(0)
    assert "80.0% ± 16.8%, n = 20" in row.group(0)
    features = snap.payload["agreement"]["feature"]
    assert _figure(text, "agreement").count('class="mark') == len(features)
    labels = snap.payload["response_type_confusion"]["labels"]
    assert _figure(text, "confusion").count('class="mark') == len(labels) ** 2
    pairs = {
        tuple(sorted(p["annotators"]))
        for entry in snap.payload["reliability"].values()
        for p in (entry.get("verdict") or {}).get("cohen_kappa_pairs", [])
    }
    assert _figure(text, "reviewer-agreement").count('class="mark') == 2 * len(pairs) > 0
    assert _figure(text, "agreement-trend").count('class="mark') == len(features)  # one snapshot
    assert "data:text/csv;charset=utf-8," in _figure(text, "agreement")
    assert "<script" not in text
    assert ' style="' not in text.split("<nav>", 1)[1].split("</nav>", 1)[1]


def test_only_leads_set_targets_and_a_runs_own_target_overrides_the_project_default(study: Study) -> None:
    agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    url = f"/validation/runs/{study.run.pk}/targets/"
    form = {"feature": "response_type", "scope": "project", "share_pct": "75", "half_width_pct": "20"}
    assert client_as(Role.PROMPT_ENGINEER).post(url, form).status_code == 403
    lead = client_as(Role.LEAD)
    assert lead.post(url, form).status_code == 302
    page = lead.get(f"/validation/runs/{study.run.pk}/").content.decode()
    row = re.search(r"<td>response_type</td>.*?</tr>", page, re.S)
    assert row
    assert "trusted" in row.group(0)  # 80.0% ± 16.8% meets ≥ 75% ± 20%
    assert "(project)" in row.group(0)
    assert lead.post(url, {**form, "scope": "run", "share_pct": "90"}).status_code == 302
    row = re.search(
        r"<td>response_type</td>.*?</tr>", lead.get(f"/validation/runs/{study.run.pk}/").content.decode(), re.S
    )
    assert row
    assert "below target" in row.group(0)
    assert "≥ 90.0% ± 20.0%" in row.group(0)
    assert "(run)" in row.group(0)
    assert TrustTarget.objects.count() == 2
    bad = lead.post(url, {**form, "share_pct": "140"})
    assert bad.status_code == 400
    assert "Ensure this value is less than or equal to 100" in bad.content.decode()
    assert TrustTarget.objects.count() == 2
    assert (
        "Set a feature&#x27;s target"
        not in client_as(Role.PROMPT_ENGINEER).get(f"/validation/runs/{study.run.pk}/").content.decode()
    )


def _stratified_disproportionate(study: Study) -> None:
    """The study's sample read as stratified with 900 short and 100 long conversations in the run, 10 of each
    reviewed (the long ones oversampled nine-fold); the short outputs' response types all judged correct."""
    ReviewSample.objects.filter(pk=study.sample.pk).update(
        strategy="stratified", params={"stratum_sizes": {"short": 900, "long": 100}}
    )
    ReviewItem.objects.filter(sample=study.sample, stratum="short").update(inclusion_probability=10 / 900)
    ReviewItem.objects.filter(sample=study.sample, stratum="long").update(inclusion_probability=10 / 100)
    Annotation.objects.filter(extraction__prompt_version=study.rt, item__stratum="short").update(
        verdict="correct", corrected_labels=None
    )


def test_agreement_page_shows_the_design_its_weights_and_the_weighted_estimate(study: Study) -> None:
    _stratified_disproportionate(study)
    agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    text = client_as(Role.LEAD).get(f"/validation/runs/{study.run.pk}/").content.decode()
    section = text[text.index('id="design"') : text.index("<h2>Charts</h2>")]
    assert f"Sample {study.sample.pk}: stratified" in section
    assert "π = n_h / N_h within each stratum h" in section
    assert "Population: 1000 outputs" in section
    assert "strata combined by their population shares" in section
    # 1/π: 90 for the 10 short outputs, 10 for the 10 long ones.
    assert "min 10.0, median 50.0" in section
    assert "max 90.0" in section
    # Strata, read on the feature with the most reviewed outputs (AI values: two prompt versions per conversation).
    assert "reviewed ai_values outputs" in section
    short = re.search(r"<td>short</td><td>900</td><td>90.0%</td>\s*<td>20</td><td>50.0%</td><td>90.0</td>", section)
    assert short is not None
    # Response type: 18 of 20 reviewed correct (90%), but short outputs are 90% of the run and all correct:
    # 0.9 · 100% + 0.1 · 80% = 98.0%.
    row = re.search(r"<td>response_type</td><td>20</td>\s*<td>90.0% <span class=\"muted\">\(18 of 20\)</span></td>\s*"
                    r"<td>98.0% ±", section)  # fmt: skip
    assert row is not None
    verdicts = text[text.index('id="verdict"') : text.index('id="design"')]
    assert re.search(r"98.0% ± [0-9.]+%, n = 20 \(stratified, weighted\)", verdicts)


def test_agreement_page_says_a_find_errors_sample_is_no_estimate_for_the_run(study: Study) -> None:
    ReviewSample.objects.filter(pk=study.sample.pk).update(strategy="find_errors")
    agreement_snapshot_create(run_id=study.run.pk, n_boot=10)
    text = client_as(Role.LEAD).get(f"/validation/runs/{study.run.pk}/").content.decode()
    section = text[text.index('id="design"') : text.index("<h2>Charts</h2>")]
    assert "Not an estimate for the run." in section
    assert '80.0% <span class="muted">(16 of 20)</span>' in section  # the reviewed outputs' share, unweighted
    assert "<strong>none</strong>" in section
    verdicts = text[text.index('id="verdict"') : text.index('id="design"')]
    assert "no estimate for the run" in verdicts
    assert "80.0% ±" not in verdicts
