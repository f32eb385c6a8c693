"""The queued push (API -> Celery task) sets up blind review exactly as `push_reviews` does: one push service.

Against the session's real Label Studio, configured as the one the app manages: a lead queues the push through
the API; every reviewer ends up in an organization of their own, the sample's reviews are independent, and a
reviewer (with the login a lead hands over with `reviewer_login`) sees only their own project.
"""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.roles import Role
from annotate import services
from annotate.label_studio import LabelStudio
from annotate.local_server import LocalLabelStudio
from annotate.models import Annotator, LabelStudioProject
from annotate.selectors import sample_independence
from tests.annotate.factories import run_with_extractions
from tests.annotate.test_blind_review import web_login
from tests.clients import client_for

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def _manage(settings: Any, server: LocalLabelStudio) -> None:
    """Configure the app as it is with `make labelstudio`: the session's server is the one it manages."""
    settings.LABEL_STUDIO_URL = server.url
    settings.LABEL_STUDIO_PORT = server.port
    settings.LABEL_STUDIO_DATA_DIR = str(server.data_dir)
    settings.LABEL_STUDIO_API_KEY = server.api_key


@pytest.mark.django_db(transaction=True)
def test_a_push_queued_through_the_api_gives_every_reviewer_an_organization_of_their_own(
    settings: Any, local_label_studio: LocalLabelStudio, label_studio: LabelStudio, django_user_model: Any
) -> None:
    _manage(settings, local_label_studio)
    run = run_with_extractions(4)
    sample = services.review_sample_create(run_id=run.pk, strategy="random", size=4, seed=5)
    tag = uuid.uuid4().hex[:6]
    emails = [f"queued-{tag}-{i}@example.org" for i in range(3)]
    ids = [services.annotator_get_or_create(email=e).pk for e in emails]
    services.review_sample_assign(sample_id=sample.pk, annotator_ids=ids, reviewers_per_item=2)

    lead: APIClient = client_for(django_user_model, Role.LEAD)
    answer = lead.post(f"/api/annotate/samples/{sample.pk}/push/")
    assert answer.status_code == 202, answer.content

    reviewers = list(Annotator.objects.filter(pk__in=ids))
    assert len({a.label_studio_organization_id for a in reviewers}) == 3
    assert all(a.label_studio_token for a in reviewers)
    projects = LabelStudioProject.objects.filter(sample=sample)
    assert projects.count() == 3
    assert all(p.independent for p in projects)
    independence = sample_independence(sample_id=sample.pk)
    assert independence.independent, independence.as_dict()
    listed = lead.get("/api/annotate/samples/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert next(r for r in rows if r["id"] == sample.pk)["independence"]["independent"] is True
    # The admin of the shared organization no longer sees the reviewers' projects.
    assert not set(label_studio.projects()) & {int(p.label_studio_project_id or 0) for p in projects}

    # Nobody saw the passwords of the accounts the queued push made: a lead hands one over on demand.
    out = io.StringIO()
    call_command("reviewer_login", emails[0], stdout=out)
    password = re.search(rf"{re.escape(emails[0])}: (\S+)", out.getvalue())
    assert password is not None
    web = web_login(local_label_studio.url, emails[0], password.group(1))
    mine = projects.get(annotator__email=emails[0])
    assert {p["id"] for p in web.get("/api/projects").json()["results"]} == {mine.label_studio_project_id}
    for other in projects.exclude(pk=mine.pk):
        assert web.get(f"/api/projects/{other.label_studio_project_id}").status_code in (403, 404)
    tasks = web.get("/api/tasks", params={"project": mine.label_studio_project_id}).json()["tasks"]
    assert len(tasks) == mine.tasks.count() > 0
