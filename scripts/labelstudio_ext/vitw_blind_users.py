"""Runs inside Label Studio: a user cannot switch their active organization themselves.

Every list Label Studio scopes by the active organization (projects, tasks, a task's annotations) stays the
user's own; its user API answers 405 to a request that tries.
"""

from users.serializers import BaseUserSerializerUpdate


class UserSerializerUpdate(BaseUserSerializerUpdate):
    class Meta(BaseUserSerializerUpdate.Meta):
        read_only_fields = ("email", "active_organization")
