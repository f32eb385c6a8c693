"""Runs inside Label Studio: a project, and through it every task, annotation, prediction and export (whose
permission checks all defer to their project's), is open only to active members of the project's organization.

Label Studio's own check refuses only a user whose membership was revoked: it assumes one organization.
"""

from projects.mixins import ProjectMixin


class BlindProjectMixin(ProjectMixin):
    def has_permission(self, user):  # type: ignore[no-untyped-def]
        user.project = self  # Label Studio's activity log reads it
        return bool(self.organization_id) and self.organization.has_permission(user)
