"""The adjudication pages on the demo's example reviews: flags found, leads only, one output settled, the agreement
report changed by exactly that output, and each reviewer's progress."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts.roles import Role, user_add_role
from annotate.models import Adjudication, Annotation, Annotator, FlagRule, ReviewFlag
from annotate.selectors import adjudication_queue, flag_counts
from annotate.services import adjudication_record
from extraction.models import Extraction
from tests.pages import client_as
from tests.workbench.demo_reviews import DemoLoop, demo_loop
from validation.selectors import agreement_report_for_run
from workbench import adjudication

pytestmark = pytest.mark.slow


@pytest.fixture
def loop(db: None) -> DemoLoop:
    return demo_loop()


def _response_type_share(run_id: int) -> dict[str, int]:
    report = agreement_report_for_run(run_id=run_id, n_boot=10)
    return next(r for r in report["agreement"]["feature"] if r["feature"] == "response_type")


def test_the_demos_example_reviews_are_flagged(loop: DemoLoop) -> None:
    by_feature = Counter(
        ReviewFlag.objects.filter(rule=FlagRule.CORRECT_BUT_CHANGED).values_list("annotation__feature", flat=True)
    )
    # The figure found by trying the demo: 43 response-type reviews say "correct" while changing the label.
    assert by_feature["response_type"] == 43
    unparsable = ReviewFlag.objects.filter(rule=FlagRule.UNPARSABLE_OUTPUT)
    # sample-016's response type could not be parsed ("mild_support or neutral_acknowledgment"); ada and grace
    # judged it anyway.
    assert sorted(unparsable.values_list("annotation__item__conversation__external_id", flat=True)) == [
        "sample-016",
        "sample-016",
    ]
    counts = flag_counts(run_id=loop.run.pk)
    assert counts[FlagRule.INCORRECT_UNEXPLAINED] == 4
    assert sum(counts.values()) == ReviewFlag.objects.count() == 43 + 10 + 4 + 2
    report = agreement_report_for_run(run_id=loop.run.pk, n_boot=10)
    assert report["flags"]["total"] == 59


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.PROMPT_ENGINEER])
def test_adjudication_is_for_leads_only(loop: DemoLoop, role: str) -> None:
    target = adjudication_queue(run_id=loop.run.pk)[0].extraction_id
    client = client_as(role)
    assert client.get(reverse("adjudication-list-page")).status_code == 403
    assert client.get(reverse("adjudication-page", args=[target])).status_code == 403
    response = client.post(reverse("adjudication-page", args=[target]), {"verdict": "correct"})
    assert response.status_code == 403
    assert not Adjudication.objects.exists()
    anonymous = Client().get(reverse("adjudication-list-page"))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_a_lead_settles_one_output_and_the_agreement_report_changes(loop: DemoLoop) -> None:
    lead = client_as(Role.LEAD)
    listing = lead.get(reverse("adjudication-list-page") + f"?run={loop.run.pk}").content.decode()
    queue = adjudication_queue(run_id=loop.run.pk)
    assert f'<span id="open-count">{len(queue)}</span>' in listing
    # sample-001's response type: the model said mild_support; ada and alan judged it "correct" yet labelled it
    # neutral_acknowledgment (both flagged), grace judged it incorrect ("I would call it mild support", the model's
    # own label): 2 of 3 said correct, so the majority counts it correct. The lead goes by the labels.
    target = next(e for e in queue if e.external_id == "sample-001" and e.feature == "response_type")
    assert (target.n_correct, target.n_reviews, target.verdicts_differ) == (2, 3, True)
    page = lead.get(reverse("adjudication-page", args=[target.extraction_id])).content.decode()
    assert page.count("reviewer-") >= 3
    assert "I would call it mild support." in page
    before = _response_type_share(loop.run.pk)

    response = lead.post(
        reverse("adjudication-page", args=[target.extraction_id]),
        {"verdict": "incorrect", "labels": "neutral_acknowledgment", "comment": "ada and alan labelled it so"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/adjudication/"), "on to the next output to settle"
    after = _response_type_share(loop.run.pk)
    assert (after["n"], after["correct"], after["adjudicated"]) == (before["n"], before["correct"] - 1, 1)
    report = agreement_report_for_run(run_id=loop.run.pk, n_boot=10)
    assert [(a["external_id"], a["majority"], a["adjudicated"]) for a in report["adjudicated"]] == [
        ("sample-001", "correct", "incorrect")
    ]
    listing = lead.get(reverse("adjudication-list-page") + f"?run={loop.run.pk}").content.decode()
    assert f'<span id="open-count">{len(queue) - 1}</span>' in listing


def test_a_decision_that_cannot_be_recorded_is_shown_not_stored(loop: DemoLoop) -> None:
    target = next(e for e in adjudication_queue(run_id=loop.run.pk) if e.feature == "response_type")
    response = client_as(Role.LEAD).post(
        reverse("adjudication-page", args=[target.extraction_id]), {"verdict": "incorrect", "labels": "quite nice"}
    )
    assert response.status_code == 400
    assert "the response type is one of" in response.content.decode()
    assert not Adjudication.objects.exists()


def test_reviewer_progress_on_the_dashboard_and_the_annotators_home(loop: DemoLoop) -> None:
    # Independent of the review app: tasks and seconds per task straight from sample/reviews.jsonl, keeping the
    # conversations where the model produced an output the reviewer judged (a review of nothing is not stored:
    # alan's review of sample-004 judges a response type the subjectivity filter never let the model extract).
    outputs = set(loop.run.extractions.values_list("conversation__external_id", "feature"))
    seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    judged: dict[str, set[str]] = defaultdict(set)
    for r in loop.reviews:
        seconds[r.reviewer][r.conversation] += r.lead_time_s
        if (r.conversation, r.review.feature) in outputs:
            judged[r.reviewer].add(r.conversation)
    lead_page = client_as(Role.LEAD).get(reverse("home")).content.decode()
    assert {email: len(done) for email, done in judged.items()} == {
        "reviewer-ada@example.org": 50,
        "reviewer-grace@example.org": 50,
        "reviewer-alan@example.org": 9,
    }
    for email, done in judged.items():
        median = statistics.median(seconds[email][c] for c in done)
        assert f"<td>{email}</td><td>sample {loop.sample.pk}</td><td>{len(done)} of 50</td>" in lead_page
        assert f"<td>{median:.0f}</td>" in lead_page
    user = get_user_model().objects.create_user(username="ada", password="x")
    user_add_role(user=user, role=Role.ANNOTATOR)
    ada = Annotator.objects.get(email="reviewer-ada@example.org")
    ada.user = user
    ada.save()
    client = Client()
    client.force_login(user)
    home = client.get(reverse("home")).content.decode()
    project = ada.projects.get()
    assert f"<td>sample {loop.sample.pk}</td><td>50 of 50</td>" in home
    assert f'href="http://127.0.0.1:8089/projects/{project.label_studio_project_id}/data">open my queue' in home
    assert "reviewer-grace" not in home, "an annotator sees no one else's queue"


def _stood_by(review: Annotation, machine: list[str]) -> tuple[str, ...] | None:
    """The labels a reviewer stands by: their correction, else the model's when they said correct."""
    if review.corrected_labels is not None:
        labels = review.corrected_labels
    elif review.verdict == "correct":
        labels = machine
    else:
        return None
    return tuple(sorted({str(x).strip().lower() for x in labels if str(x).strip()}))


