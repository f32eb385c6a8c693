"""Blind review: each reviewer in a Label Studio organization of their own, the app acting there as them, drift.

Label Studio's community edition scopes projects, tasks, annotations and exports to the user's active
organization and has no roles inside one. On the Label Studio the app manages, :func:`annotators_blind_setup`
gives every reviewer an organization of their own (see ``annotate.local_server``) and keeps the token the app
acts with there; their projects are created in it and marked ``independent``. On a server the app does not
manage, projects stay in the shared organization, every reviewer can open every project, and the projects are
left not independent: the sample's status and the agreement report say "reviews not independent".

The labeling form is part of the measurement. Every member of an organization may edit a project's labeling
config, so the app stores the config it pushed and compares it with Label Studio's before it reads reviews:
a changed form marks the project ``DRIFTED`` and its reviews are not read (:func:`project_drift_check`).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from django.conf import settings
from django.db import transaction

from annotate.label_studio import LabelStudio, LabelStudioError
from annotate.local_server import LocalLabelStudio, ReviewerAccount, ReviewerSpec
from annotate.models import Annotator, LabelStudioProject, ProjectStatus

logger = logging.getLogger(__name__)


def _account_works(annotator: Annotator, client: LabelStudio) -> bool:
    """The stored token still belongs to the annotator's Label Studio user (a reset server forgets it)."""
    if not (annotator.label_studio_token and annotator.label_studio_organization_id):
        return False
    try:
        return client.as_user(annotator.label_studio_token).whoami().user_id == annotator.label_studio_user_id
    except LabelStudioError:
        return False


def annotators_blind_setup(
    *, annotator_ids: Sequence[int], passwords: Mapping[str, str], server: LocalLabelStudio, client: LabelStudio
) -> list[ReviewerAccount]:
    """Give each annotator an account and an organization of their own on the managed Label Studio.

    ``passwords`` (by e-mail) are used for accounts created now; an existing account keeps its password.
    Projects already pushed for an annotator are moved into their organization. Annotators whose stored
    token still works are left alone, so a rerun costs one request per annotator. Returns the accounts set
    up now (``created`` says which are new). Raises ``ValueError`` naming an annotator without a password.
    """
    annotators = [
        a for a in Annotator.objects.filter(pk__in=annotator_ids).order_by("pk") if not _account_works(a, client)
    ]
    if not annotators:
        return []
    missing = [a.email for a in annotators if not passwords.get(a.email)]
    if missing:
        raise ValueError(f"no Label Studio password for reviewer(s) {missing}")
    specs = [
        ReviewerSpec(
            email=a.email,
            password=passwords[a.email],
            project_ids=[
                int(i or 0)
                for i in a.projects.exclude(label_studio_project_id=None).values_list(
                    "label_studio_project_id", flat=True
                )
            ],
        )
        for a in annotators
    ]
    accounts = {account.email: account for account in server.reviewers_setup(specs)}
    with transaction.atomic():
        for annotator in annotators:
            account = accounts[annotator.email]
            annotator.label_studio_user_id = account.user_id
            annotator.label_studio_organization_id = account.organization_id
            annotator.label_studio_token = account.api_key
            annotator.save(update_fields=["label_studio_user_id", "label_studio_organization_id", "label_studio_token"])
            annotator.projects.exclude(label_studio_project_id=None).update(independent=True)
    return list(accounts.values())


def project_client(project: LabelStudioProject, client: LabelStudio) -> LabelStudio:
    """The client that acts on ``project``: as its reviewer in their own organization, else ``client`` itself."""
    token = project.annotator.label_studio_token
    return client.as_user(token) if token else client


def project_is_blind(project: LabelStudioProject) -> bool:
    """Whether a project created now would be hidden from the other reviewers by Label Studio itself."""
    return bool(project.annotator.label_studio_token and project.annotator.label_studio_organization_id)


def _normalised(config: str) -> str:
    return re.sub(r">\s+<", "><", config.strip())


def label_config_same(a: str, b: str) -> bool:
    """Whether two labeling configs are the same form (whitespace between tags aside)."""
    return _normalised(a) == _normalised(b)


def project_drift_check(*, project: LabelStudioProject, client: LabelStudio) -> bool:
    """Compare Label Studio's labeling config of the project with the one pushed; mark it drifted if they differ.

    Returns whether the project is drifted (now or already). A project pushed before configs were stored has
    nothing to compare with and is not drifted.
    """
    if project.status == ProjectStatus.DRIFTED:
        return True
    if not project.label_config or project.label_studio_project_id is None:
        return False
    current = client.project_label_config(int(project.label_studio_project_id))
    if label_config_same(current, project.label_config):
        return False
    detail = (
        f"the labeling config of Label Studio project {project.label_studio_project_id} ({project.title!r}) was "
        f"changed in Label Studio at {client.url}; its reviews are not read. Restore the form with "
        "`push_reviews --restore-config` once you have checked what changed."
    )
    LabelStudioProject.objects.filter(pk=project.pk).update(status=ProjectStatus.DRIFTED, status_detail=detail)
    project.status, project.status_detail = ProjectStatus.DRIFTED, detail
    logger.warning("%s", detail)
    return True


def managed_server() -> LocalLabelStudio | None:
    """The local Label Studio the app runs (``make labelstudio``), when the configured URL is that one."""
    server = LocalLabelStudio(data_dir=Path(settings.LABEL_STUDIO_DATA_DIR), port=settings.LABEL_STUDIO_PORT)
    if settings.LABEL_STUDIO_URL.rstrip("/") != server.url or not (server.data_dir / "credentials.env").exists():
        return None
    return server


def sample_blind_setup(*, sample_id: int, server: LocalLabelStudio, client: LabelStudio) -> dict[str, str]:
    """:func:`annotators_blind_setup` for every annotator of a sample; returns the logins of accounts made now.

    A new account gets a random password, returned once (by e-mail) for the lead to hand over.
    """
    ids = list(LabelStudioProject.objects.filter(sample_id=sample_id).values_list("annotator_id", flat=True))
    emails = Annotator.objects.filter(pk__in=ids).values_list("email", flat=True)
    passwords = {email: secrets.token_urlsafe(12) for email in emails}
    accounts = annotators_blind_setup(annotator_ids=ids, passwords=passwords, server=server, client=client)
    return {a.email: passwords[a.email] for a in accounts if a.created}


def reviewer_login_reset(*, email: str, server: LocalLabelStudio) -> str:
    """A new random Label Studio password for a reviewer (set up first if needed); returned once.

    For a reviewer whose account a queued push created: that push hands the password to nobody.
    """
    annotator = Annotator.objects.get(email__iexact=email.strip())
    password = secrets.token_urlsafe(12)
    pushed = annotator.projects.exclude(label_studio_project_id=None)
    project_ids = [int(i or 0) for i in pushed.values_list("label_studio_project_id", flat=True)]
    spec = ReviewerSpec(email=annotator.email, password=password, project_ids=project_ids, reset_password=True)
    (account,) = server.reviewers_setup([spec])
    annotator.label_studio_user_id = account.user_id
    annotator.label_studio_organization_id = account.organization_id
    annotator.label_studio_token = account.api_key
    annotator.save(update_fields=["label_studio_user_id", "label_studio_organization_id", "label_studio_token"])
    annotator.projects.exclude(label_studio_project_id=None).update(independent=True)
    return password
