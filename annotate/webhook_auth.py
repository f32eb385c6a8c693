"""Webhook secrets scoped to one Label Studio project: what a reviewer can read in their own project's settings
signs calls about that project only.

Every member of an organization can read its webhooks, headers included. So the app never puts its own
secret into Label Studio: each project's webhook carries ``"<project id>.<HMAC-SHA256(secret, project id)>"``.
The endpoint learns from the header which project a call may speak about, and intake stores nothing a call
says about another project's tasks or annotations. Pure: no Django.
"""

from __future__ import annotations

import hashlib
import hmac

_MAX_ID = 2**63 - 1


def project_secret(*, secret: str, project_id: int) -> str:
    """The header value of the webhook of Label Studio project ``project_id``."""
    mac = hmac.new(secret.encode(), f"label-studio-project:{int(project_id)}".encode(), hashlib.sha256)
    return f"{int(project_id)}.{mac.hexdigest()}"


def secret_project(*, secret: str, given: str) -> int | None:
    """The Label Studio project a header value was issued for, or None when it is not one of ours."""
    head, dot, _ = given.partition(".")
    if not secret or not dot or not head.isascii() or not head.isdigit() or len(head) > 19:
        return None
    project_id = int(head)
    if project_id > _MAX_ID:
        return None
    expected = project_secret(secret=secret, project_id=project_id)
    return project_id if hmac.compare_digest(given.encode(), expected.encode()) else None