def _queue_by_hand(run_id: int) -> list[int]:
    """The outputs to list, from the raw reviews: two verdicts, two sets of labels stood by, or a flag; in the
    list's order (by conversation, then feature)."""
    reviews: dict[int, list[Annotation]] = defaultdict(list)
    live = Annotation.objects.filter(item__sample__run_id=run_id, deleted=False).exclude(verdict="")
    for a in live.select_related("extraction__conversation"):
        reviews[a.extraction_id].append(a)
    flagged = set(
        ReviewFlag.objects.filter(annotation__deleted=False).values_list("annotation__extraction_id", flat=True)
    )
    listed: list[tuple[str, str, int]] = []
    for extraction_id, rows in reviews.items():
        machine = rows[0].extraction.labels or []
        stood_by = {k for r in rows if (k := _stood_by(r, machine)) is not None}
        if len({r.verdict for r in rows}) > 1 or len(stood_by) > 1 or extraction_id in flagged:
            listed.append((rows[0].extraction.conversation.external_id, rows[0].feature, extraction_id))
    return [extraction_id for *_, extraction_id in sorted(listed)]


def test_the_list_is_paged_with_its_counts_over_every_page(loop: DemoLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adjudication, "PAGE_SIZE", 10)
    expected = _queue_by_hand(loop.run.pk)
    assert [e.extraction_id for e in adjudication_queue(run_id=loop.run.pk)] == expected
    assert len(expected) > 20, "enough outputs for three pages"
    settled = expected[3]
    adjudication_record(extraction_id=settled, verdict="correct")
    in_order = [e for e in expected if e != settled] + [settled]  # settled last
    lead = client_as(Role.LEAD)
    url = reverse("adjudication-list-page") + f"?run={loop.run.pk}"
    for number in (1, 2):
        page = lead.get(url + f"&page={number}").content.decode()
        rows = re.findall(r'href="/adjudication/(\d+)/"', page)
        assert [int(r) for r in rows] == in_order[(number - 1) * 10 : number * 10]
        assert (
            f'<span id="open-count">{len(expected) - 1}</span> of <span id="listed-count">{len(expected)}</span>'
            in page
        )
        assert f"page {number} of {math.ceil(len(expected) / 10)}" in page
    last = lead.get(url + "&page=999").content.decode()
    assert [int(r) for r in re.findall(r'href="/adjudication/(\d+)/"', last)][-1] == settled, "the last page"


def _accepted(extraction_id: int) -> dict[str, str]:
    """The form of a lead who accepts the model's output as it is."""
    extraction = Extraction.objects.get(pk=extraction_id)
    return {"verdict": "correct", "labels": "\n".join(extraction.labels or []), "level": str(extraction.level or "")}


def test_settling_an_output_leads_to_the_next_one_waiting(loop: DemoLoop) -> None:
    expected = _queue_by_hand(loop.run.pk)
    lead = client_as(Role.LEAD)
    adjudication_record(extraction_id=expected[0], verdict="correct")
    response = lead.post(reverse("adjudication-page", args=[expected[2]]), _accepted(expected[2]))
    # The first still waiting, settled ones and the one just settled skipped.
    assert response["Location"] == reverse("adjudication-page", args=[expected[1]])
    for extraction_id in expected[3:]:
        adjudication_record(extraction_id=extraction_id, verdict="correct")
    response = lead.post(reverse("adjudication-page", args=[expected[1]]), _accepted(expected[1]))
    assert response["Location"] == reverse("adjudication-list-page") + f"?run={loop.run.pk}", "none left: the list"
