"""The leads' page: role-checked, lists snapshots over time, takes a new one."""

from __future__ import annotations

from django.test import Client

from accounts.roles import Role
from tests.pages import client_as
from tests.validation.conftest import Study
from validation.models import ReportSnapshot
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
    assert "Over time" in text
    assert "80.0% ±" in text  # response type: 16 of 20
    assert "Krippendorff" in text
    posted = lead.post(f"/validation/runs/{study.run.pk}/")
    assert posted.status_code == 302
    assert ReportSnapshot.objects.count() == 2
    newest = ReportSnapshot.objects.first()
    assert newest is not None
    assert posted["Location"].endswith(f"?snapshot={newest.pk}")
    assert lead.get("/validation/runs/999999/").status_code == 404
