"""The demo's review loop against the session's Label Studio: example reviews in, pulled back, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from annotate import demo
from annotate.local_server import LocalLabelStudio
from annotate.models import Annotation
from corpus.models import Dataset
from extraction.models import Extraction
from tests.annotate.factories import run_with_extractions
from tests.annotate.test_blind_review import web_login

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def test_example_reviews_file_is_well_formed_and_marked() -> None:
    reviews = demo.example_reviews_read()
    assert {r.reviewer for r in reviews} == {
        "reviewer-ada@example.org",
        "reviewer-grace@example.org",
        "reviewer-alan@example.org",
    }
    assert {r.conversation for r in reviews} == {f"sample-{i:03d}" for i in range(1, 51)}
    assert all("written for the project" in line for line in demo.REVIEWS.read_text().splitlines())


@pytest.mark.django_db(transaction=True)
def test_demo_step_pushes_loads_the_example_reviews_and_pulls_them_back(
    local_label_studio: LocalLabelStudio, settings: Any
) -> None:
    settings.LABEL_STUDIO_DATA_DIR = str(local_label_studio.data_dir)
    settings.LABEL_STUDIO_PORT = local_label_studio.port
    settings.LABEL_STUDIO_API_KEY = local_label_studio.api_key
    dataset = Dataset.objects.create(name="sample")
    run_with_extractions(50, dataset=dataset)
    for n, conversation in enumerate(dataset.conversations.order_by("pk"), start=1):
        conversation.external_id = f"sample-{n:03d}"
        conversation.save()
    # As the pipeline does for a conversation it judged not subjective: no response type, no values. Example
    # reviews of those outputs exist (reviewer-alan's only one of sample-004 among them) and are not made.
    Extraction.objects.filter(conversation__external_id="sample-004").exclude(feature="subjectivity").delete()

    lines = demo.step_review_loop()
    assert lines[0].startswith(f"Label Studio: {local_label_studio.url}  (log in as ")
    reviews = demo.example_reviews_read()
    produced = [r for r in reviews if r.conversation != "sample-004" or r.review.feature == "subjectivity"]
    expected = {(r.reviewer, r.conversation, r.review.feature, r.review.verdict) for r in produced}
    stored = {
        (a.annotator.email, a.item.conversation.external_id, a.feature, a.verdict)
        for a in Annotation.objects.filter(deleted=False).select_related("annotator", "item__conversation")
    }
    assert stored == expected
    # Every example review made in Label Studio arrives in the app: as many pulled in as created.
    tasks = len({(r.reviewer, r.conversation) for r in produced})
    assert tasks == 109
    assert f"150 tasks pushed now, {tasks} example reviews created, {tasks} annotations pulled in" in lines[1]
    assert f"({len(reviews) - len(produced)} example reviews of outputs the run did not produce" in lines[1]

    # Each reviewer's printed login opens their own project, and only it.
    logins = dict(line.split("reviewer login ", 1)[1].split(" / ") for line in lines if "reviewer login " in line)
    assert sorted(logins) == sorted({r.reviewer for r in reviews})
    seen = set()
    for email, password in logins.items():
        web = web_login(local_label_studio.url, email, password)
        (project,) = web.get("/api/projects").json()["results"]
        assert email.split("@")[0][:18] in project["title"]
        seen.add(project["id"])
    assert len(seen) == 3

    before = Annotation.objects.count()
    again = demo.step_review_loop()
    assert "0 tasks pushed now, 0 example reviews created, 0 annotations pulled in" in again[1]
    assert Annotation.objects.count() == before
